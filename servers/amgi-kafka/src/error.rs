//! The error type of the server: one struct with a small, matchable [`ErrorKind`].

use std::borrow::Cow;
use std::fmt;

use amgi_core::LifespanError;
use rdkafka::error::KafkaError;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, in a form to match on.
///
/// ```
/// use amgi_kafka::{Error, ErrorKind};
///
/// fn explain(error: &Error) -> &'static str {
///     match error.kind() {
///         ErrorKind::Config => "fix the configuration",
///         ErrorKind::Unreachable => "is the broker running?",
///         ErrorKind::Startup | ErrorKind::Shutdown => "the application refused",
///         _ => "see the message",
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is invalid: no topic, no group id, a property librdkafka rejects, a
    /// malformed `key=value`. Not retryable.
    Config,
    /// No broker answered a metadata request within the startup timeout.
    Unreachable,
    /// The application's lifespan startup failed (`lifespan.startup.failed`, an error or a
    /// panic); the server did not consume anything.
    Startup,
    /// Graceful shutdown did not complete: the application's lifespan shutdown failed, or the
    /// consumer did not close within its deadline.
    Shutdown,
    /// The consumer failed while running (a fatal librdkafka error); the server stopped.
    Consumer,
}

impl ErrorKind {
    fn describe(self) -> &'static str {
        match self {
            Self::Config => "invalid Kafka server configuration",
            Self::Unreachable => "Kafka broker unreachable",
            Self::Startup => "application startup failed",
            Self::Shutdown => "shutdown failed",
            Self::Consumer => "Kafka consumer failed",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// An error starting, running or stopping a [`Server`](crate::Server).
///
/// ```
/// use amgi_kafka::{Error, ErrorKind};
///
/// let error = Error::config("no topic to consume");
/// assert_eq!(error.kind(), ErrorKind::Config);
/// assert!(!error.is_retryable());
/// assert_eq!(error.to_string(), "invalid Kafka server configuration: no topic to consume");
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct Error {
    kind: ErrorKind,
    detail: Cow<'static, str>,
    #[source]
    source: Option<BoxError>,
}

impl Error {
    /// An error of `kind` described by `detail`.
    pub fn new(kind: ErrorKind, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            source: None,
        }
    }

    /// A [`ErrorKind::Config`] error.
    pub fn config(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Config, detail)
    }

    /// Adds the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable detail, without the kind.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// Whether starting the server again later may succeed: the broker was unreachable, or
    /// the consumer failed at run time. (A slow group join is no error: the server waits.)
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::Unreachable | ErrorKind::Consumer)
    }

    pub(crate) fn kafka(
        kind: ErrorKind,
        what: impl Into<Cow<'static, str>>,
        e: KafkaError,
    ) -> Self {
        let what = what.into();
        Self::new(kind, format!("{what}: {e}")).with_source(e)
    }

    pub(crate) fn lifespan(kind: ErrorKind, e: LifespanError) -> Self {
        let detail = match &e {
            LifespanError::StartupFailed { message }
            | LifespanError::ShutdownFailed { message } => message.clone(),
            other => other.to_string(),
        };
        Self::new(kind, detail).with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_say_what_is_retryable() {
        assert!(Error::new(ErrorKind::Unreachable, "x").is_retryable());
        assert!(Error::new(ErrorKind::Consumer, "x").is_retryable());
        assert!(!Error::new(ErrorKind::Startup, "x").is_retryable());
        assert!(!Error::config("x").is_retryable());
    }

    #[test]
    fn display_includes_the_lifespan_message() {
        let error = Error::lifespan(
            ErrorKind::Startup,
            LifespanError::StartupFailed {
                message: "no database".into(),
            },
        );
        assert_eq!(error.to_string(), "application startup failed: no database");
        assert!(std::error::Error::source(&error).is_some());
    }
}
