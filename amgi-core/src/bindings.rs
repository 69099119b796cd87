//! Protocol bindings: the protocol-specific facts of a message (a Kafka key, an MQTT QoS, …).
//!
//! An inbound message carries at most one protocol's binding ([`Binding`]); an outbound message
//! may carry several ([`Bindings`]) and each server uses the one for its protocol and ignores the
//! rest. Protocols without a typed binding here use [`Binding::Other`].

use bytes::Bytes;

/// Kafka binding: the record's key and position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KafkaBinding {
    /// Record key.
    pub key: Option<Bytes>,
    /// Partition the record was read from, or should be written to.
    pub partition: Option<i32>,
    /// Offset of the record within its partition (inbound only).
    pub offset: Option<i64>,
    /// Record timestamp, milliseconds since the Unix epoch.
    pub timestamp: Option<i64>,
}

impl KafkaBinding {
    /// A binding with only a key set.
    ///
    /// ```
    /// let binding = amgi_core::KafkaBinding::with_key("user-42");
    /// assert_eq!(binding.key.as_deref(), Some(&b"user-42"[..]));
    /// ```
    pub fn with_key(key: impl Into<Bytes>) -> Self {
        Self {
            key: Some(key.into()),
            ..Self::default()
        }
    }

    /// Sets the partition.
    #[must_use]
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the offset.
    #[must_use]
    pub fn offset(mut self, offset: i64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// Sets the timestamp (milliseconds since the Unix epoch).
    #[must_use]
    pub fn timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }
}

/// MQTT binding: quality of service, the retain flag and the MQTT 5 publish properties.
///
/// Inbound, a server sets every field the PUBLISH packet carried (and `topic`); outbound, a server
/// publishes with the QoS and retain flag given here and sets the properties that are `Some`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MqttBinding {
    /// Quality of service level, 0, 1 or 2.
    pub qos: u8,
    /// Whether the broker retains the message for new subscribers.
    pub retain: bool,
    /// The topic the message was published on (inbound only; outbound, the address is the topic).
    pub topic: Option<String>,
    /// MQTT 5 content type property, such as `application/json`.
    pub content_type: Option<String>,
    /// MQTT 5 response topic: where a requester waits for the reply.
    pub response_topic: Option<String>,
    /// MQTT 5 correlation data: pairs a reply with its request.
    pub correlation_data: Option<Bytes>,
    /// MQTT 5 message expiry interval in seconds.
    pub message_expiry_interval: Option<u32>,
}

impl MqttBinding {
    /// A binding with the given QoS and retain flag and no properties.
    ///
    /// ```
    /// let binding = amgi_core::MqttBinding::new(1, false).response_topic("replies/42");
    /// assert_eq!(binding.response_topic.as_deref(), Some("replies/42"));
    /// ```
    pub fn new(qos: u8, retain: bool) -> Self {
        Self {
            qos,
            retain,
            ..Self::default()
        }
    }

    /// Sets the topic.
    #[must_use]
    pub fn topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }

    /// Sets the content type property.
    #[must_use]
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Sets the response topic property.
    #[must_use]
    pub fn response_topic(mut self, topic: impl Into<String>) -> Self {
        self.response_topic = Some(topic.into());
        self
    }

    /// Sets the correlation data property.
    #[must_use]
    pub fn correlation_data(mut self, data: impl Into<Bytes>) -> Self {
        self.correlation_data = Some(data.into());
        self
    }

    /// Sets the message expiry interval, in seconds.
    #[must_use]
    pub fn message_expiry_interval(mut self, seconds: u32) -> Self {
        self.message_expiry_interval = Some(seconds);
        self
    }
}

/// Amazon SQS binding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqsBinding {
    /// FIFO queues: the message group id.
    pub message_group_id: Option<String>,
    /// FIFO queues: the deduplication id.
    pub message_deduplication_id: Option<String>,
    /// Delivery delay in seconds (outbound only).
    pub delay_seconds: Option<u32>,
    /// How many times the message has been received (`ApproximateReceiveCount`, inbound only).
    pub receive_count: Option<u32>,
    /// The message id SQS assigned (inbound only).
    pub message_id: Option<String>,
    /// When SQS received the message, milliseconds since the Unix epoch (`SentTimestamp`,
    /// inbound only).
    pub sent_timestamp: Option<i64>,
}

impl SqsBinding {
    /// A binding with a message group id set.
    pub fn with_group(group: impl Into<String>) -> Self {
        Self {
            message_group_id: Some(group.into()),
            ..Self::default()
        }
    }

    /// Sets the deduplication id.
    #[must_use]
    pub fn deduplication_id(mut self, id: impl Into<String>) -> Self {
        self.message_deduplication_id = Some(id.into());
        self
    }

    /// Sets the delivery delay.
    #[must_use]
    pub fn delay_seconds(mut self, seconds: u32) -> Self {
        self.delay_seconds = Some(seconds);
        self
    }

    /// Sets the receive count.
    #[must_use]
    pub fn receive_count(mut self, count: u32) -> Self {
        self.receive_count = Some(count);
        self
    }

