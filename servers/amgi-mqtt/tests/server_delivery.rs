//! The server against the real broker (Mosquitto 2.0 on 127.0.0.1:1883): `message.send`,
//! redelivery then dead letters, and the persistent session across a restart.

mod support;

use amgi_core::BoxApplication;
use amgi_core::dead_letter::{DELIVERIES_HEADER, REASON_HEADER};
use amgi_mqtt::{MqttConfig, MqttErrorKind, Server};
use support::{Outside, Recorder, WAIT, config, next, require_broker, unique};

#[tokio::test(flavor = "multi_thread")]
async fn headers_and_payload_survive_a_message_send_round_trip() {
    let topic = unique("amgi/send");
    let mut outside = Outside::connect().await;
    outside.subscribe(&format!("{topic}/echo")).await;
    let (app, mut got) = Recorder::new();
    let handle = Server::new(BoxApplication::new(app), config(&[&topic]))
        .start()
        .await
        .unwrap();

    let headers = [("trace", "t-1"), ("tag", "a"), ("tag", "b"), ("x", "y")];
    outside.publish(&topic, &headers, "echo payload").await;
    let received = next(&mut got).await;
    assert_eq!(received.address, topic);
    let in_order: Vec<_> = received
        .headers
        .iter()
        .map(|(n, v)| (String::from_utf8_lossy(n), String::from_utf8_lossy(v)))
        .collect();
    assert_eq!(
        in_order,
        headers.map(|(n, v)| (n.into(), v.into())),
        "user properties arrive as headers, in order, repeats kept"
    );
    let echo = outside.next().await;
    assert_eq!(echo.topic, format!("{topic}/echo"));
    assert_eq!(&echo.payload[..], b"echo payload");
    assert_eq!(
        echo.headers,
        headers.map(|(n, v)| (n.to_owned(), v.to_owned()))
    );
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nacked_message_is_redelivered_then_dead_lettered_with_its_reason() {
    let topic = unique("amgi/nack");
    let mut outside = Outside::connect().await;
    outside.subscribe(&format!("{topic}.dlq")).await;
    let (app, mut got) = Recorder::new();
    let handle = Server::new(BoxApplication::new(app), config(&[&topic]))
        .start()
        .await
        .unwrap();

    outside.publish(&topic, &[("id", "7")], "nack me").await;
    outside.publish(&topic, &[], "after").await;
    // Three deliveries (max 3), then the next message of the topic, in order.
    let mut payloads = Vec::new();
    for _ in 0..4 {
        payloads.push(next(&mut got).await.payload);
    }
    assert_eq!(payloads, ["nack me", "nack me", "nack me", "after"]);
    let dead = outside.next().await;
    assert_eq!(dead.topic, format!("{topic}.dlq"));
    assert_eq!(&dead.payload[..], b"nack me");
    assert_eq!(dead.header("id"), Some("7"));
    assert_eq!(dead.header(REASON_HEADER), Some("cannot handle this"));
    assert_eq!(dead.header(DELIVERIES_HEADER), Some("3"));
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_published_while_stopped_is_delivered_when_the_server_is_back() {
    let topic = unique("amgi/session");
    let client_id = unique("amgi-session");
    let config = || {
        MqttConfig::new(support::HOST, support::PORT, &client_id)
            .topics([topic.as_str()])
            .session_expiry(std::time::Duration::from_mins(5))
    };
    let mut outside = Outside::connect().await;
    let (app, _got) = Recorder::new();
    let first = Server::new(BoxApplication::new(app), config())
        .start()
        .await
        .unwrap();
    tokio::time::timeout(WAIT, first.shutdown())
        .await
        .unwrap()
        .unwrap();

    outside.publish(&topic, &[], "while away").await;

    let (app, mut got) = Recorder::new();
    let second = Server::new(BoxApplication::new(app), config())
        .start()
        .await
        .unwrap();
    assert_eq!(next(&mut got).await.payload, "while away");
    tokio::time::timeout(WAIT, second.shutdown())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_that_is_down_is_unreachable_naming_host_and_port() {
    require_broker().await;
    let (app, _got) = Recorder::new();
    // Port 9 (discard) has no MQTT broker on loopback.
    let config = MqttConfig::new("127.0.0.1", 9, unique("amgi-down")).topics(["a"]);
    let error = tokio::time::timeout(WAIT, Server::new(BoxApplication::new(app), config).start())
        .await
        .expect("start did not fail within 10 s")
        .unwrap_err();
    assert_eq!(error.kind(), MqttErrorKind::Unreachable);
    assert!(error.to_string().contains("127.0.0.1:9"), "{error}");
}
