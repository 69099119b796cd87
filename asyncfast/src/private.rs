//! What macro output uses. Not public API: no stability guarantees.

use std::any::{Any, TypeId};
use std::fmt;

pub use amgi_core::{Bindings, Headers, MessageSend};
pub use bytes::Bytes;
use serde::Serialize;

pub use crate::app::ChannelRegistration;
pub use crate::extract::ParamSpec;
pub use crate::extract::param_probe::{
    ParamProbe, ParamViaBytes, ParamViaDisplay, ParamViaJsonSchema, ParamViaOther,
};
pub use crate::extract::parse_header;
pub use crate::extract::spec::KebabName;
pub use crate::handler::{Package, SendsFn};
pub use crate::outcome::IntoOutcome;
pub use inventory;

use crate::extract::{Header, HeaderValue};
use crate::outcome::{NackKind, Outcome};
use crate::sender::EncodeError;

/// The value type of a `Header<T>` parameter, for `#[header(default = …)]`.
#[diagnostic::on_unimplemented(
    message = "`#[header(default = …)]` applies to `Header<T>` parameters, not `{Self}`",
    label = "not a `Header<T>`",
    note = "remove `default = …`, or make the parameter a `Header<T>`"
)]
pub trait HeaderParam {
    /// `T`.
    type Value: Send + 'static;
}

impl<T: Send + 'static> HeaderParam for Header<T> {
    type Value = T;
}

/// Boxes a header default.
pub fn header_default<T: Send + 'static>(value: T) -> Box<dyn Any + Send> {
    Box::new(value)
}

/// The outcome of a rejected parameter.
#[cold]
pub fn rejected<E: std::error::Error>(error: E) -> Outcome {
    Outcome::nack(NackKind::Rejected, error.to_string())
}

/// Runs a plain (non-`async`) handler on the blocking thread pool.
pub async fn blocking<F, R>(f: F) -> Outcome
where
    F: FnOnce() -> R + Send + 'static,
    R: IntoOutcome + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(value) => value.into_outcome(),
        Err(error) if error.is_panic() => Outcome::nack(
            NackKind::Panicked,
            format!(
                "handler panicked: {}",
                amgi_core::batch::panic_message(error.into_panic().as_ref())
            ),
        ),
        Err(error) => Outcome::nack(NackKind::Panicked, format!("handler task failed: {error}")),
    }
}

