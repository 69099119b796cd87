//! Return values → ack, publish or nack; panics; plain (blocking) handlers.

use asyncfast::amgi::{KafkaBinding, MessageSend};
use asyncfast::prelude::*;
use asyncfast::testing::TestClient;
use asyncfast::{NackKind, Outcome};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;

#[derive(Serialize, JsonSchema)]
struct Receipt {
    total: u64,
}

#[derive(Message)]
#[message(address = "order.{id}.processed")]
struct OrderProcessed {
    id: u64,
    #[payload]
    receipt: Receipt,
    #[header(alias = "correlation-id")]
    correlation: String,
    #[header]
    retry_count: Option<u32>,
    #[binding(kafka_key)]
    key: String,
}

fn processed(id: u64) -> OrderProcessed {
    OrderProcessed {
        id,
        receipt: Receipt { total: id * 10 },
        correlation: format!("c-{id}"),
        retry_count: None,
        key: format!("order-{id}"),
    }
}

#[channel("unit")]
async fn returns_unit() {}

#[channel("one.{id}")]
async fn returns_message(id: Param<u64>) -> OrderProcessed {
    processed(*id)
}

#[channel("maybe.{id}")]
async fn returns_option(id: Param<u64>) -> Option<OrderProcessed> {
    (*id > 0).then(|| processed(*id))
}

#[channel("many")]
async fn returns_vec() -> Vec<OrderProcessed> {
    vec![processed(1), processed(2)]
}

#[channel("result.{id}")]
async fn returns_result(id: Param<u64>) -> Result<OrderProcessed, std::io::Error> {
    if *id == 0 {
        return Err(std::io::Error::other("order 0 does not exist"));
    }
    Ok(processed(*id))
}

#[channel("raw")]
async fn returns_raw() -> MessageSend {
    MessageSend::new("raw.out").payload("x")
}

#[channel("outcome")]
async fn returns_outcome() -> Outcome {
    Outcome::nack(NackKind::HandlerError, "told to nack")
}

#[channel("panics")]
async fn panics() {
    panic!("boom");
}

#[channel("blocking")]
fn blocking(value: Payload<u64>) -> Result<(), String> {
    std::thread::sleep(std::time::Duration::from_millis(1));
    if *value == 1 {
        Ok(())
    } else {
        Err(format!("bad value {}", *value))
    }
}

#[channel("blocking.panics")]
fn blocking_panics() {
    panic!("blocking boom");
}

async fn client() -> TestClient {
    TestClient::new(
        AsyncFast::empty()
            .channel(handler!(returns_unit))
            .channel(handler!(returns_message))
            .channel(handler!(returns_option))
            .channel(handler!(returns_vec))
            .channel(handler!(returns_result))
            .channel(handler!(returns_raw))
            .channel(handler!(returns_outcome))
            .channel(handler!(panics))
            .channel(handler!(blocking))
            .channel(handler!(blocking_panics)),
    )
    .await
}

#[tokio::test]
async fn unit_acks() {
    client()
        .await
        .publish("unit")
        .await
        .assert_acked()
        .assert_nothing_sent();
}

#[tokio::test]
async fn a_returned_message_is_sent_then_acked() {
    let client = TestClient::new(AsyncFast::empty().channel(handler!(returns_option))).await;
    let outcome = client.publish("maybe.7").await;
    outcome.assert_acked();
    let sent = outcome.assert_sent_json("order.7.processed", &json!({"total": 70}));
    assert_eq!(sent.headers.get(b"correlation-id").unwrap(), "c-7");
    assert!(
        !sent.headers.contains(b"retry-count"),
        "None headers are left out"
    );
    assert_eq!(
        sent.bindings.kafka().and_then(|k| k.key.as_deref()),
        Some(&b"order-7"[..])
    );
    client
        .publish("maybe.0")
        .await
        .assert_acked()
        .assert_nothing_sent();
}

#[tokio::test]
async fn vec_result_raw_and_outcome() {
    let client = client().await;
    client
        .publish("one.5")
        .await
        .assert_acked()
        .assert_sent("order.5.processed");
    let outcome = client.publish("many").await;
    outcome.assert_acked();
    let addresses: Vec<&str> = outcome.sent().iter().map(|m| &*m.address).collect();
    assert_eq!(addresses, ["order.1.processed", "order.2.processed"]);
    client
        .publish("result.3")
        .await
        .assert_acked()
        .assert_sent("order.3.processed");
    let outcome = client.publish("result.0").await;
    assert_eq!(outcome.assert_nacked(), "order 0 does not exist");
    outcome.assert_nothing_sent();
    client
        .publish("raw")
        .await
        .assert_acked()
        .assert_sent("raw.out");
    assert_eq!(
        client.publish("outcome").await.assert_nacked(),
        "told to nack"
    );
}