    /// Sets the message id.
    #[must_use]
    pub fn message_id(mut self, id: impl Into<String>) -> Self {
        self.message_id = Some(id.into());
        self
    }

    /// Sets the sent timestamp (milliseconds since the Unix epoch).
    #[must_use]
    pub fn sent_timestamp(mut self, millis: i64) -> Self {
        self.sent_timestamp = Some(millis);
        self
    }
}

/// AMQP 0-9-1 binding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AmqpBinding {
    /// Exchange the message was published to.
    pub exchange: Option<String>,
    /// Routing key.
    pub routing_key: Option<String>,
    /// `correlation_id` property.
    pub correlation_id: Option<String>,
    /// `reply_to` property.
    pub reply_to: Option<String>,
    /// Message priority.
    pub priority: Option<u8>,
    /// Per-message TTL in milliseconds (`expiration` property).
    pub expiration: Option<u64>,
    /// `message_id` property.
    pub message_id: Option<String>,
    /// `content_type` property, such as `application/json`.
    pub content_type: Option<String>,
    /// `delivery_mode` property: 1 transient, 2 persistent.
    pub delivery_mode: Option<u8>,
}

/// Redis binding: where a stream entry (or Pub/Sub message) came from, and how to trim on send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisBinding {
    /// Stream entry id, such as `1700000000000-0` (inbound, streams only).
    pub stream_id: Option<String>,
    /// The stream key, or the Pub/Sub channel, the message was read from (inbound only).
    pub stream: Option<String>,
    /// Outbound: trim the stream to about this many entries on `XADD` (`MAXLEN ~ n`).
    pub maxlen: Option<u64>,
}

impl RedisBinding {
    /// A binding with only the outbound `MAXLEN ~ n` set.
    ///
    /// ```
    /// let binding = amgi_core::RedisBinding::with_maxlen(10_000);
    /// assert_eq!(binding.maxlen, Some(10_000));
    /// ```
    pub fn with_maxlen(maxlen: u64) -> Self {
        Self {
            maxlen: Some(maxlen),
            ..Self::default()
        }
    }

    /// Sets the stream entry id.
    #[must_use]
    pub fn stream_id(mut self, id: impl Into<String>) -> Self {
        self.stream_id = Some(id.into());
        self
    }

    /// Sets the stream key (or Pub/Sub channel).
    #[must_use]
    pub fn stream(mut self, stream: impl Into<String>) -> Self {
        self.stream = Some(stream.into());
        self
    }
}

/// NATS binding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NatsBinding {
    /// Subject the message was published on.
    pub subject: Option<String>,
    /// Reply subject for request/reply.
    pub reply: Option<String>,
}

/// A binding for a protocol this crate has no typed binding for.
#[derive(Debug, Clone, PartialEq)]
pub struct OtherBinding {
    /// Protocol name, as used by AsyncAPI (for example `"pulsar"`).
    pub protocol: String,
    /// The binding's fields.
    pub value: serde_json::Value,
}

/// One protocol's binding.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Binding {
    /// Kafka.
    Kafka(KafkaBinding),
    /// MQTT.
    Mqtt(MqttBinding),
    /// Amazon SQS.
    Sqs(SqsBinding),
    /// AMQP 0-9-1 (boxed: its properties would make every binding, and so every message, larger).
    Amqp(Box<AmqpBinding>),
    /// Redis Streams.
    Redis(RedisBinding),
    /// NATS.
    Nats(NatsBinding),
    /// Any other protocol.
    Other(Box<OtherBinding>),
}

impl Binding {
    /// The protocol name, as AsyncAPI spells it.
    ///
    /// ```
    /// use amgi_core::{Binding, MqttBinding};
    /// assert_eq!(Binding::Mqtt(MqttBinding::new(1, false)).protocol(), "mqtt");
    /// ```
    pub fn protocol(&self) -> &str {
        match self {
            Self::Kafka(_) => "kafka",
            Self::Mqtt(_) => "mqtt",
            Self::Sqs(_) => "sqs",
            Self::Amqp(_) => "amqp",
            Self::Redis(_) => "redis",
            Self::Nats(_) => "nats",
            Self::Other(other) => &other.protocol,
        }
    }
}

macro_rules! binding_from {
    ($($ty:ident => $variant:ident),* $(,)?) => {$(
        impl From<$ty> for Binding {
            fn from(binding: $ty) -> Self {
                Self::$variant(binding)
            }
        }
    )*};
}

binding_from!(
    KafkaBinding => Kafka,
    MqttBinding => Mqtt,
    SqsBinding => Sqs,
    RedisBinding => Redis,
    NatsBinding => Nats,
);

impl From<AmqpBinding> for Binding {
    fn from(binding: AmqpBinding) -> Self {
        Self::Amqp(Box::new(binding))
    }
}

impl From<OtherBinding> for Binding {
    fn from(binding: OtherBinding) -> Self {
        Self::Other(Box::new(binding))
    }
}

