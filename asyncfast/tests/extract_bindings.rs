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

mod mqtt_properties {
    use asyncfast::amgi::MqttBinding;
    use asyncfast::extract::{
        MqttContentType, MqttCorrelationData, MqttMessageExpiry, MqttResponseTopic, MqttRetain,
        MqttTopic,
    };
    use asyncfast::prelude::*;
    use asyncfast::testing::TestClient;

    #[channel("sensors.{room}")]
    async fn on_reading(
        room: Param<String>,
        topic: MqttTopic,
        retain: MqttRetain,
        content_type: MqttContentType,
        response_topic: MqttResponseTopic,
        correlation: MqttCorrelationData,
        expiry: Option<MqttMessageExpiry>,
    ) -> Result<(), String> {
        let seen = (
            room.0.as_str(),
            topic.0.as_str(),
            *retain,
            content_type.0.as_str(),
            response_topic.0.as_str(),
            &correlation.0[..],
            expiry.map(|e| e.0),
        );
        (seen
            == (
                "kitchen",
                "sensors/kitchen",
                true,
                "application/json",
                "replies/7",
                b"\x00\xff",
                Some(30),
            ))
            .then_some(())
            .ok_or_else(|| format!("{seen:?}"))
    }

    #[tokio::test]
    async fn every_mqtt_property_is_extracted() {
        let client = TestClient::new(AsyncFast::empty().channel(handler!(on_reading))).await;
        let binding = MqttBinding::new(1, true)
            .topic("sensors/kitchen")
            .content_type("application/json")
            .response_topic("replies/7")
            .correlation_data(&b"\x00\xff"[..])
            .message_expiry_interval(30);
        client
            .publish("sensors.kitchen")
            .binding(binding)
            .await
            .assert_acked();
        let outcome = client
            .publish("sensors.kitchen")
            .binding(MqttBinding::new(1, true).topic("sensors/kitchen"))
            .await;
        assert_eq!(
            outcome.assert_nacked(),
            "the message has no MQTT content type (binding: mqtt)"
        );
    }
}

mod redis_fields {
    use asyncfast::amgi::RedisBinding;
    use asyncfast::extract::{RedisStream, RedisStreamId};
    use asyncfast::prelude::*;
    use asyncfast::testing::TestClient;

    #[channel("orders")]
    async fn on_order(stream: RedisStream, id: RedisStreamId) -> Result<(), String> {
        (stream.0 == "orders" && id.0 == "1700000000000-0")
            .then_some(())
            .ok_or_else(|| format!("{stream:?} {id:?}"))
    }

    #[tokio::test]
    async fn stream_and_entry_id_are_extracted() {
        let client = TestClient::new(AsyncFast::empty().channel(handler!(on_order))).await;
        client
            .publish("orders")
            .binding(
                RedisBinding::default()
                    .stream("orders")
                    .stream_id("1700000000000-0"),
            )
            .await
            .assert_acked();
    }
}

mod sqs_and_amqp_fields {
    use asyncfast::amgi::{AmqpBinding, SqsBinding};
    use asyncfast::extract::{
        AmqpCorrelationId, AmqpExchange, AmqpMessageId, AmqpPriority, AmqpReplyTo,
        SqsMessageDeduplicationId, SqsMessageId, SqsSentTimestamp,
    };
    use asyncfast::prelude::*;
    use asyncfast::testing::TestClient;

    #[channel("sqs.fifo")]
    async fn on_sqs(
        dedup: SqsMessageDeduplicationId,
        id: SqsMessageId,
        sent: SqsSentTimestamp,
    ) -> Result<(), String> {
        let seen = (dedup.0.as_str(), id.0.as_str(), sent.0);
        (seen == ("d-1", "m-1", 1_700_000_000_000))
            .then_some(())
            .ok_or_else(|| format!("{seen:?}"))
    }

    #[channel("amqp")]
    async fn on_amqp(
        exchange: AmqpExchange,
        correlation: AmqpCorrelationId,
        reply_to: AmqpReplyTo,
        priority: AmqpPriority,
        message_id: Option<AmqpMessageId>,
    ) -> Result<(), String> {
        let seen = (
            exchange.0.as_str(),
            correlation.0.as_str(),
            reply_to.0.as_str(),
            priority.0,
            message_id.map(|m| m.0),
        );
        (seen == ("orders", "c-1", "amq.rabbitmq.reply-to", 5, None))
            .then_some(())
            .ok_or_else(|| format!("{seen:?}"))
    }

    #[tokio::test]
    async fn sqs_and_amqp_fields_are_extracted() {
        let client = TestClient::new(
            AsyncFast::empty()
                .channel(handler!(on_sqs))
                .channel(handler!(on_amqp)),
        )
        .await;
        let sqs = SqsBinding::with_group("g")
            .deduplication_id("d-1")
            .message_id("m-1")
            .sent_timestamp(1_700_000_000_000);
        client.publish("sqs.fifo").binding(sqs).await.assert_acked();
        let mut amqp = AmqpBinding::default();
        amqp.exchange = Some("orders".into());
        amqp.correlation_id = Some("c-1".into());
        amqp.reply_to = Some("amq.rabbitmq.reply-to".into());
        amqp.priority = Some(5);
        client.publish("amqp").binding(amqp).await.assert_acked();
    }
}
