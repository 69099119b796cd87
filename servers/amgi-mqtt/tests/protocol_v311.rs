//! `--protocol 3.1.1`: the server consumes and publishes over MQTT 3.1.1 (rumqttc's non-v5
//! client). There are no user properties: incoming messages have no headers, a `message.send`
//! with headers fails saying so (without headers it is published), and dead letters go without
//! the reason headers.

mod support;

use amgi_core::{
    Application, ApplicationError, BoxApplication, Headers, MessageSend, NackRetry, ReceiveEvent,
    Receiver, Scope, SendEvent, SharedSender,
};
use amgi_mqtt::{Protocol, Server};
use support::{Outside, WAIT, config, unique};
use tokio::sync::mpsc;

/// For each message: sends it on to `<address>/plain` without headers, then tries with a header
/// and reports that send's error; nacks (no retry) payloads starting with `nack`, acks the rest.
struct App(mpsc::UnboundedSender<(usize, String)>);

impl Application for App {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        let Scope::Message(scope) = scope else {
            return Ok(());
        };
        while let ReceiveEvent::Message(message) = receive.receive().await? {
            let payload = message.payload.clone().unwrap_or_default();
            if payload.starts_with(b"nack") {
                let nack = SendEvent::nack_with(message.id, "refused", NackRetry::Never);
                send.send(nack).await?;
            } else {
                let plain =
                    MessageSend::new(format!("{}/plain", scope.address)).payload(payload.clone());
                send.send(SendEvent::Send(plain)).await?;
                let with_headers = MessageSend::new(format!("{}/plain", scope.address))
                    .headers(Headers::new().with("h", "v"))
                    .payload(payload);
                let refused = send.send(SendEvent::Send(with_headers)).await;
                let error = refused.map_or_else(|error| error.to_string(), |()| String::new());
                let _ = self.0.send((message.headers.len(), error));
                send.send(SendEvent::ack(message.id)).await?;
            }
            if !message.more_messages {
                break;
            }
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_speaks_mqtt_3_1_1_without_headers() {
    let topic = unique("amgi/v311");
    let mut outside = Outside::connect().await;
    outside.subscribe(&format!("{topic}/plain")).await;
    outside.subscribe(&format!("{topic}.dlq")).await;
    let (reports_tx, mut reports) = mpsc::unbounded_channel();
    let handle = Server::new(
        BoxApplication::new(App(reports_tx)),
        config(&[&topic]).protocol(Protocol::V311),
    )
    .start()
    .await
    .unwrap();

    outside.publish(&topic, &[("dropped", "1")], "hello").await;
    let (headers, error) = tokio::time::timeout(WAIT, reports.recv())
        .await
        .expect("not handled within 10 s")
        .unwrap();
    assert_eq!(headers, 0, "MQTT 3.1.1 delivers no user properties");
    assert!(
        error.contains("MQTT 3.1.1 has no user properties"),
        "{error}"
    );
    let plain = outside.next().await;
    assert_eq!(plain.topic, format!("{topic}/plain"));
    assert_eq!(&plain.payload[..], b"hello");
    assert!(plain.headers.is_empty());

    outside.publish(&topic, &[], "nack me").await;
    let dead = outside.next().await;
    assert_eq!(dead.topic, format!("{topic}.dlq"));
    assert_eq!(&dead.payload[..], b"nack me");
    assert!(dead.headers.is_empty(), "{:?}", dead.headers);
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
}