/// A piece of a message address: literal text or a field's value.
pub enum AddressPart<'a> {
    /// Text.
    Literal(&'static str),
    /// A field, rendered with `Display`.
    Field(&'a dyn fmt::Display),
}

/// Renders an address from its pieces.
pub fn format_address(parts: &[AddressPart<'_>]) -> String {
    use std::fmt::Write;
    let mut address = String::new();
    for part in parts {
        match part {
            AddressPart::Literal(text) => address.push_str(text),
            AddressPart::Field(value) => {
                let _ = write!(address, "{value}");
            }
        }
    }
    address
}

/// Encodes a `#[payload]` field: `Bytes`, `Vec<u8>` and `String` raw, anything else as JSON.
pub fn encode_payload<T: Serialize + Any>(
    value: T,
    message: &'static str,
) -> Result<Bytes, EncodeError> {
    let id = TypeId::of::<T>();
    let any: Box<dyn Any> = if id == TypeId::of::<Bytes>()
        || id == TypeId::of::<Vec<u8>>()
        || id == TypeId::of::<String>()
    {
        Box::new(value)
    } else {
        return serde_json::to_vec(&value)
            .map(Bytes::from)
            .map_err(|source| EncodeError::Json { message, source });
    };
    let any = match any.downcast::<Bytes>() {
        Ok(bytes) => return Ok(*bytes),
        Err(any) => any,
    };
    let any = match any.downcast::<Vec<u8>>() {
        Ok(bytes) => return Ok(Bytes::from(*bytes)),
        Err(any) => any,
    };
    match any.downcast::<String>() {
        Ok(text) => Ok(Bytes::from(*text)),
        Err(_) => unreachable!("type checked above"),
    }
}

/// Appends a `#[header]` field, unless it renders to nothing (`None`).
pub fn push_header<T: HeaderValue>(headers: &mut Headers, name: &'static str, value: &T) {
    if let Some(value) = value.to_header() {
        headers.append(Bytes::from_static(name.as_bytes()), value);
    }
}

/// Setters for `#[binding(…)]` fields, one per keyword.
pub mod binding_fields {
    use amgi_core::{
        AmqpBinding, Bindings, KafkaBinding, MqttBinding, NatsBinding, RedisBinding, SqsBinding,
    };
    use bytes::Bytes;

    fn kafka(bindings: &Bindings) -> KafkaBinding {
        bindings.kafka().cloned().unwrap_or_default()
    }

    /// `#[binding(kafka_key)]`.
    pub fn kafka_key(bindings: &mut Bindings, value: impl Into<Bytes>) {
        let mut binding = kafka(bindings);
        binding.key = Some(value.into());
        bindings.insert(binding);
    }

    /// `#[binding(kafka_partition)]`.
    pub fn kafka_partition(bindings: &mut Bindings, value: i32) {
        let binding = kafka(bindings).partition(value);
        bindings.insert(binding);
    }

    fn mqtt(bindings: &Bindings) -> MqttBinding {
        bindings.mqtt().cloned().unwrap_or_default()
    }

    /// `#[binding(mqtt_qos)]`.
    pub fn mqtt_qos(bindings: &mut Bindings, value: u8) {
        let mut binding = mqtt(bindings);
        binding.qos = value;
        bindings.insert(binding);
    }

    /// `#[binding(mqtt_retain)]`.
    pub fn mqtt_retain(bindings: &mut Bindings, value: bool) {
        let mut binding = mqtt(bindings);
        binding.retain = value;
        bindings.insert(binding);
    }

    /// `#[binding(mqtt_content_type)]`.
    pub fn mqtt_content_type(bindings: &mut Bindings, value: impl Into<String>) {
        let binding = mqtt(bindings).content_type(value);
        bindings.insert(binding);
    }

    /// `#[binding(mqtt_response_topic)]`.
    pub fn mqtt_response_topic(bindings: &mut Bindings, value: impl Into<String>) {
        let binding = mqtt(bindings).response_topic(value);
        bindings.insert(binding);
    }

    /// `#[binding(mqtt_correlation_data)]`.
    pub fn mqtt_correlation_data(bindings: &mut Bindings, value: impl Into<Bytes>) {
        let binding = mqtt(bindings).correlation_data(value);
        bindings.insert(binding);
    }

    /// `#[binding(mqtt_message_expiry)]`: seconds.
    pub fn mqtt_message_expiry(bindings: &mut Bindings, value: u32) {
        let binding = mqtt(bindings).message_expiry_interval(value);
        bindings.insert(binding);
    }

    fn sqs(bindings: &Bindings) -> SqsBinding {
        bindings.sqs().cloned().unwrap_or_default()
    }

    /// `#[binding(sqs_message_group_id)]`.
    pub fn sqs_message_group_id(bindings: &mut Bindings, value: impl Into<String>) {
        let mut binding = sqs(bindings);
        binding.message_group_id = Some(value.into());
        bindings.insert(binding);
    }

    /// `#[binding(sqs_deduplication_id)]`.
    pub fn sqs_deduplication_id(bindings: &mut Bindings, value: impl Into<String>) {
        let binding = sqs(bindings).deduplication_id(value);
        bindings.insert(binding);
    }

    /// `#[binding(sqs_delay_seconds)]`.
    pub fn sqs_delay_seconds(bindings: &mut Bindings, value: u32) {
        let binding = sqs(bindings).delay_seconds(value);
        bindings.insert(binding);
    }

    /// `#[binding(amqp_routing_key)]`.
    pub fn amqp_routing_key(bindings: &mut Bindings, value: impl Into<String>) {
        let mut binding = bindings.amqp().cloned().unwrap_or_default();
        binding.routing_key = Some(value.into());
        bindings.insert(binding);
    }

    /// `#[binding(amqp_priority)]`.
    pub fn amqp_priority(bindings: &mut Bindings, value: u8) {
        let mut binding: AmqpBinding = bindings.amqp().cloned().unwrap_or_default();
        binding.priority = Some(value);
        bindings.insert(binding);
    }

    /// `#[binding(amqp_correlation_id)]`.
    pub fn amqp_correlation_id(bindings: &mut Bindings, value: impl Into<String>) {
        let mut binding: AmqpBinding = bindings.amqp().cloned().unwrap_or_default();
        binding.correlation_id = Some(value.into());
        bindings.insert(binding);
    }

    /// `#[binding(amqp_reply_to)]`.
    pub fn amqp_reply_to(bindings: &mut Bindings, value: impl Into<String>) {
        let mut binding: AmqpBinding = bindings.amqp().cloned().unwrap_or_default();
        binding.reply_to = Some(value.into());
        bindings.insert(binding);
    }

    /// `#[binding(amqp_expiration)]`: milliseconds.
    pub fn amqp_expiration(bindings: &mut Bindings, value: u64) {
        let mut binding: AmqpBinding = bindings.amqp().cloned().unwrap_or_default();
        binding.expiration = Some(value);
        bindings.insert(binding);
    }

    /// `#[binding(amqp_message_id)]`.
    pub fn amqp_message_id(bindings: &mut Bindings, value: impl Into<String>) {
        let mut binding: AmqpBinding = bindings.amqp().cloned().unwrap_or_default();
        binding.message_id = Some(value.into());
        bindings.insert(binding);
    }

    /// `#[binding(amqp_delivery_mode)]`: 1 transient, 2 persistent.
    pub fn amqp_delivery_mode(bindings: &mut Bindings, value: u8) {
        let mut binding: AmqpBinding = bindings.amqp().cloned().unwrap_or_default();
        binding.delivery_mode = Some(value);
        bindings.insert(binding);
    }

    /// `#[binding(nats_reply)]`.
    pub fn nats_reply(bindings: &mut Bindings, value: impl Into<String>) {
        let mut binding: NatsBinding = bindings.nats().cloned().unwrap_or_default();
        binding.reply = Some(value.into());
        bindings.insert(binding);
    }

    /// `#[binding(redis_stream_id)]`.
    pub fn redis_stream_id(bindings: &mut Bindings, value: impl Into<String>) {
        let mut binding: RedisBinding = bindings.redis().cloned().unwrap_or_default();
        binding.stream_id = Some(value.into());
        bindings.insert(binding);
    }

    /// `#[binding(redis_maxlen)]`: trim the stream to about this many entries.
    pub fn redis_maxlen(bindings: &mut Bindings, value: u64) {
        let mut binding: RedisBinding = bindings.redis().cloned().unwrap_or_default();
        binding.maxlen = Some(value);
        bindings.insert(binding);
    }
}

/// Assembles a derived message.
pub fn assemble(
    address: String,
    headers: Headers,
    bindings: Bindings,
    payload: Option<Bytes>,
) -> MessageSend {
    let mut message = MessageSend::new(address).headers(headers);
    message.bindings = bindings;
    message.payload = payload;
    message
}
