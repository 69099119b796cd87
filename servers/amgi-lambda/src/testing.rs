//! Synthetic receive events, to unit-test handlers without AWS: build the event an SQS or
//! Kafka event-source mapping would send, and give it to [`LambdaHandle::invoke`].
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use amgi_lambda::testing::{SqsEventBuilder, SqsRecord};
//!
//! let event = SqsEventBuilder::new("arn:aws:sqs:us-east-1:123456789012:orders")
//!     .record(SqsRecord::new("m-1", r#"{"id": 1}"#).attribute("trace-id", "t-1"))
//!     .build();
//! assert_eq!(event["Records"][0]["messageId"], "m-1");
//! assert_eq!(event["Records"][0]["md5OfBody"], "f3e56c602771e9541aef61d502562b89");
//! # });
//! ```
//!
//! [`LambdaHandle::invoke`]: crate::LambdaHandle::invoke

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use serde_json::{Map, Value, json};

/// An SQS event: records of one queue (or more, with [`SqsRecord::queue`]).
#[derive(Debug, Clone)]
pub struct SqsEventBuilder {
    queue_arn: String,
    records: Vec<SqsRecord>,
}

impl SqsEventBuilder {
    /// An event of the queue with ARN `queue_arn` (`arn:aws:sqs:REGION:ACCOUNT:NAME`; a
    /// name ending in `.fifo` is a FIFO queue).
    pub fn new(queue_arn: impl Into<String>) -> Self {
        Self {
            queue_arn: queue_arn.into(),
            records: Vec::new(),
        }
    }

    /// Adds a record.
    #[must_use]
    pub fn record(mut self, record: SqsRecord) -> Self {
        self.records.push(record);
        self
    }

    /// The event, as JSON.
    pub fn build(&self) -> Value {
        let records: Vec<Value> = self
            .records
            .iter()
            .map(|record| record.to_json(&self.queue_arn))
            .collect();
        json!({ "Records": records })
    }
}

/// One record of an [`SqsEventBuilder`].
#[derive(Debug, Clone)]
pub struct SqsRecord {
    message_id: String,
    body: String,
    md5: Option<String>,
    queue_arn: Option<String>,
    attributes: Map<String, Value>,
    message_attributes: Map<String, Value>,
}

impl SqsRecord {
    /// A record with `message_id` and `body` (its `md5OfBody` computed), received once.
    pub fn new(message_id: impl Into<String>, body: impl Into<String>) -> Self {
        let mut attributes = Map::new();
        attributes.insert("ApproximateReceiveCount".into(), "1".into());
        attributes.insert("SentTimestamp".into(), "1700000000000".into());
        Self {
            message_id: message_id.into(),
            body: body.into(),
            md5: None,
            queue_arn: None,
            attributes,
            message_attributes: Map::new(),
        }
    }

    /// Sets the FIFO message group id.
    #[must_use]
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.attributes
            .insert("MessageGroupId".into(), group.into().into());
        self
    }

    /// Sets the FIFO deduplication id.
    #[must_use]
    pub fn deduplication_id(mut self, id: impl Into<String>) -> Self {
        self.attributes
            .insert("MessageDeduplicationId".into(), id.into().into());
        self
    }

    /// Sets `ApproximateReceiveCount`.
    #[must_use]
    pub fn receive_count(mut self, count: u32) -> Self {
        self.attributes
            .insert("ApproximateReceiveCount".into(), count.to_string().into());
        self
    }

    /// Adds a String message attribute.
    #[must_use]
    pub fn attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.message_attributes.insert(
            name.into(),
            json!({"stringValue": value.into(), "stringListValues": [], "binaryListValues": [], "dataType": "String"}),
        );
        self
    }

    /// Adds a Binary message attribute.
    #[must_use]
    pub fn binary_attribute(mut self, name: impl Into<String>, value: &[u8]) -> Self {
        self.message_attributes.insert(
            name.into(),
            json!({"binaryValue": STANDARD.encode(value), "stringListValues": [], "binaryListValues": [], "dataType": "Binary"}),
        );
        self
    }

    /// Overrides `md5OfBody` (to test a corrupted body).
    #[must_use]
    pub fn md5_of_body(mut self, md5: impl Into<String>) -> Self {
        self.md5 = Some(md5.into());
        self
    }

    /// Puts the record on another queue than the event's.
    #[must_use]
    pub fn queue(mut self, queue_arn: impl Into<String>) -> Self {
        self.queue_arn = Some(queue_arn.into());
        self
    }

    fn to_json(&self, event_queue: &str) -> Value {
        let md5 = self
            .md5
            .clone()
            .unwrap_or_else(|| format!("{:x}", Md5::digest(self.body.as_bytes())));
        let arn = self.queue_arn.as_deref().unwrap_or(event_queue);
        let region = arn.split(':').nth(3).unwrap_or("us-east-1");
        json!({
            "messageId": self.message_id,
            "receiptHandle": format!("receipt-{}", self.message_id),
            "body": self.body,
            "attributes": self.attributes,
            "messageAttributes": self.message_attributes,
            "md5OfBody": md5,
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": region,
        })
    }
}

