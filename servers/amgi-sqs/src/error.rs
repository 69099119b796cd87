//! [`Error`]: why the SQS server could not start, run or stop, as a matchable [`ErrorKind`]
//! plus the cause.

use amgi_core::LifespanError;
use amgi_server::{ServeError, ServeErrorKind};

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is wrong: no queue, a batch size above 10, an address that is not a
    /// valid queue name and has no mapping.
    Config,
    /// A queue does not exist at the endpoint (`GetQueueUrl` said `QueueDoesNotExist`).
    QueueNotFound,
    /// SQS could not be reached (connection refused, timeout) or refused the credentials.
    Unreachable,
    /// SQS answered a call with an error (`GetQueueAttributes`, `CreateQueue`).
    Api,
    /// The application's lifespan startup failed.
    Startup,
    /// The application's lifespan shutdown failed.
    Shutdown,
    /// A queue's consumer task failed (it panicked).
    Consumer,
}

/// Why the SQS server failed: a [kind](ErrorKind) to match on, a message that names what was
/// tried (the queue, the endpoint, the option to change), and the cause.
///
/// ```
/// use amgi_sqs::{Error, ErrorKind};
///
/// let error = Error::config("--batch-size must be 10 at most (SQS receives 10 at a time)");
/// assert_eq!(error.kind(), ErrorKind::Config);
/// assert!(!error.is_retryable());
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

    /// Whether trying again later may succeed: SQS was unreachable.
    ///
    /// ```
    /// assert!(!amgi_sqs::Error::config("no queue").is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        self.kind == ErrorKind::Unreachable
    }

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

/// The SQS server's error as `run sqs` reports it.
impl From<Error> for ServeError {
    fn from(error: Error) -> Self {
        let kind = match error.kind {
            ErrorKind::Config | ErrorKind::QueueNotFound => ServeErrorKind::Config,
            ErrorKind::Unreachable => ServeErrorKind::Unreachable,
            ErrorKind::Startup => ServeErrorKind::Startup,
            ErrorKind::Shutdown => ServeErrorKind::Shutdown,
            ErrorKind::Api | ErrorKind::Consumer => ServeErrorKind::Server,
        };
        ServeError::new(kind, error)
    }
}