#[tokio::test]
async fn a_panic_nacks_and_the_app_keeps_going() {
    let client = client().await;
    assert_eq!(
        client.publish("panics").await.assert_nacked(),
        "handler panicked: boom"
    );
    client.publish("unit").await.assert_acked();
}

#[tokio::test]
async fn plain_functions_run_on_the_blocking_pool() {
    let client = client().await;
    client.publish("blocking").json(&1).await.assert_acked();
    assert_eq!(
        client.publish("blocking").json(&2).await.assert_nacked(),
        "bad value 2"
    );
    assert_eq!(
        client.publish("blocking.panics").await.assert_nacked(),
        "handler panicked: blocking boom"
    );
}

#[tokio::test]
async fn failing_publish_of_a_returned_message_nacks() {
    let client = client().await;
    client.fail_publishes_to("order.4.processed");
    let outcome = client.publish("result.4").await;
    assert_eq!(
        outcome.assert_nacked(),
        "publishing to `order.4.processed` failed: publish failed: to `order.4.processed`: the \
         test broker refused it"
    );
}

#[test]
fn derived_messages_encode_raw_payloads_and_bindings() {
    #[derive(Message)]
    #[message(address = "audit/{tenant}")]
    struct Audit {
        tenant: String,
        #[payload]
        body: bytes::Bytes,
        #[binding(kafka_partition)]
        partition: i32,
        #[binding(kafka_key)]
        key: &'static str,
    }
    let send = Audit {
        tenant: "acme".into(),
        body: bytes::Bytes::from_static(b"\x01raw"),
        partition: 2,
        key: "k",
    }
    .into_message_send()
    .unwrap();
    assert_eq!(&*send.address, "audit/acme");
    assert_eq!(send.payload.as_deref(), Some(&b"\x01raw"[..]));
    let expected = KafkaBinding::with_key("k").partition(2);
    assert_eq!(send.bindings.kafka(), Some(&expected));
}

#[test]
fn derived_messages_carry_mqtt_properties_and_redis_maxlen() {
    #[derive(Message)]
    #[message(address = "prices.request")]
    struct PriceRequest {
        #[payload]
        sku: String,
        #[binding(mqtt_qos)]
        qos: u8,
        #[binding(mqtt_retain)]
        retain: bool,
        #[binding(mqtt_content_type)]
        content_type: &'static str,
        #[binding(mqtt_response_topic)]
        reply_to: String,
        #[binding(mqtt_correlation_data)]
        correlation: Vec<u8>,
        #[binding(mqtt_message_expiry)]
        expiry: u32,
        #[binding(redis_maxlen)]
        maxlen: u64,
    }
    let send = PriceRequest {
        sku: "sku-1".into(),
        qos: 2,
        retain: true,
        content_type: "text/plain",
        reply_to: "prices/replies/1".into(),
        correlation: vec![0, 255],
        expiry: 60,
        maxlen: 1000,
    }
    .into_message_send()
    .unwrap();
    let expected = asyncfast::amgi::MqttBinding::new(2, true)
        .content_type("text/plain")
        .response_topic("prices/replies/1")
        .correlation_data(vec![0u8, 255])
        .message_expiry_interval(60);
    assert_eq!(send.bindings.mqtt(), Some(&expected));
    assert_eq!(
        send.bindings.redis(),
        Some(&asyncfast::amgi::RedisBinding::with_maxlen(1000))
    );
}

#[test]
fn derived_messages_carry_amqp_properties() {
    #[derive(Message)]
    #[message(address = "invoices")]
    struct Invoice {
        #[payload]
        body: String,
        #[binding(amqp_routing_key)]
        routing_key: &'static str,
        #[binding(amqp_correlation_id)]
        correlation: String,
        #[binding(amqp_reply_to)]
        reply_to: &'static str,
        #[binding(amqp_expiration)]
        expiration: u64,
        #[binding(amqp_message_id)]
        id: String,
        #[binding(amqp_delivery_mode)]
        mode: u8,
    }
    let send = Invoice {
        body: "due".into(),
        routing_key: "invoices.eu",
        correlation: "c-2".into(),
        reply_to: "billing.replies",
        expiration: 60_000,
        id: "inv-1".into(),
        mode: 2,
    }
    .into_message_send()
    .unwrap();
    let amqp = send.bindings.amqp().unwrap();
    assert_eq!(amqp.routing_key.as_deref(), Some("invoices.eu"));
    assert_eq!(amqp.correlation_id.as_deref(), Some("c-2"));
    assert_eq!(amqp.reply_to.as_deref(), Some("billing.replies"));
    assert_eq!(amqp.expiration, Some(60_000));
    assert_eq!(amqp.message_id.as_deref(), Some("inv-1"));
    assert_eq!(amqp.delivery_mode, Some(2));
}
