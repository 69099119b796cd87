//! Protocol binding extractors: [`KafkaKey`], [`MqttQos`], [`SqsMessageGroupId`], … and the whole
//! [`Binding`].
//!
//! Each reads one field of the binding the server attached to the message. A message without
//! that binding (or with the field unset) is nacked, unless the parameter is an `Option`.
//!
//! In the AsyncAPI document, [`KafkaKey`] adds the Kafka message binding's `key` (raw bytes),
//! [`MqttCorrelationData`] and [`MqttResponseTopic`] the MQTT message binding's `correlationData`
//! and `responseTopic`; the others describe values the broker sets per message, which AsyncAPI
//! bindings do not declare, and add nothing.

use amgi_core::Binding;
use bytes::Bytes;

use super::{FromMessage, ParamSpec};
use crate::MessageContext;
use crate::asyncapi::OperationDoc;

/// The version of the Kafka bindings written.
pub(crate) const KAFKA_BINDING_VERSION: &str = "0.5.0";
/// The version of the MQTT bindings written.
pub(crate) const MQTT_BINDING_VERSION: &str = "0.2.0";

/// Sets `field` of `protocol`'s message binding object to `value`, with the binding version
/// AsyncFast writes for that protocol.
pub(crate) fn document_message_binding(
    doc: &mut OperationDoc<'_>,
    protocol: &str,
    field: &str,
    value: serde_json::Value,
) {
    doc.message_binding(protocol, field, value);
    if let Some(version) = binding_version(protocol) {
        doc.message_binding(protocol, "bindingVersion", version.into());
    }
}

/// The version of `protocol`'s AsyncAPI bindings AsyncFast writes, for the protocols whose
/// bindings it writes.
pub(crate) fn binding_version(protocol: &str) -> Option<&'static str> {
    match protocol {
        "kafka" => Some(KAFKA_BINDING_VERSION),
        "mqtt" => Some(MQTT_BINDING_VERSION),
        _ => None,
    }
}

/// `KafkaKey`: the Kafka message binding's key, raw bytes.
fn document_kafka_key(doc: &mut OperationDoc<'_>) {
    document_message_binding(
        doc,
        "kafka",
        "key",
        serde_json::json!({"type": "string", "format": "binary"}),
    );
}

/// `MqttCorrelationData`: the MQTT message binding's correlation data, raw bytes.
fn document_mqtt_correlation_data(doc: &mut OperationDoc<'_>) {
    document_message_binding(
        doc,
        "mqtt",
        "correlationData",
        serde_json::json!({"type": "string", "format": "binary"}),
    );
}

/// `MqttResponseTopic`: the MQTT message binding's response topic, a topic name.
fn document_mqtt_response_topic(doc: &mut OperationDoc<'_>) {
    document_message_binding(
        doc,
        "mqtt",
        "responseTopic",
        serde_json::json!({"type": "string"}),
    );
}