/// A Kafka event (Amazon MSK by default).
#[derive(Debug, Clone)]
pub struct KafkaEventBuilder {
    source: &'static str,
    records: Vec<KafkaRecord>,
}

impl Default for KafkaEventBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl KafkaEventBuilder {
    /// An Amazon MSK event (`eventSource` `aws:kafka`).
    pub fn new() -> Self {
        Self {
            source: crate::kafka::MSK_EVENT_SOURCE,
            records: Vec::new(),
        }
    }

    /// A self-managed Kafka event (`eventSource` `SelfManagedKafka`).
    #[must_use]
    pub fn self_managed(mut self) -> Self {
        self.source = crate::kafka::SELF_MANAGED_EVENT_SOURCE;
        self
    }

    /// Adds a record (records are grouped by topic-partition as Lambda groups them).
    #[must_use]
    pub fn record(mut self, record: KafkaRecord) -> Self {
        self.records.push(record);
        self
    }

    /// The event, as JSON.
    pub fn build(&self) -> Value {
        let mut records = Map::new();
        for record in &self.records {
            let key = format!("{}-{}", record.topic, record.partition);
            let entry = records
                .entry(key)
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = entry {
                list.push(record.to_json());
            }
        }
        let mut event = json!({
            "eventSource": self.source,
            "bootstrapServers": "b-1.example.invalid:9092",
            "records": records,
        });
        if self.source == crate::kafka::MSK_EVENT_SOURCE {
            event["eventSourceArn"] =
                "arn:aws:kafka:us-east-1:123456789012:cluster/example/0".into();
        }
        event
    }
}

/// One record of a [`KafkaEventBuilder`].
#[derive(Debug, Clone)]
pub struct KafkaRecord {
    topic: String,
    partition: i64,
    offset: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Vec<u8>)>,
}

impl KafkaRecord {
    /// A record of `topic`, `partition`, at `offset`, without key, value or headers.
    pub fn new(topic: impl Into<String>, partition: i64, offset: i64) -> Self {
        Self {
            topic: topic.into(),
            partition,
            offset,
            key: None,
            value: None,
            headers: Vec::new(),
        }
    }

    /// Sets the key.
    #[must_use]
    pub fn key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.key = Some(key.as_ref().to_vec());
        self
    }

    /// Sets the value.
    #[must_use]
    pub fn value(mut self, value: impl AsRef<[u8]>) -> Self {
        self.value = Some(value.as_ref().to_vec());
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Self {
        self.headers.push((name.into(), value.as_ref().to_vec()));
        self
    }

    #[allow(clippy::cast_possible_wrap)] // Lambda sends header bytes as signed bytes
    fn to_json(&self) -> Value {
        let headers: Vec<Value> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let bytes: Vec<i8> = value.iter().map(|&b| b as i8).collect();
                json!({ name: bytes })
            })
            .collect();
        json!({
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": 1_700_000_000_000_i64,
            "timestampType": "CREATE_TIME",
            "key": self.key.as_ref().map(|k| STANDARD.encode(k)),
            "value": self.value.as_ref().map(|v| STANDARD.encode(v)),
            "headers": headers,
        })
    }
}
