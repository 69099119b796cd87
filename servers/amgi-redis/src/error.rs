//! [`Error`]: why the Redis server could not start, run or stop, as a matchable
//! [`ErrorKind`] plus the cause.

use amgi_core::LifespanError;
use amgi_server::{ServeError, ServeErrorKind};

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is wrong: a URL that does not parse, no group, no stream.
    Config,
    /// Redis could not be reached (connection refused, connect timeout) or refused the
    /// credentials.
    Unreachable,
    /// Redis answered a command with an error (`XGROUP CREATE` on a key that is not a stream).
    Command,
    /// The application's lifespan startup failed.
    Startup,
    /// The application's lifespan shutdown failed.
    Shutdown,
    /// A consumer task failed (it panicked).
    Consumer,
}

/// Why the Redis server failed: a [kind](ErrorKind) to match on, a message that names what
/// was tried (the URL with any password redacted, the stream, the command), and the cause.
///
/// ```
/// use amgi_redis::{Error, ErrorKind};
///
/// let error = Error::config("no consumer group: set --group");
/// assert_eq!(error.kind(), ErrorKind::Config);
/// assert_eq!(error.to_string(), "no consumer group: set --group");
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// An error of `kind` saying `message`, caused by `source`.
    pub fn new(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A [`ErrorKind::Config`] error saying `message`.
    pub fn config(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Config,
            message: message.into(),
            source: None,
        }
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether trying again later may succeed: Redis was unreachable.
    ///
    /// ```
    /// assert!(!amgi_redis::Error::config("bad URL").is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        self.kind == ErrorKind::Unreachable
    }

    /// The application's message is in this error's own, once (no source to repeat it).
    pub(crate) fn startup(error: &LifespanError) -> Self {
        Self {
            kind: ErrorKind::Startup,
            message: format!("lifespan startup failed: {error}"),
            source: None,
        }
    }

    pub(crate) fn shutdown(error: &LifespanError) -> Self {
        Self {
            kind: ErrorKind::Shutdown,
            message: format!("lifespan shutdown failed: {error}"),
            source: None,
        }
    }
}

/// The Redis server's error as `run redis` reports it.
impl From<Error> for ServeError {
    fn from(error: Error) -> Self {
        let kind = match error.kind {
            ErrorKind::Config => ServeErrorKind::Config,
            ErrorKind::Unreachable => ServeErrorKind::Unreachable,
            ErrorKind::Startup => ServeErrorKind::Startup,
            ErrorKind::Shutdown => ServeErrorKind::Shutdown,
            ErrorKind::Command | ErrorKind::Consumer => ServeErrorKind::Server,
        };
        ServeError::new(kind, error)
    }
}
