//! Error types of the interface.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use crate::MessageId;

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What went wrong with a [`SendEvent`](crate::SendEvent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendErrorKind {
    /// An ack or nack named an id that is not in this batch.
    UnknownMessage,
    /// The message was already acked.
    AlreadyAcked,
    /// The message was already nacked.
    AlreadyNacked,
    /// The batch has ended; its unacknowledged messages were already treated as nacked.
    BatchFinished,
    /// The event is not valid in this scope (an ack in the lifespan scope, a lifespan event in a
    /// message scope, a second `lifespan.startup.complete`).
    UnexpectedEvent,
    /// The server is shutting down or gone.
    Closed,
    /// The server could not publish a `message.send` (broker error, full queue, …).
    Transport,
}

impl SendErrorKind {
    fn describe(self) -> &'static str {
        match self {
            Self::UnknownMessage => "unknown message id",
            Self::AlreadyAcked => "message already acked",
            Self::AlreadyNacked => "message already nacked",
            Self::BatchFinished => "batch already finished",
            Self::UnexpectedEvent => "event not valid in this scope",
            Self::Closed => "server closed",
            Self::Transport => "publish failed",
        }
    }
}

/// The error a server returns for a send event it could not accept.
///
/// ```
/// use amgi_core::{MessageId, SendError, SendErrorKind};
///
/// let error = SendError::new(SendErrorKind::AlreadyAcked).with_id(MessageId::new(4));
/// assert_eq!(error.kind(), SendErrorKind::AlreadyAcked);
/// assert_eq!(error.to_string(), "message already acked (message 4)");
/// assert!(!error.is_retryable());
/// ```
#[derive(Debug)]
pub struct SendError {
    kind: SendErrorKind,
    id: Option<MessageId>,
    detail: Option<Cow<'static, str>>,
    source: Option<BoxError>,
}

impl SendError {
    /// An error of `kind` with no further detail.
    pub fn new(kind: SendErrorKind) -> Self {
        Self {
            kind,
            id: None,
            detail: None,
            source: None,
        }
    }

    /// A [`SendErrorKind::Transport`] error caused by `source`.
    pub fn transport(source: impl Into<BoxError>) -> Self {
        Self::new(SendErrorKind::Transport).with_source(source)
    }

    /// Names the message the error is about.
    #[must_use]
    pub fn with_id(mut self, id: MessageId) -> Self {
        self.id = Some(id);
        self
    }

    /// Adds a human-readable detail.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<Cow<'static, str>>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> SendErrorKind {
        self.kind
    }

    /// The message the error is about, if any.
    pub fn id(&self) -> Option<MessageId> {
        self.id
    }

    /// The human-readable detail, if any.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// Whether sending the same event again may succeed (only transport failures may).
    pub fn is_retryable(&self) -> bool {
        self.kind == SendErrorKind::Transport
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.describe())?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        if let Some(id) = self.id {
            write!(f, " (message {id})")?;
        }
        Ok(())
    }
}

impl StdError for SendError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// What went wrong when receiving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceiveErrorKind {
    /// Every message of the batch was already received (the last had `more_messages == false`).
    BatchExhausted,
    /// The server is gone; no event will come.
    Closed,
}

/// The error a [`Receiver`](crate::Receiver) returns when no event will come.
///
/// ```
/// use amgi_core::{ReceiveError, ReceiveErrorKind};
/// let error = ReceiveError::new(ReceiveErrorKind::BatchExhausted);
/// assert_eq!(error.to_string(), "every message of the batch was already received");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveError {
    kind: ReceiveErrorKind,
}

impl ReceiveError {
    /// An error of `kind`.
    pub fn new(kind: ReceiveErrorKind) -> Self {
        Self { kind }
    }

    /// What went wrong.
    pub fn kind(&self) -> ReceiveErrorKind {
        self.kind
    }
}

impl fmt::Display for ReceiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            ReceiveErrorKind::BatchExhausted => "every message of the batch was already received",
            ReceiveErrorKind::Closed => "the server closed the receive channel",
        })
    }
}

