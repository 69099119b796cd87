//! Errors of the broker ([`PublishError`]) and the server ([`ServerError`]).

use std::fmt;
use std::sync::Arc;

use amgi_core::{LifespanError, MessageSend, SendError, SendErrorKind};
use tokio::runtime::TryCurrentError;
use tokio::task::JoinError;

/// Why a message could not be published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishErrorKind {
    /// The queue holds as many messages as its capacity allows.
    /// [`Broker::try_publish`](crate::Broker::try_publish) returns it at once,
    /// [`Broker::publish`](crate::Broker::publish) waits instead, and an application's
    /// `message.send` fails with it (as the source of a retryable
    /// [`SendError`](amgi_core::SendError)) after [`BrokerConfig::send_timeout`](crate::BrokerConfig::send_timeout).
    Full,
    /// The broker was closed with [`Broker::close`](crate::Broker::close).
    Closed,
}

impl fmt::Display for PublishErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full => "the queue is full",
            Self::Closed => "the broker is closed",
        })
    }
}

/// A message the broker did not accept, with the reason and the message itself.
///
/// The message is handed back so that a caller can retry without having kept a copy.
///
/// ```
/// use amgi_core::MessageSend;
/// use amgi_memory::{Broker, BrokerConfig, PublishErrorKind};
///
/// let broker = Broker::new(BrokerConfig::new().capacity(1));
/// broker.try_publish(MessageSend::new("jobs").payload("1")).unwrap();
/// let error = broker.try_publish(MessageSend::new("jobs").payload("2")).unwrap_err();
/// assert_eq!(error.kind(), PublishErrorKind::Full);
/// assert!(error.is_retryable());
/// assert_eq!(error.to_string(), "cannot publish to `jobs`: the queue is full (capacity 1)");
/// assert_eq!(error.into_message().payload.as_deref(), Some(&b"2"[..]));
/// ```
#[derive(Debug, thiserror::Error)]
#[error("cannot publish to `{}`: {kind}{}", .message.address, self.capacity_note())]
pub struct PublishError {
    kind: PublishErrorKind,
    message: Box<MessageSend>,
    capacity: usize,
}

impl PublishError {
    pub(crate) fn new(kind: PublishErrorKind, message: MessageSend, capacity: usize) -> Self {
        Self {
            kind,
            message: Box::new(message),
            capacity,
        }
    }

    fn capacity_note(&self) -> String {
        match self.kind {
            PublishErrorKind::Full => format!(" (capacity {})", self.capacity),
            PublishErrorKind::Closed => String::new(),
        }
    }

    /// The capacity of the queue (see [`BrokerConfig::capacity`](crate::BrokerConfig::capacity)).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Why the message was not accepted.
    pub fn kind(&self) -> PublishErrorKind {
        self.kind
    }

    /// Whether publishing the same message again may succeed: a full queue may drain, a closed
    /// broker stays closed.
    pub fn is_retryable(&self) -> bool {
        self.kind == PublishErrorKind::Full
    }

    /// The address the message was published to.
    pub fn address(&self) -> &str {
        &self.message.address
    }

    /// The message that was not accepted.
    pub fn message(&self) -> &MessageSend {
        &self.message
    }

    /// Takes back the message that was not accepted.
    pub fn into_message(self) -> MessageSend {
        *self.message
    }
}

/// A `message.send` the broker refused, as the application sees it: a closed broker is
/// [`SendErrorKind::Closed`], anything else a [`SendErrorKind::Transport`] failure.
impl From<PublishError> for SendError {
    fn from(error: PublishError) -> Self {
        match error.kind {
            PublishErrorKind::Closed => SendError::new(SendErrorKind::Closed)
                .with_detail(format!("cannot publish to `{}`", error.address())),
            PublishErrorKind::Full => SendError::transport(error),
        }
    }
}

/// Why a [`Server`](crate::Server) failed to start, or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// `start` was called outside a Tokio runtime.
    #[error("the memory server needs a Tokio runtime: {0}")]
    Runtime(#[source] TryCurrentError),
    /// Lifespan startup failed (the application's message is included); the server consumed
    /// nothing.
    #[error("server did not start: {0}")]
    Startup(#[source] LifespanError),
    /// Lifespan shutdown failed. Every batch had finished before it ran.
    #[error("lifespan shutdown failed: {0}")]
    Shutdown(#[source] LifespanError),
    /// A consumer task of `address` panicked. Its in-flight messages were put back in the queue.
    #[error("the consumer of `{address}` failed: {source}")]
    Consumer {
        /// The address the task consumed.
        address: Arc<str>,
        /// The task's failure.
        source: JoinError,
    },
    /// The task that supervises the consumers failed.
    #[error("the server task failed: {0}")]
    Supervisor(#[source] JoinError),
}
