//! The client in either protocol version — rumqttc's MQTT 5 client (`rumqttc::v5`) or its
//! MQTT 3.1.1 client — behind one small interface, so that the rest of the server is written
//! once: [`open`] connects, [`EventLoop::poll`] reports [`Happening`]s, [`Client`] acks,
//! publishes and subscribes.

use std::time::Duration;

use amgi_core::{Headers, MqttBinding};
use bytes::Bytes;
use rumqttc::Outgoing;
use rumqttc::v5::mqttbytes::v5::{
    self as p5, PubAckReason, PubCompReason, PubRecReason, PublishProperties,
    SubscribeReasonCode as Code5,
};

use crate::{MqttConfig, MqttError, Protocol, Qos};

/// An error of the connection, as rumqttc reported it.
pub(crate) type ConnectionError = Box<dyn std::error::Error + Send + Sync>;

/// Handle to the connection: acks, publishes, subscribes, disconnects.
#[derive(Clone, Debug)]
pub(crate) enum Client {
    V5(rumqttc::v5::AsyncClient),
    V311(rumqttc::AsyncClient),
}

/// The event loop of the connection, driven by one task.
pub(crate) enum EventLoop {
    V5(Box<rumqttc::v5::EventLoop>),
    V311(Box<rumqttc::EventLoop>),
}

/// What to `PUBACK` (or `PUBREC`) once a message is finished.
#[derive(Debug)]
pub(crate) enum Delivery {
    V5(p5::Publish),
    V311(rumqttc::Publish),
}

/// A `PUBLISH` the broker sent, whatever the protocol version.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) topic: String,
    pub(crate) payload: Bytes,
    pub(crate) headers: Headers,
    pub(crate) binding: MqttBinding,
    pub(crate) delivery: Delivery,
}

/// What the event loop reports, whatever the protocol version.
#[derive(Debug)]
pub(crate) enum Happening {
    /// A message arrived.
    Publish(Box<Incoming>),
    /// The broker acked (QoS 1) the publish `pkid`, or refused it.
    PubAck(u16, Result<(), String>),
    /// The broker received (QoS 2) the publish `pkid`, or refused it.
    PubRec(u16, Result<(), String>),
    /// The broker completed (QoS 2) the publish `pkid`, or refused it.
    PubComp(u16, Result<(), String>),
    /// The broker answered a subscription: per filter, `Err` with the reason if refused.
    SubAck(Vec<Result<(), String>>),
    /// The connection is (re)established.
    ConnAck { session_present: bool },
    /// The broker closed the connection, saying why (MQTT 5).
    Disconnect(String),
    /// The event loop sent a publish with this packet id (0 for QoS 0).
    Sent(u16),
    /// The event loop holds the next publish back until this packet id is acked.
    Collided(u16),
    /// The connection was closed on purpose.
    Closed,
    /// Anything else.
    Other,
}

/// The client and its event loop for `config`: TLS, credentials, a persistent session (MQTT 5:
/// clean start off and a session expiry; 3.1.1: clean session off), manual acks. Nothing is
/// connected yet: the first [`EventLoop::poll`] connects.
pub(crate) fn open(config: &MqttConfig, capacity: usize) -> Result<(Client, EventLoop), MqttError> {
    let transport = match &config.tls {
        Some(tls) => Some(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(tls.client_config()?),
        )),
        None => None,
    };
    let keep_alive = Duration::from_secs(30);
    match config.protocol {
        Protocol::V5 => {
            let mut options =
                rumqttc::v5::MqttOptions::new(config.client_id.clone(), &config.host, config.port);
            options
                .set_clean_start(false)
                .set_session_expiry_interval(Some(
                    u32::try_from(config.session_expiry.as_secs()).unwrap_or(u32::MAX),
                ))
                .set_manual_acks(true)
                .set_keep_alive(keep_alive)
                .set_connection_timeout(config.connect_timeout.as_secs());
            if let Some(credentials) = &config.credentials {
                options.set_credentials(credentials.username(), credentials.password());
            }
            if let Some(transport) = transport {
                options.set_transport(transport);
            }
            let (client, eventloop) = rumqttc::v5::AsyncClient::new(options, capacity);
            Ok((Client::V5(client), EventLoop::V5(Box::new(eventloop))))
        }
        Protocol::V311 => {
            let mut options =
                rumqttc::MqttOptions::new(config.client_id.clone(), &config.host, config.port);
            options
                .set_clean_session(false)
                .set_manual_acks(true)
                .set_keep_alive(keep_alive);
            if let Some(credentials) = &config.credentials {
                options.set_credentials(credentials.username(), credentials.password());
            }
            if let Some(transport) = transport {
                options.set_transport(transport);
            }
            let (client, eventloop) = rumqttc::AsyncClient::new(options, capacity);
            Ok((Client::V311(client), EventLoop::V311(Box::new(eventloop))))
        }
    }
}

