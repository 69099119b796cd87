//! Request/reply on MQTT: an AsyncFast service answers `Reply<T>` to requests made with
//! `Publisher::request` (through the requester's reply topic and its `correlation-id` user
//! property), and to a plain MQTT 5 client's request carrying a response topic and correlation
//! data — the reply goes to that topic with the same correlation data.

mod support;

use amgi_mqtt::Server;
use asyncfast::prelude::*;
use asyncfast::{Reply, RequestError};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use serde::{Deserialize, Serialize};
use support::{Outside, WAIT, config, unique};

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
struct Multiply {
    x: i64,
    y: i64,
}

#[channel("rrq/{run}")]
async fn multiply(args: Payload<Multiply>, run: Param<String>) -> Result<Reply<i64>, String> {
    std::hint::black_box(run);
    args.x
        .checked_mul(args.y)
        .map(Reply)
        .ok_or_else(|| "overflow".to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn publisher_requests_get_typed_replies() {
    support::require_broker().await;
    let topic = format!("rrq/{}", unique("run"));
    let app = AsyncFast::empty().channel(handler!(multiply)).replies();
    let replies = app.reply_address().unwrap().to_owned();
    let publisher = app.publisher();
    let handle = Server::new(app, config(&[&topic, &replies]))
        .start()
        .await
        .unwrap();

    let product: i64 = publisher
        .request(topic.as_str(), &Multiply { x: 6, y: 7 })
        .timeout(WAIT)
        .await
        .unwrap();
    assert_eq!(product, 42);
    let error = publisher
        .request::<i64>(topic.as_str(), &Multiply { x: i64::MAX, y: 2 })
        .timeout(WAIT)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RequestError::Remote { reason, .. } if reason == "overflow"),
        "{error:?}"
    );
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_mqtt5_request_is_answered_on_its_response_topic() {
    let topic = format!("rrq/{}", unique("run"));
    let response_topic = format!("{topic}/responses");
    let app = AsyncFast::empty().channel(handler!(multiply));
    let handle = Server::new(app, config(&[&topic])).start().await.unwrap();

    let mut requester = Outside::connect().await;
    requester.subscribe(&response_topic).await;
    let properties = PublishProperties {
        response_topic: Some(response_topic.clone()),
        correlation_data: Some(bytes::Bytes::from_static(b"\x00req-1")),
        ..PublishProperties::default()
    };
    requester
        .client
        .publish_with_properties(
            topic.as_str(),
            QoS::AtLeastOnce,
            false,
            r#"{"x":6,"y":7}"#,
            properties,
        )
        .await
        .unwrap();
    let reply = requester.next().await;
    assert_eq!(reply.topic, response_topic);
    assert_eq!(&reply.payload[..], b"42");
    let correlation = reply
        .properties
        .as_ref()
        .and_then(|p| p.correlation_data.clone());
    assert_eq!(correlation.as_deref(), Some(&b"\x00req-1"[..]));
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
}
