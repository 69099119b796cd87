//! Binding extractors.

use asyncfast::amgi::{Binding, KafkaBinding, MqttBinding, SqsBinding};
use asyncfast::extract::{KafkaKey, KafkaPartition, MqttQos, SqsMessageGroupId};
use asyncfast::prelude::*;
use asyncfast::testing::TestClient;

#[channel("kafka")]
async fn on_kafka(key: KafkaKey, partition: KafkaPartition) -> Result<(), String> {
    (&key[..] == b"user-1" && *partition == 3)
        .then_some(())
        .ok_or_else(|| format!("{key:?} {partition:?}"))
}

#[channel("kafka.optional")]
async fn on_optional_key(key: Option<KafkaKey>) -> Result<(), String> {
    key.is_none()
        .then_some(())
        .ok_or_else(|| "expected no key".to_owned())
}

#[channel("mqtt")]
async fn on_mqtt(qos: MqttQos) -> Result<(), String> {
    (*qos == 1)
        .then_some(())
        .ok_or_else(|| format!("qos {}", *qos))
}

#[channel("sqs")]
async fn on_sqs(group: SqsMessageGroupId) -> Result<(), String> {
    (*group == "g-1")
        .then_some(())
        .ok_or_else(|| group.0.clone())
}

#[channel("any")]
async fn on_any(binding: Binding) -> Result<(), String> {
    (binding.protocol() == "mqtt")
        .then_some(())
        .ok_or_else(|| binding.protocol().to_owned())
}

async fn client() -> TestClient {
    TestClient::new(
        AsyncFast::empty()
            .channel(handler!(on_kafka))
            .channel(handler!(on_optional_key))
            .channel(handler!(on_mqtt))
            .channel(handler!(on_sqs))
            .channel(handler!(on_any)),
    )
    .await
}

#[tokio::test]
async fn binding_fields_are_extracted() {
    let client = client().await;
    client
        .publish("kafka")
        .binding(KafkaBinding::with_key("user-1").partition(3))
        .await
        .assert_acked();
    client
        .publish("kafka.optional")
        .binding(KafkaBinding::default())
        .await
        .assert_acked();
    client
        .publish("mqtt")
        .binding(MqttBinding::new(1, false))
        .await
        .assert_acked();
    client
        .publish("sqs")
        .binding(SqsBinding::with_group("g-1"))
        .await
        .assert_acked();
    client
        .publish("any")
        .binding(MqttBinding::new(0, true))
        .await
        .assert_acked();
}

#[tokio::test]
async fn missing_binding_nacks_naming_the_field() {
    let client = client().await;
    let outcome = client
        .publish("kafka")
        .binding(MqttBinding::new(1, false))
        .await;
    assert_eq!(
        outcome.assert_nacked(),
        "the message has no Kafka key (binding: mqtt)"
    );
    let outcome = client
        .publish("kafka")
        .binding(KafkaBinding::with_key("user-1"))
        .await;
    assert_eq!(
        outcome.assert_nacked(),
        "the message has no Kafka partition (binding: kafka)"
    );
    let outcome = client.publish("any").await;
    assert_eq!(
        outcome.assert_nacked(),
        "the message has no binding (binding: none)"
    );
}