fn qos5(qos: Qos) -> rumqttc::v5::mqttbytes::QoS {
    crate::binding::qos_level(qos.number())
}

fn qos311(qos: Qos) -> rumqttc::QoS {
    match qos {
        Qos::AtMostOnce => rumqttc::QoS::AtMostOnce,
        Qos::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
        Qos::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
    }
}

impl Client {
    /// The protocol version spoken.
    pub(crate) fn protocol(&self) -> Protocol {
        match self {
            Self::V5(_) => Protocol::V5,
            Self::V311(_) => Protocol::V311,
        }
    }

    /// `PUBACK`s (QoS 1) or `PUBREC`s (QoS 2) `delivery`; nothing for QoS 0.
    pub(crate) async fn ack(&self, delivery: &Delivery) -> Result<(), ConnectionError> {
        match (self, delivery) {
            (Self::V5(client), Delivery::V5(publish)) => Ok(client.ack(publish).await?),
            (Self::V311(client), Delivery::V311(publish)) => Ok(client.ack(publish).await?),
            _ => Err("a delivery of the other protocol version".into()),
        }
    }

    /// Queues a publish for the event loop. MQTT 3.1.1 has no properties: `properties` are
    /// ignored there (the caller refuses user properties before).
    pub(crate) async fn publish(
        &self,
        topic: &str,
        qos: Qos,
        retain: bool,
        payload: Bytes,
        properties: PublishProperties,
    ) -> Result<(), ConnectionError> {
        match self {
            Self::V5(client) => Ok(client
                .publish_with_properties(topic, qos5(qos), retain, payload, properties)
                .await?),
            Self::V311(client) => Ok(client.publish(topic, qos311(qos), retain, payload).await?),
        }
    }

    /// Subscribes to `filters` with `qos`, waiting for room in the request queue.
    pub(crate) async fn subscribe(
        &self,
        filters: &[String],
        qos: Qos,
    ) -> Result<(), ConnectionError> {
        match self {
            Self::V5(client) => Ok(client.subscribe_many(filters5(filters, qos)).await?),
            Self::V311(client) => Ok(client.subscribe_many(filters311(filters, qos)).await?),
        }
    }

    /// Subscribes to `filters` with `qos` without waiting (from the event loop's own task).
    pub(crate) fn try_subscribe(
        &self,
        filters: &[String],
        qos: Qos,
    ) -> Result<(), ConnectionError> {
        match self {
            Self::V5(client) => Ok(client.try_subscribe_many(filters5(filters, qos))?),
            Self::V311(client) => Ok(client.try_subscribe_many(filters311(filters, qos))?),
        }
    }

    /// Sends `DISCONNECT`: the session stays on the broker.
    pub(crate) async fn disconnect(&self) -> Result<(), ConnectionError> {
        match self {
            Self::V5(client) => Ok(client.disconnect().await?),
            Self::V311(client) => Ok(client.disconnect().await?),
        }
    }
}

fn filters5(filters: &[String], qos: Qos) -> Vec<p5::Filter> {
    filters
        .iter()
        .map(|filter| p5::Filter::new(filter.clone(), qos5(qos)))
        .collect()
}

fn filters311(filters: &[String], qos: Qos) -> Vec<rumqttc::SubscribeFilter> {
    filters
        .iter()
        .map(|filter| rumqttc::SubscribeFilter::new(filter.clone(), qos311(qos)))
        .collect()
}

impl EventLoop {
    /// The next happening; connects (again) first when needed.
    pub(crate) async fn poll(&mut self) -> Result<Happening, ConnectionError> {
        match self {
            Self::V5(eventloop) => Ok(happening5(eventloop.poll().await?)),
            Self::V311(eventloop) => Ok(happening311(eventloop.poll().await?)),
        }
    }

    /// A happening the event loop already read from the network, without waiting.
    pub(crate) fn buffered(&mut self) -> Option<Happening> {
        match self {
            Self::V5(eventloop) => eventloop.state.events.pop_front().map(happening5),
            Self::V311(eventloop) => eventloop.state.events.pop_front().map(happening311),
        }
    }
}

