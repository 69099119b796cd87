//! `message.send` with an `MqttBinding`: the QoS, the retain flag and the MQTT 5 properties
//! (content type, response topic, correlation data, message expiry) reach the broker, and
//! headers (repeats and a value that is not UTF-8 included) travel as documented. (Reading the
//! properties back into a consumed message's binding is the conformance suite's round trip.)

mod support;

use amgi_core::{
    Application, ApplicationError, Binding, BoxApplication, Headers, MessageSend, MqttBinding,
    ReceiveEvent, Receiver, Scope, SendEvent, SharedSender,
};
use amgi_mqtt::{BINARY_VALUES_PROPERTY, Server};
use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS;
use support::{Outside, WAIT, config, unique};
use tokio::sync::mpsc;

/// Sends every message on to `<address>/out` with [`binding`] and [`headers`], then acks it
/// and reports the binding the message arrived with.
struct Forward(mpsc::UnboundedSender<Option<Binding>>);

fn binding() -> MqttBinding {
    MqttBinding::new(2, true)
        .content_type("application/json")
        .response_topic("replies/42")
        .correlation_data(Bytes::from_static(b"\x00\xffreq-42"))
        .message_expiry_interval(120)
}

fn headers() -> Headers {
    Headers::new()
        .with("tag", "a")
        .with("raw", Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef]))
        .with("tag", "b")
}

impl Application for Forward {
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
            let out = MessageSend::new(format!("{}/out", scope.address))
                .headers(headers())
                .payload("forwarded")
                .binding(binding());
            send.send(SendEvent::Send(out)).await?;
            send.send(SendEvent::ack(message.id)).await?;
            let _ = self.0.send(message.binding.clone());
            if !message.more_messages {
                break;
            }
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn binding_properties_retain_and_headers_survive_a_send() {
    let topic = unique("amgi/properties");
    let out = format!("{topic}/out");
    let (arrived_tx, mut arrived) = mpsc::unbounded_channel();
    let handle = Server::new(BoxApplication::new(Forward(arrived_tx)), config(&[&topic]))
        .start()
        .await
        .unwrap();
    let mut outside = Outside::connect().await;
    outside.publish(&topic, &[], "go").await;
    let first = tokio::time::timeout(WAIT, arrived.recv())
        .await
        .expect("the trigger was not handled within 10 s")
        .unwrap();
    let Some(Binding::Mqtt(inbound)) = first else {
        panic!("an incoming message carries an MQTT binding: {first:?}");
    };
    assert_eq!(inbound.topic.as_deref(), Some(topic.as_str()));
    assert_eq!((inbound.qos, inbound.retain), (1, false));

    // The send completed before the ack: the broker holds the retained message now, and a
    // subscriber that comes later gets it, retain flag set.
    let mut late = Outside::connect().await;
    late.subscribe(&out).await;
    let seen = late.next().await;
    assert_eq!(seen.topic, out);
    assert!(seen.retain, "retained");
    assert_eq!(&seen.payload[..], b"forwarded");
    let properties = seen.properties.clone().unwrap();
    assert_eq!(properties.content_type.as_deref(), Some("application/json"));
    assert_eq!(properties.response_topic.as_deref(), Some("replies/42"));
    assert_eq!(
        properties.correlation_data.as_deref(),
        Some(&b"\x00\xffreq-42"[..])
    );
    let expiry = properties.message_expiry_interval.unwrap();
    assert!(expiry > 0 && expiry <= 120, "{expiry}");
    assert_eq!(
        seen.headers,
        [
            ("tag", "a"),
            ("raw", "3q2+7w=="),
            ("tag", "b"),
            (BINARY_VALUES_PROPERTY, "1")
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
    );
    assert_eq!(seen.qos, QoS::AtLeastOnce, "the subscription's QoS caps it");

    // Remove the retained message.
    late.client
        .publish(out.as_str(), QoS::AtLeastOnce, true, Bytes::new())
        .await
        .unwrap();
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
}
