//! [`AmqpError`]: why the AMQP server could not start, serve or stop.

use std::fmt;

use amgi_server::{ServeError, ServeErrorKind};

/// What went wrong, to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AmqpErrorKind {
    /// The configuration is wrong (the message says what to change).
    Config,
    /// The broker could not be reached or refused the connection.
    Unreachable,
    /// The broker refused a declaration, a binding or a consumer (a missing queue with
    /// `--no-declare`, a queue declared with other arguments).
    Topology,
    /// The application's lifespan startup failed.
    Startup,
    /// The application's lifespan shutdown failed.
    Shutdown,
}

impl fmt::Display for AmqpErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Config => "configuration error",
            Self::Unreachable => "broker unreachable",
            Self::Topology => "queue or binding refused",
            Self::Startup => "startup failed",
            Self::Shutdown => "shutdown failed",
        })
    }
}

/// An error of the AMQP server: a [kind](AmqpErrorKind), a message, and the cause. Messages
/// name the broker by its [redacted](crate::AmqpUrl) URL: never with its password.
///
/// ```
/// use amgi_amqp::{AmqpError, AmqpErrorKind};
///
/// let error = AmqpError::config("--batch-size must be at least 1");
/// assert_eq!(error.kind(), AmqpErrorKind::Config);
/// assert!(!error.is_retryable());
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AmqpError {
    kind: AmqpErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl AmqpError {
    /// An error of `kind` with `message` and an optional cause.
    pub fn new(
        kind: AmqpErrorKind,
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
        Self::new(AmqpErrorKind::Config, message, None)
    }

    /// The kind.
    pub fn kind(&self) -> AmqpErrorKind {
        self.kind
    }

    /// Whether trying again later may succeed (the broker was down).
    pub fn is_retryable(&self) -> bool {
        self.kind == AmqpErrorKind::Unreachable
    }
}

impl From<AmqpError> for ServeError {
    fn from(error: AmqpError) -> Self {
        let kind = match error.kind {
            AmqpErrorKind::Config => ServeErrorKind::Config,
            AmqpErrorKind::Unreachable => ServeErrorKind::Unreachable,
            AmqpErrorKind::Topology => ServeErrorKind::Server,
            AmqpErrorKind::Startup => ServeErrorKind::Startup,
            AmqpErrorKind::Shutdown => ServeErrorKind::Shutdown,
        };
        ServeError::new(kind, error)
    }
}