fn outgoing(outgoing: &Outgoing) -> Happening {
    match *outgoing {
        Outgoing::Publish(pkid) => Happening::Sent(pkid),
        Outgoing::AwaitAck(pkid) => Happening::Collided(pkid),
        Outgoing::Disconnect => Happening::Closed,
        _ => Happening::Other,
    }
}

fn happening5(event: rumqttc::v5::Event) -> Happening {
    use rumqttc::v5::Event;
    use rumqttc::v5::mqttbytes::v5::Packet;
    match event {
        Event::Incoming(Packet::Publish(publish)) => {
            let p5::Publish {
                qos,
                retain,
                topic,
                pkid,
                payload,
                mut properties,
                ..
            } = publish;
            let topic = String::from_utf8(topic.to_vec())
                .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned());
            let binding = crate::binding::inbound(qos, retain, &topic, properties.as_mut());
            let headers = properties
                .map(|properties| crate::headers::headers(properties.user_properties))
                .unwrap_or_default();
            // What `ack` reads of a publish: its QoS and packet id.
            let delivery = Delivery::V5(p5::Publish {
                qos,
                pkid,
                ..p5::Publish::default()
            });
            Happening::Publish(Box::new(Incoming {
                topic,
                payload,
                headers,
                binding,
                delivery,
            }))
        }
        Event::Incoming(Packet::PubAck(ack)) => Happening::PubAck(
            ack.pkid,
            match ack.reason {
                PubAckReason::Success | PubAckReason::NoMatchingSubscribers => Ok(()),
                reason => Err(format!("{reason:?}")),
            },
        ),
        Event::Incoming(Packet::PubRec(rec)) => Happening::PubRec(
            rec.pkid,
            match rec.reason {
                PubRecReason::Success | PubRecReason::NoMatchingSubscribers => Ok(()),
                reason => Err(format!("{reason:?}")),
            },
        ),
        Event::Incoming(Packet::PubComp(comp)) => Happening::PubComp(
            comp.pkid,
            match comp.reason {
                PubCompReason::Success => Ok(()),
                reason @ PubCompReason::PacketIdentifierNotFound => Err(format!("{reason:?}")),
            },
        ),
        Event::Incoming(Packet::SubAck(suback)) => Happening::SubAck(
            suback
                .return_codes
                .iter()
                .map(|code| match code {
                    Code5::Success(_) => Ok(()),
                    refused => Err(format!("{refused:?}")),
                })
                .collect(),
        ),
        Event::Incoming(Packet::ConnAck(connack)) => Happening::ConnAck {
            session_present: connack.session_present,
        },
        Event::Incoming(Packet::Disconnect(disconnect)) => {
            Happening::Disconnect(format!("{:?}", disconnect.reason_code))
        }
        Event::Outgoing(sent) => outgoing(&sent),
        Event::Incoming(_) => Happening::Other,
    }
}

fn happening311(event: rumqttc::Event) -> Happening {
    use rumqttc::{Event, Packet, SubscribeReasonCode};
    match event {
        Event::Incoming(Packet::Publish(publish)) => {
            let qos = match publish.qos {
                rumqttc::QoS::AtMostOnce => 0,
                rumqttc::QoS::AtLeastOnce => 1,
                rumqttc::QoS::ExactlyOnce => 2,
            };
            let topic = publish.topic.clone();
            Happening::Publish(Box::new(Incoming {
                binding: MqttBinding::new(qos, publish.retain).topic(topic.as_str()),
                payload: publish.payload.clone(),
                topic,
                headers: Headers::new(),
                delivery: Delivery::V311(publish),
            }))
        }
        Event::Incoming(Packet::PubAck(ack)) => Happening::PubAck(ack.pkid, Ok(())),
        Event::Incoming(Packet::PubRec(rec)) => Happening::PubRec(rec.pkid, Ok(())),
        Event::Incoming(Packet::PubComp(comp)) => Happening::PubComp(comp.pkid, Ok(())),
        Event::Incoming(Packet::SubAck(suback)) => Happening::SubAck(
            suback
                .return_codes
                .iter()
                .map(|code| match code {
                    SubscribeReasonCode::Success(_) => Ok(()),
                    SubscribeReasonCode::Failure => Err("Failure".to_owned()),
                })
                .collect(),
        ),
        Event::Incoming(Packet::ConnAck(connack)) => Happening::ConnAck {
            session_present: connack.session_present,
        },
        Event::Outgoing(sent) => outgoing(&sent),
        Event::Incoming(_) => Happening::Other,
    }
}
