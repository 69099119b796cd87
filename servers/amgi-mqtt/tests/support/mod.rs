//! What the tests against the real broker share: a broker check, unique names, an outside
//! client, and a recording application.
#![allow(dead_code, unreachable_pub)]

pub mod private_broker;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use amgi_core::{
    Application, ApplicationError, Headers, MessageSend, NackRetry, ReceiveEvent, Receiver, Scope,
    SendEvent, SharedSender,
};
use amgi_mqtt::MqttConfig;
use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use tokio::sync::mpsc;

pub const HOST: &str = "127.0.0.1";
pub const PORT: u16 = 1883;
/// Every wait in these tests.
pub const WAIT: Duration = Duration::from_secs(10);

/// Fails (never skips) when no broker listens on 127.0.0.1:1883.
pub async fn require_broker() {
    let connect = tokio::net::TcpStream::connect((HOST, PORT));
    match tokio::time::timeout(Duration::from_secs(2), connect).await {
        Ok(Ok(_)) => {}
        _ => panic!(
            "no MQTT broker on {HOST}:{PORT}; start one with \
             `mosquitto -d -c /etc/mosquitto/mosquitto.conf`"
        ),
    }
}

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos}-{n}", std::process::id())
}

/// A server configuration for `topics` with a fresh client id and short retry delays.
pub fn config(topics: &[&str]) -> MqttConfig {
    config_on(PORT, &unique("amgi-test"), topics)
}

/// A server configuration for the broker on `port`, as `client_id`, with short retry delays.
pub fn config_on(port: u16, client_id: &str, topics: &[&str]) -> MqttConfig {
    MqttConfig::new(HOST, port, client_id)
        .topics(topics.iter().copied())
        .retry(
            amgi_server::RetryPolicy::new(3)
                .backoff(Duration::from_millis(50), Duration::from_millis(100)),
        )
        .session_expiry(Duration::from_mins(5))
}

/// A message as an outside client received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub topic: String,
    pub headers: Vec<(String, String)>,
    pub payload: Bytes,
    pub retain: bool,
    pub qos: QoS,
    pub properties: Option<PublishProperties>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A client outside the server: publishes with QoS 1 and records what its subscriptions get.
pub struct Outside {
    pub client: AsyncClient,
    received: mpsc::UnboundedReceiver<Seen>,
    acks: mpsc::UnboundedReceiver<()>,
}

impl Outside {
    pub async fn connect() -> Self {
        require_broker().await;
        Self::connect_to(PORT).await
    }

    /// Connects to the broker on `port` of 127.0.0.1.
    pub async fn connect_to(port: u16) -> Self {
        let mut options = MqttOptions::new(unique("outside"), HOST, port);
        options.set_clean_start(true);
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let (seen_tx, received) = mpsc::unbounded_channel();
        let (ack_tx, acks) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let headers = publish
                            .properties
                            .as_ref()
                            .map(|p| p.user_properties.clone())
                            .unwrap_or_default();
                        let _ = seen_tx.send(Seen {
                            topic: String::from_utf8_lossy(&publish.topic).into_owned(),
                            headers,
                            payload: publish.payload,
                            retain: publish.retain,
                            qos: publish.qos,
                            properties: publish.properties,
                        });
                    }
                    Ok(Event::Incoming(
                        Packet::ConnAck(_)
                        | Packet::PubAck(_)
                        | Packet::SubAck(_)
                        | Packet::PubComp(_),
                    )) => {
                        let _ = ack_tx.send(());
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        let mut outside = Self {
            client,
            received,
            acks,
        };
        outside.acked().await; // CONNACK
        outside
    }

    async fn acked(&mut self) {
        tokio::time::timeout(WAIT, self.acks.recv())
            .await
            .expect("no CONNACK/PUBACK/SUBACK from the broker within 10 s")
            .expect("outside client closed");
    }

    pub async fn subscribe(&mut self, filter: &str) {
        self.client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .unwrap();
        self.acked().await;
    }

    pub async fn publish(&mut self, topic: &str, headers: &[(&str, &str)], payload: &str) {
        self.publish_with(topic, QoS::AtLeastOnce, headers, payload)
            .await;
    }

    /// Publishes with `qos`, waiting for the broker's `PUBACK` / `PUBCOMP` (not for QoS 0).
    pub async fn publish_with(
        &mut self,
        topic: &str,
        qos: QoS,
        headers: &[(&str, &str)],
        payload: &str,
    ) {
        let properties = PublishProperties {
            user_properties: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            ..PublishProperties::default()
        };
        self.client
            .publish_with_properties(topic, qos, false, payload.to_owned(), properties)
            .await
            .unwrap();
        if qos != QoS::AtMostOnce {
            self.acked().await;
        }
    }

    pub async fn next(&mut self) -> Seen {
        tokio::time::timeout(WAIT, self.received.recv())
            .await
            .expect("nothing received within 10 s")
            .expect("outside client closed")
    }
}

/// A message as the application got it.
#[derive(Debug, Clone)]
pub struct Got {
    pub address: String,
    pub headers: Headers,
    pub payload: String,
}

/// Records every message; nacks payloads starting with `nack` (retry by policy); never answers
/// payloads starting with `stall`; for payloads starting with `echo`, sends the message on to
/// `<address>/echo` first.
pub struct Recorder {
    pub got: mpsc::UnboundedSender<Got>,
    stalls: bool,
}

impl Recorder {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Got>) {
        let (got, received) = mpsc::unbounded_channel();
        (Self { got, stalls: true }, received)
    }

    /// A recorder that acks `stall` payloads like any other.
    pub fn never_stalling() -> (Self, mpsc::UnboundedReceiver<Got>) {
        let (got, received) = mpsc::unbounded_channel();
        (Self { got, stalls: false }, received)
    }
}

impl Application for Recorder {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        let scope = match scope {
            Scope::Message(scope) => scope,
            Scope::Lifespan(_) => loop {
                match receive.receive().await? {
                    ReceiveEvent::LifespanStartup => {
                        send.send(SendEvent::LifespanStartupComplete).await?;
                    }
                    ReceiveEvent::LifespanShutdown => {
                        send.send(SendEvent::LifespanShutdownComplete).await?;
                        return Ok(());
                    }
                    _ => {}
                }
            },
            other => return Err(ApplicationError::unsupported_scope(other.kind())),
        };
        loop {
            let ReceiveEvent::Message(message) = receive.receive().await? else {
                return Ok(());
            };
            let payload =
                String::from_utf8_lossy(&message.payload.clone().unwrap_or_default()).into_owned();
            let _ = self.got.send(Got {
                address: scope.address.to_string(),
                headers: message.headers.clone(),
                payload: payload.clone(),
            });
            if self.stalls && payload.starts_with("stall") {
                std::future::pending::<()>().await;
            }
            if payload.starts_with("nack") {
                send.send(SendEvent::nack_with(
                    message.id,
                    "cannot handle this",
                    NackRetry::Policy,
                ))
                .await?;
                return Ok(());
            }
            if payload.starts_with("echo") {
                let mut echo = MessageSend::new(format!("{}/echo", scope.address))
                    .headers(message.headers.clone());
                echo.payload = message.payload.clone();
                send.send(SendEvent::Send(echo)).await?;
            }
            send.send(SendEvent::ack(message.id)).await?;
            if !message.more_messages {
                return Ok(());
            }
        }
    }
}

/// The next message the application got, within 10 s.
pub async fn next(got: &mut mpsc::UnboundedReceiver<Got>) -> Got {
    tokio::time::timeout(WAIT, got.recv())
        .await
        .expect("the application got nothing within 10 s")
        .expect("application gone")
}
