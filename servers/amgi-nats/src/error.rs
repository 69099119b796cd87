//! [`NatsError`]: why the NATS server could not start, serve or stop.

use std::fmt;

use amgi_core::LifespanError;
use amgi_server::{ServeError, ServeErrorKind};

/// What went wrong, to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NatsErrorKind {
    /// The configuration is wrong (the message says what to change).
    Config,
    /// The NATS server could not be reached or refused the connection.
    Unreachable,
    /// NATS refused a subscription, or JetStream refused to look up the stream or create the
    /// consumer.
    Subscribe,
    /// A consumer task failed while running.
    Consumer,
    /// The application's lifespan startup failed.
    Startup,
    /// The application's lifespan shutdown failed.
    Shutdown,
}

impl fmt::Display for NatsErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Config => "configuration error",
            Self::Unreachable => "NATS unreachable",
            Self::Subscribe => "subscription refused",
            Self::Consumer => "consumer failed",
            Self::Startup => "startup failed",
            Self::Shutdown => "shutdown failed",
        })
    }
}

/// An error of the NATS server: a [kind](NatsErrorKind), a message, and the cause.
///
/// ```
/// use amgi_nats::{NatsError, NatsErrorKind};
///
/// let error = NatsError::config("--durable needs --stream");
/// assert_eq!(error.kind(), NatsErrorKind::Config);
/// assert!(!error.is_retryable());
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct NatsError {
    kind: NatsErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl NatsError {
    /// An error of `kind` with `message` and an optional cause.
    pub fn new(
        kind: NatsErrorKind,
        message: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            message: message.into(),
            source,
        }
    }

    /// A configuration error.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(NatsErrorKind::Config, message, None)
    }

    /// The kind.
    pub fn kind(&self) -> NatsErrorKind {
        self.kind
    }

    /// Whether trying again later may succeed (NATS was down).
    pub fn is_retryable(&self) -> bool {
        self.kind == NatsErrorKind::Unreachable
    }

    /// The application's message is in this error's own, once.
    pub(crate) fn startup(error: &LifespanError) -> Self {
        Self::new(
            NatsErrorKind::Startup,
            format!("lifespan startup failed: {error}"),
            None,
        )
    }

    pub(crate) fn shutdown(error: &LifespanError) -> Self {
        Self::new(
            NatsErrorKind::Shutdown,
            format!("lifespan shutdown failed: {error}"),
            None,
        )
    }
}

impl From<NatsError> for ServeError {
    fn from(error: NatsError) -> Self {
        let kind = match error.kind {
            NatsErrorKind::Config => ServeErrorKind::Config,
            NatsErrorKind::Unreachable => ServeErrorKind::Unreachable,
            NatsErrorKind::Subscribe | NatsErrorKind::Consumer => ServeErrorKind::Server,
            NatsErrorKind::Startup => ServeErrorKind::Startup,
            NatsErrorKind::Shutdown => ServeErrorKind::Shutdown,
        };
        ServeError::new(kind, error)
    }
}