/// A binding extractor that adds nothing to the document.
fn document_nothing(_doc: &mut OperationDoc<'_>) {}

/// The message does not carry the binding field the parameter asks for.
#[derive(Debug, thiserror::Error)]
#[error("the message has no {field} (binding: {found})")]
#[non_exhaustive]
pub struct MissingBinding {
    /// The field, such as `"Kafka key"`.
    pub field: &'static str,
    /// The protocol of the binding the message has, or `none`.
    pub found: String,
}

/// Why a binding extractor failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BindingRejection {
    /// The field is absent.
    #[error(transparent)]
    Missing(#[from] MissingBinding),
}

fn missing(field: &'static str, binding: Option<&Binding>) -> BindingRejection {
    MissingBinding {
        field,
        found: binding.map_or_else(|| "none".to_owned(), |b| b.protocol().to_owned()),
    }
    .into()
}

macro_rules! binding_extractor {
    ($(
        $(#[$doc:meta])*
        $name:ident($ty:ty) = $field:literal, |$b:ident| $get:expr, $document:ident;
    )*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(pub $ty);

        impl std::ops::Deref for $name {
            type Target = $ty;
            fn deref(&self) -> &$ty {
                &self.0
            }
        }

        impl $name {
            fn read(binding: Option<&Binding>) -> Option<$ty> {
                let $b = binding?;
                $get
            }
        }

        impl FromMessage for $name {
            type Rejection = BindingRejection;

            fn from_message(
                ctx: &mut MessageContext<'_>,
                _spec: &'static ParamSpec,
            ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
                let binding = ctx.binding();
                std::future::ready(Self::read(binding).map($name).ok_or_else(|| missing($field, binding)))
            }

            fn document(_spec: &'static ParamSpec, doc: &mut OperationDoc<'_>) {
                $document(doc);
            }
        }

        impl FromMessage for Option<$name> {
            type Rejection = std::convert::Infallible;

            fn from_message(
                ctx: &mut MessageContext<'_>,
                _spec: &'static ParamSpec,
            ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
                std::future::ready(Ok($name::read(ctx.binding()).map($name)))
            }

            fn document(_spec: &'static ParamSpec, doc: &mut OperationDoc<'_>) {
                $document(doc);
            }
        }
    )*};
}

binding_extractor! {
    /// The Kafka record key.
    KafkaKey(Bytes) = "Kafka key", |b| match b { Binding::Kafka(k) => k.key.clone(), _ => None }, document_kafka_key;
    /// The Kafka partition the record was read from.
    KafkaPartition(i32) = "Kafka partition", |b| match b { Binding::Kafka(k) => k.partition, _ => None }, document_nothing;
    /// The Kafka offset of the record.
    KafkaOffset(i64) = "Kafka offset", |b| match b { Binding::Kafka(k) => k.offset, _ => None }, document_nothing;
    /// The MQTT quality of service (0, 1 or 2).
    MqttQos(u8) = "MQTT QoS", |b| match b { Binding::Mqtt(m) => Some(m.qos), _ => None }, document_nothing;
    /// The MQTT retain flag.
    MqttRetain(bool) = "MQTT retain flag", |b| match b { Binding::Mqtt(m) => Some(m.retain), _ => None }, document_nothing;
    /// The topic the MQTT message was published on (for a template channel, the concrete topic).
    MqttTopic(String) = "MQTT topic", |b| match b { Binding::Mqtt(m) => m.topic.clone(), _ => None }, document_nothing;
    /// The MQTT 5 content type property.
    MqttContentType(String) = "MQTT content type", |b| match b { Binding::Mqtt(m) => m.content_type.clone(), _ => None }, document_nothing;
    /// The MQTT 5 response topic: where the requester waits for a reply.
    MqttResponseTopic(String) = "MQTT response topic", |b| match b { Binding::Mqtt(m) => m.response_topic.clone(), _ => None }, document_mqtt_response_topic;
    /// The MQTT 5 correlation data, to send back with a reply.
    MqttCorrelationData(Bytes) = "MQTT correlation data", |b| match b { Binding::Mqtt(m) => m.correlation_data.clone(), _ => None }, document_mqtt_correlation_data;
    /// The MQTT 5 message expiry interval, in seconds, as received.
    MqttMessageExpiry(u32) = "MQTT message expiry interval", |b| match b { Binding::Mqtt(m) => m.message_expiry_interval, _ => None }, document_nothing;
    /// The SQS FIFO message group id.
    SqsMessageGroupId(String) = "SQS message group id", |b| match b { Binding::Sqs(s) => s.message_group_id.clone(), _ => None }, document_nothing;
    /// How many times SQS delivered the message.
    SqsReceiveCount(u32) = "SQS receive count", |b| match b { Binding::Sqs(s) => s.receive_count, _ => None }, document_nothing;
    /// The SQS FIFO deduplication id.
    SqsMessageDeduplicationId(String) = "SQS deduplication id", |b| match b { Binding::Sqs(s) => s.message_deduplication_id.clone(), _ => None }, document_nothing;
    /// The message id SQS assigned.
    SqsMessageId(String) = "SQS message id", |b| match b { Binding::Sqs(s) => s.message_id.clone(), _ => None }, document_nothing;
    /// When SQS received the message, milliseconds since the Unix epoch.
    SqsSentTimestamp(i64) = "SQS sent timestamp", |b| match b { Binding::Sqs(s) => s.sent_timestamp, _ => None }, document_nothing;
    /// The AMQP exchange the message was published to.
    AmqpExchange(String) = "AMQP exchange", |b| match b { Binding::Amqp(a) => a.exchange.clone(), _ => None }, document_nothing;
    /// The AMQP `correlation_id` property.
    AmqpCorrelationId(String) = "AMQP correlation id", |b| match b { Binding::Amqp(a) => a.correlation_id.clone(), _ => None }, document_nothing;
    /// The AMQP `reply_to` property.
    AmqpReplyTo(String) = "AMQP reply-to", |b| match b { Binding::Amqp(a) => a.reply_to.clone(), _ => None }, document_nothing;
    /// The AMQP message priority.
    AmqpPriority(u8) = "AMQP priority", |b| match b { Binding::Amqp(a) => a.priority, _ => None }, document_nothing;
    /// The AMQP `message_id` property.
    AmqpMessageId(String) = "AMQP message id", |b| match b { Binding::Amqp(a) => a.message_id.clone(), _ => None }, document_nothing;
    /// The AMQP routing key.
    AmqpRoutingKey(String) = "AMQP routing key", |b| match b { Binding::Amqp(a) => a.routing_key.clone(), _ => None }, document_nothing;
    /// The NATS subject.
    NatsSubject(String) = "NATS subject", |b| match b { Binding::Nats(n) => n.subject.clone(), _ => None }, document_nothing;
    /// The NATS reply subject.
    NatsReply(String) = "NATS reply subject", |b| match b { Binding::Nats(n) => n.reply.clone(), _ => None }, document_nothing;
    /// The Redis stream entry id.
    RedisStreamId(String) = "Redis stream id", |b| match b { Binding::Redis(r) => r.stream_id.clone(), _ => None }, document_nothing;
    /// The Redis stream key (or Pub/Sub channel) the message was read from.
    RedisStream(String) = "Redis stream", |b| match b { Binding::Redis(r) => r.stream.clone(), _ => None }, document_nothing;
}

/// The whole binding of the message, whatever its protocol.
impl FromMessage for Binding {
    type Rejection = BindingRejection;

    fn from_message(
        ctx: &mut MessageContext<'_>,
        _spec: &'static ParamSpec,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
        let binding = ctx.binding();
        std::future::ready(binding.cloned().ok_or_else(|| missing("binding", binding)))
    }
}

/// The binding of the message, if the server provided one.
impl FromMessage for Option<Binding> {
    type Rejection = std::convert::Infallible;

    fn from_message(
        ctx: &mut MessageContext<'_>,
        _spec: &'static ParamSpec,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
        std::future::ready(Ok(ctx.binding().cloned()))
    }
}
