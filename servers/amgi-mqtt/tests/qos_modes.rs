//! `--qos 0` and `--qos 2`: the server subscribes with that QoS, consumes, and publishes a
//! `message.send` without a binding with it (QoS 2 completes on `PUBCOMP`).

mod support;

use amgi_core::BoxApplication;
use amgi_mqtt::{Qos, Server};
use rumqttc::v5::mqttbytes::QoS;
use support::{Outside, Recorder, WAIT, config, next, unique};

async fn consumes_and_sends_with(qos: Qos, level: QoS) {
    let topic = unique("amgi/qos");
    let mut outside = Outside::connect().await;
    outside.subscribe(&format!("{topic}/echo")).await;
    let (app, mut got) = Recorder::new();
    let handle = Server::new(BoxApplication::new(app), config(&[&topic]).qos(qos))
        .start()
        .await
        .unwrap();
    outside
        .publish_with(&topic, level, &[("h", "v")], "echo 1")
        .await;
    let received = next(&mut got).await;
    assert_eq!(received.payload, "echo 1");
    let echo = outside.next().await;
    assert_eq!(&echo.payload[..], b"echo 1");
    assert_eq!(echo.header("h"), Some("v"));
    // The outside subscription is QoS 1: a QoS 2 send arrives with 1, a QoS 0 send with 0.
    let expected = if level == QoS::AtMostOnce {
        QoS::AtMostOnce
    } else {
        QoS::AtLeastOnce
    };
    assert_eq!(echo.qos, expected);
    // The topic runs in order: the next message is handled only once the send completed
    // (for QoS 2, on the broker's PUBCOMP) and the first message was acked.
    outside.publish_with(&topic, level, &[], "after").await;
    assert_eq!(next(&mut got).await.payload, "after");
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn qos_0_consumes_and_sends() {
    consumes_and_sends_with(Qos::AtMostOnce, QoS::AtMostOnce).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn qos_2_consumes_and_sends() {
    consumes_and_sends_with(Qos::ExactlyOnce, QoS::ExactlyOnce).await;
}