impl StdError for ReceiveError {}

/// What an application's failure was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApplicationErrorKind {
    /// The application does not handle this scope type. For the lifespan scope a server treats
    /// this as "lifespan not supported" and carries on.
    UnsupportedScope,
    /// The application failed.
    Failed,
}

/// The error an [`Application`](crate::Application) call returns.
///
/// A server treats every message of a batch the application did not ack or nack before failing
/// as nacked with this error's text.
///
/// ```
/// use amgi_core::{ApplicationError, ApplicationErrorKind};
///
/// let error = ApplicationError::unsupported_scope("lifespan");
/// assert_eq!(error.kind(), ApplicationErrorKind::UnsupportedScope);
/// assert_eq!(error.to_string(), "unsupported scope type `lifespan`");
/// ```
#[derive(Debug)]
pub struct ApplicationError {
    kind: ApplicationErrorKind,
    inner: BoxError,
}

#[derive(Debug)]
struct Message(Cow<'static, str>);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}

impl ApplicationError {
    /// A failure caused by `error`.
    pub fn new(error: impl Into<BoxError>) -> Self {
        Self {
            kind: ApplicationErrorKind::Failed,
            inner: error.into(),
        }
    }

    /// A failure described by `message`.
    pub fn msg(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Message(message.into()))
    }

    /// The application does not handle scopes of type `scope_kind`.
    pub fn unsupported_scope(scope_kind: &str) -> Self {
        Self {
            kind: ApplicationErrorKind::UnsupportedScope,
            inner: Box::new(Message(
                format!("unsupported scope type `{scope_kind}`").into(),
            )),
        }
    }

    /// What the failure was.
    pub fn kind(&self) -> ApplicationErrorKind {
        self.kind
    }

    /// The underlying error.
    pub fn into_inner(self) -> BoxError {
        self.inner
    }
}

impl fmt::Display for ApplicationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl StdError for ApplicationError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner.source()
    }
}

impl From<SendError> for ApplicationError {
    fn from(error: SendError) -> Self {
        Self::new(error)
    }
}

impl From<ReceiveError> for ApplicationError {
    fn from(error: ReceiveError) -> Self {
        Self::new(error)
    }
}

/// A failure of the lifespan protocol, as seen by a server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LifespanError {
    /// The application sent `lifespan.startup.failed`, or failed before completing startup.
    #[error("application startup failed: {message}")]
    StartupFailed {
        /// The application's reason.
        message: String,
    },
    /// The application sent `lifespan.shutdown.failed`, or failed during shutdown.
    #[error("application shutdown failed: {message}")]
    ShutdownFailed {
        /// The application's reason.
        message: String,
    },
    /// The application broke the lifespan protocol (for example it sent an ack).
    #[error("lifespan protocol violation: {0}")]
    Protocol(Cow<'static, str>),
    /// The application did not answer within the allowed time.
    #[error("application did not answer `{event}` within {seconds:.1} s")]
    Timeout {
        /// The event left unanswered.
        event: &'static str,
        /// How long the server waited.
        seconds: f64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_error_display_and_source() {
        let io = std::io::Error::other("broker down");
        let error = SendError::transport(io).with_detail("to `orders`");
        assert!(error.is_retryable());
        assert_eq!(
            error.to_string(),
            "publish failed: to `orders`: broker down"
        );
        assert!(error.source().is_some());
    }

    #[test]
    fn application_error_from_send_error_keeps_text() {
        let error: ApplicationError = SendError::new(SendErrorKind::Closed).into();
        assert_eq!(error.kind(), ApplicationErrorKind::Failed);
        assert_eq!(error.to_string(), "server closed");
        assert_eq!(ApplicationError::msg("boom").to_string(), "boom");
    }

    #[test]
    fn lifespan_error_messages() {
        let error = LifespanError::StartupFailed {
            message: "no database".into(),
        };
        assert_eq!(error.to_string(), "application startup failed: no database");
    }
}
