//! `message.send`: producing the application's messages (and dead letters) with rdkafka's
//! `FutureProducer`.

use std::time::Duration;

use amgi_core::batch::Publisher;
use amgi_core::{EventFuture, Headers, MessageSend, SendError, SendErrorKind};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;

use crate::client::ProducerLog;

/// The producer every server uses for `message.send` and dead letters.
pub(crate) type Producer = FutureProducer<ProducerLog>;

/// How long a send may wait for room in librdkafka's local queue. Once queued, librdkafka's
/// `delivery.timeout.ms` bounds the delivery itself.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(30);

/// One record to produce.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record<'a> {
    pub(crate) topic: &'a str,
    pub(crate) headers: &'a Headers,
    pub(crate) payload: Option<&'a [u8]>,
    pub(crate) key: Option<&'a [u8]>,
    pub(crate) partition: Option<i32>,
    pub(crate) timestamp: Option<i64>,
}

/// Broker and librdkafka error codes that no retry of the same record can fix: the record (or
/// its topic name) is refused for what it is, or the producer is not allowed to write to the
/// topic. Dead-lettering gives up on these at once (see the crate docs).
///
/// `UnknownTopicOrPartition` is *not* in the list: a dead-letter topic that does not exist yet
/// is something an operator fixes by creating it, and skipping meanwhile would lose messages.
pub(crate) const PERMANENT_PRODUCE_ERRORS: [RDKafkaErrorCode; 8] = [
    RDKafkaErrorCode::MessageSizeTooLarge,
    RDKafkaErrorCode::InvalidMessageSize,
    RDKafkaErrorCode::MessageBatchTooLarge,
    RDKafkaErrorCode::InvalidRecord,
    RDKafkaErrorCode::InvalidMessage,
    RDKafkaErrorCode::InvalidTopic,
    RDKafkaErrorCode::TopicAuthorizationFailed,
    RDKafkaErrorCode::PolicyViolation,
];

/// Why a record could not be produced.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProduceError {
    /// A header cannot be carried by Kafka.
    #[error(transparent)]
    Headers(SendError),
    /// librdkafka or the broker refused or lost the record.
    #[error("to topic `{topic}`: {error}")]
    Kafka {
        /// The topic produced to.
        topic: String,
        /// What librdkafka reported.
        error: KafkaError,
    },
}

impl ProduceError {
    /// Whether producing the same record again can never succeed
    /// ([`PERMANENT_PRODUCE_ERRORS`], or a header Kafka cannot carry).
    pub(crate) fn is_permanent(&self) -> bool {
        match self {
            Self::Headers(_) => true,
            Self::Kafka { error, .. } => error
                .rdkafka_error_code()
                .is_some_and(|code| PERMANENT_PRODUCE_ERRORS.contains(&code)),
        }
    }
}

impl From<ProduceError> for SendError {
    fn from(error: ProduceError) -> Self {
        match error {
            ProduceError::Headers(error) => error,
            ProduceError::Kafka { topic, error } => {
                SendError::transport(error).with_detail(format!("to topic `{topic}`"))
            }
        }
    }
}

/// Produces records and waits for their delivery reports.
#[derive(Clone)]
pub(crate) struct KafkaPublisher {
    producer: Producer,
}

impl KafkaPublisher {
    pub(crate) fn new(producer: Producer) -> Self {
        Self { producer }
    }

    /// Produces `record` and waits until the broker acknowledged it (per the producer's
    /// `acks`), or it failed.
    pub(crate) async fn produce(&self, record: Record<'_>) -> Result<(), ProduceError> {
        let headers = kafka_headers(record.headers).map_err(ProduceError::Headers)?;
        let mut future = FutureRecord::<[u8], [u8]>::to(record.topic).headers(headers);
        if let Some(payload) = record.payload {
            future = future.payload(payload);
        }
        if let Some(key) = record.key {
            future = future.key(key);
        }
        if let Some(partition) = record.partition {
            future = future.partition(partition);
        }
        if let Some(timestamp) = record.timestamp {
            future = future.timestamp(timestamp);
        }
        match self.producer.send(future, QUEUE_TIMEOUT).await {
            Ok(_) => Ok(()),
            Err((error, _)) => Err(ProduceError::Kafka {
                topic: record.topic.to_owned(),
                error,
            }),
        }
    }
}

/// Converts headers, refusing names Kafka cannot carry (they are strings on the wire).
fn kafka_headers(headers: &Headers) -> Result<OwnedHeaders, SendError> {
    let mut kafka = OwnedHeaders::new_with_capacity(headers.len());
    for (index, (name, value)) in headers.iter().enumerate() {
        let name = std::str::from_utf8(name)
            .ok()
            .filter(|n| !n.contains('\0'))
            .ok_or_else(|| {
                SendError::new(SendErrorKind::UnexpectedEvent).with_detail(format!(
                    "header #{index} ({name:?}): Kafka header names must be UTF-8 without NUL"
                ))
            })?;
        kafka = kafka.insert(Header {
            key: name,
            value: Some(&value[..]),
        });
    }
    Ok(kafka)
}

impl Publisher for KafkaPublisher {
    fn publish(&self, message: MessageSend) -> EventFuture<'_, Result<(), SendError>> {
        EventFuture::boxed(async move {
            let binding = message.bindings.kafka();
            self.produce(Record {
                topic: &message.address,
                headers: &message.headers,
                payload: message.payload.as_deref(),
                key: binding.and_then(|b| b.key.as_deref()),
                partition: binding.and_then(|b| b.partition),
                timestamp: binding.and_then(|b| b.timestamp),
            })
            .await
            .map_err(SendError::from)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::Headers as _;

    #[test]
    fn headers_keep_order_repeats_and_binary_values() {
        let headers = Headers::new()
            .with("a", "1")
            .with("bin", &[0_u8, 255][..])
            .with("a", "");
        let kafka = kafka_headers(&headers).unwrap();
        let pairs: Vec<_> = kafka
            .iter()
            .map(|h| (h.key.to_owned(), h.value.unwrap().to_vec()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("a".to_owned(), b"1".to_vec()),
                ("bin".to_owned(), vec![0, 255]),
                ("a".to_owned(), Vec::new()),
            ]
        );
    }

    #[test]
    fn header_names_must_be_text() {
        let error =
            kafka_headers(&Headers::new().with("ok", "1").with(&[0xff_u8][..], "v")).unwrap_err();
        assert_eq!(error.kind(), SendErrorKind::UnexpectedEvent);
        assert!(error.to_string().contains("header #1"), "{error}");
        assert!(kafka_headers(&Headers::new().with("a\0b", "v")).is_err());
    }

    #[test]
    fn refused_records_are_permanent_failures_and_outages_are_not() {
        let kafka = |code| ProduceError::Kafka {
            topic: "t.dlq".into(),
            error: KafkaError::MessageProduction(code),
        };
        assert!(kafka(RDKafkaErrorCode::MessageSizeTooLarge).is_permanent());
        assert!(kafka(RDKafkaErrorCode::TopicAuthorizationFailed).is_permanent());
        assert!(!kafka(RDKafkaErrorCode::MessageTimedOut).is_permanent());
        assert!(!kafka(RDKafkaErrorCode::UnknownTopicOrPartition).is_permanent());
        assert!(!kafka(RDKafkaErrorCode::BrokerTransportFailure).is_permanent());
        let headers = ProduceError::Headers(SendError::new(SendErrorKind::UnexpectedEvent));
        assert!(headers.is_permanent());
    }
}