/// The bindings of an outbound message: at most one per protocol.
///
/// Inserting a binding for a protocol that is already present replaces it. Empty bindings do not
/// allocate.
///
/// ```
/// use amgi_core::{Bindings, KafkaBinding, MqttBinding};
///
/// let bindings = Bindings::new()
///     .with(KafkaBinding::with_key("k"))
///     .with(MqttBinding::new(1, true));
/// assert_eq!(bindings.kafka().and_then(|k| k.key.as_deref()), Some(&b"k"[..]));
/// assert!(bindings.sqs().is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bindings {
    items: Vec<Binding>,
}

macro_rules! bindings_getter {
    ($($name:ident => $variant:ident: $ty:ident),* $(,)?) => {$(
        #[doc = concat!("The ", stringify!($variant), " binding, if present.")]
        pub fn $name(&self) -> Option<&$ty> {
            self.items.iter().find_map(|b| match b {
                Binding::$variant(inner) => Some(std::borrow::Borrow::borrow(inner)),
                _ => None,
            })
        }
    )*};
}

impl Bindings {
    /// No bindings; does not allocate.
    pub const fn new() -> Self {
        Self { items: Vec::new() }
    }

    /// Adds `binding`, replacing an existing binding of the same protocol.
    pub fn insert(&mut self, binding: impl Into<Binding>) {
        let binding = binding.into();
        if let Some(slot) = self
            .items
            .iter_mut()
            .find(|b| b.protocol() == binding.protocol())
        {
            *slot = binding;
        } else {
            self.items.push(binding);
        }
    }

    /// Builder form of [`Bindings::insert`].
    #[must_use]
    pub fn with(mut self, binding: impl Into<Binding>) -> Self {
        self.insert(binding);
        self
    }

    /// The binding for `protocol` (AsyncAPI name), if present.
    pub fn get(&self, protocol: &str) -> Option<&Binding> {
        self.items.iter().find(|b| b.protocol() == protocol)
    }

    bindings_getter!(
        kafka => Kafka: KafkaBinding,
        mqtt => Mqtt: MqttBinding,
        sqs => Sqs: SqsBinding,
        amqp => Amqp: AmqpBinding,
        redis => Redis: RedisBinding,
        nats => Nats: NatsBinding,
    );

    /// Iterates over the bindings.
    pub fn iter(&self) -> std::slice::Iter<'_, Binding> {
        self.items.iter()
    }

    /// Whether there are no bindings.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Number of protocols with a binding.
    pub fn len(&self) -> usize {
        self.items.len()
    }
}

impl From<Binding> for Bindings {
    fn from(binding: Binding) -> Self {
        Self {
            items: vec![binding],
        }
    }
}

impl From<Option<Binding>> for Bindings {
    fn from(binding: Option<Binding>) -> Self {
        binding.map_or_else(Self::new, Self::from)
    }
}

impl FromIterator<Binding> for Bindings {
    fn from_iter<I: IntoIterator<Item = Binding>>(iter: I) -> Self {
        let mut bindings = Self::new();
        for binding in iter {
            bindings.insert(binding);
        }
        bindings
    }
}

impl<'a> IntoIterator for &'a Bindings {
    type Item = &'a Binding;
    type IntoIter = std::slice::Iter<'a, Binding>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_replaces_same_protocol() {
        let mut bindings = Bindings::new();
        bindings.insert(KafkaBinding::with_key("a"));
        bindings.insert(KafkaBinding::with_key("b"));
        assert_eq!(bindings.len(), 1);
        assert_eq!(bindings.kafka().unwrap().key.as_deref(), Some(&b"b"[..]));
    }

    #[test]
    fn several_protocols_and_other() {
        let bindings: Bindings = [
            Binding::from(SqsBinding::with_group("g").deduplication_id("d")),
            Binding::from(NatsBinding {
                subject: Some("s".into()),
                reply: None,
            }),
            Binding::from(OtherBinding {
                protocol: "pulsar".into(),
                value: serde_json::json!({"key": "x"}),
            }),
        ]
        .into_iter()
        .collect();
        assert_eq!(bindings.len(), 3);
        assert_eq!(
            bindings.sqs().unwrap().message_group_id.as_deref(),
            Some("g")
        );
        assert_eq!(bindings.nats().unwrap().subject.as_deref(), Some("s"));
        assert_eq!(bindings.get("pulsar").unwrap().protocol(), "pulsar");
        assert!(bindings.mqtt().is_none());
    }

    #[test]
    fn protocol_names_follow_asyncapi() {
        let names: Vec<String> = [
            Binding::from(KafkaBinding::default()),
            MqttBinding::default().into(),
            SqsBinding::default().into(),
            AmqpBinding::default().into(),
            RedisBinding::default().into(),
            NatsBinding::default().into(),
        ]
        .iter()
        .map(|b| b.protocol().to_owned())
        .collect();
        assert_eq!(names, ["kafka", "mqtt", "sqs", "amqp", "redis", "nats"]);
    }
}
