//! [`InvocationError`]: why an invocation failed as a whole (Lambda then retries it).

use std::fmt;

use amgi_core::SendError;

/// Why an invocation failed: Lambda reports it to the runtime API as an invocation error and
/// the event source retries the whole batch.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct InvocationError {
    kind: InvocationErrorKind,
}

/// What went wrong with an invocation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvocationErrorKind {
    /// The event is neither an SQS nor a Kafka event-source mapping's event.
    #[error("unsupported event: {0}")]
    UnsupportedEvent(String),
    /// The event could not be read as the event of its source.
    #[error("malformed {source_name} event: {error}")]
    Malformed {
        /// `SQS` or `Kafka`.
        source_name: &'static str,
        /// The decoding error.
        error: serde_json::Error,
    },
    /// A failed SQS record has no `messageId`, so the partial batch response cannot name it.
    #[error("an SQS record of queue `{queue}` failed and has no messageId to report")]
    MissingMessageId {
        /// The queue name.
        queue: String,
    },
    /// Kafka records were nacked under [`KafkaOnNack::Fail`](crate::KafkaOnNack::Fail).
    #[error("{}", KafkaNacks(.0))]
    KafkaNacked(Vec<KafkaNack>),
    /// A Kafka record could not be dead-lettered.
    #[error("dead letter of {record} to `{address}` failed: {error}")]
    DeadLetter {
        /// `topic-partition@offset`.
        record: String,
        /// The dead-letter address.
        address: String,
        /// The send error.
        error: SendError,
    },
}

/// One nacked Kafka record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaNack {
    /// Its topic.
    pub topic: String,
    /// Its partition.
    pub partition: i64,
    /// Its offset.
    pub offset: i64,
    /// The nack reason.
    pub reason: String,
}

struct KafkaNacks<'a>(&'a [KafkaNack]);

impl fmt::Display for KafkaNacks<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kafka records nacked (AMGI_KAFKA_ON_NACK=fail: the batch is retried):")?;
        for nack in self.0 {
            write!(
                f,
                " {}-{}@{}: {};",
                nack.topic, nack.partition, nack.offset, nack.reason
            )?;
        }
        Ok(())
    }
}

impl InvocationError {
    pub(crate) fn new(kind: InvocationErrorKind) -> Self {
        Self { kind }
    }

    /// What went wrong.
    pub fn kind(&self) -> &InvocationErrorKind {
        &self.kind
    }
}

impl From<InvocationError> for lambda_runtime::Diagnostic {
    fn from(error: InvocationError) -> Self {
        let error_type = match error.kind {
            InvocationErrorKind::UnsupportedEvent(_) => "UnsupportedEvent",
            InvocationErrorKind::Malformed { .. } => "MalformedEvent",
            InvocationErrorKind::MissingMessageId { .. } => "MissingMessageId",
            InvocationErrorKind::KafkaNacked(_) => "KafkaNacked",
            InvocationErrorKind::DeadLetter { .. } => "DeadLetterFailed",
        };
        Self {
            error_type: format!("amgi_lambda::{error_type}"),
            error_message: error.to_string(),
        }
    }
}
