//! Return values → ack or nack: [`Outcome`] and [`IntoOutcome`].
//!
//! | handler returns | the message is |
//! | --- | --- |
//! | `()` | acked |
//! | a [`Message`] | published, then acked |
//! | `Option<M>`, `Vec<M>` of messages | each published, then acked |
//! | `Result<T, E>` | `Ok(t)` as `t`; `Err(e)` nacked with `e`'s `Display` |
//! | [`Outcome`] | as it says |
//!
//! A handler that panics has its message nacked with `handler panicked: …`.

use std::borrow::Cow;
use std::fmt;

use amgi_core::MessageSend;

use crate::sender::Message;

/// Why a message was nacked, by broad cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NackKind {
    /// An extractor rejected the message (missing header, bad payload, …).
    Rejected,
    /// The handler returned `Err`.
    HandlerError,
    /// The handler panicked.
    Panicked,
    /// A returned message could not be encoded.
    Encode,
    /// A returned message could not be published.
    Publish,
    /// No channel matches the address, or the channel cannot run (missing state).
    Unroutable,
    /// Middleware decided so.
    Middleware,
}

/// A nack: a reason and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nack {
    kind: NackKind,
    reason: Cow<'static, str>,
}

impl Nack {
    /// A nack of `kind` with `reason`.
    pub fn new(kind: NackKind, reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            reason: reason.into(),
        }
    }

    /// The kind.
    pub fn kind(&self) -> NackKind {
        self.kind
    }

    /// The reason sent to the server.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    pub(crate) fn into_reason(self) -> Cow<'static, str> {
        self.reason
    }
}

impl fmt::Display for Nack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// How handling one message ended: ack (after publishing `outgoing`) or nack.
///
/// Middleware sees and may replace the outcome of the handler it wraps.
///
/// ```
/// use asyncfast::{NackKind, Outcome};
///
/// assert!(Outcome::ack().is_ack());
/// let nack = Outcome::nack(NackKind::HandlerError, "database down");
/// assert_eq!(nack.nack_reason(), Some("database down"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Outcome {
    /// Publish these messages, then ack.
    Ack(Vec<MessageSend>),
    /// Nack.
    Nack(Nack),
}

impl Outcome {
    /// Ack, publishing nothing.
    pub fn ack() -> Self {
        Self::Ack(Vec::new())
    }

    /// Nack with `reason`.
    pub fn nack(kind: NackKind, reason: impl Into<Cow<'static, str>>) -> Self {
        Self::Nack(Nack::new(kind, reason))
    }

    /// Whether the message is to be acked.
    pub fn is_ack(&self) -> bool {
        matches!(self, Self::Ack(_))
    }

    /// The nack reason, if nacked.
    pub fn nack_reason(&self) -> Option<&str> {
        match self {
            Self::Ack(_) => None,
            Self::Nack(nack) => Some(nack.reason()),
        }
    }

    /// The messages to publish before acking.
    pub fn outgoing(&self) -> &[MessageSend] {
        match self {
            Self::Ack(outgoing) => outgoing,
            Self::Nack(_) => &[],
        }
    }

    fn push(mut self, message: impl Message) -> Self {
        if let Self::Ack(outgoing) = &mut self {
            match message.into_message_send() {
                Ok(message) => outgoing.push(message),
                Err(error) => return Self::nack(NackKind::Encode, error.to_string()),
            }
        }
        self
    }
}

/// A handler's return type.
#[diagnostic::on_unimplemented(
    message = "a handler cannot return `{Self}`",
    note = "handlers return `()`, a `#[derive(Message)]` type, `Option` or `Vec` of messages, \
            `Outcome`, or a `Result` of any of these whose error implements `Display`"
)]
pub trait IntoOutcome {
    /// Converts the return value.
    fn into_outcome(self) -> Outcome;
}

impl IntoOutcome for () {
    fn into_outcome(self) -> Outcome {
        Outcome::ack()
    }
}

impl IntoOutcome for Outcome {
    fn into_outcome(self) -> Outcome {
        self
    }
}

impl<M: Message> IntoOutcome for M {
    fn into_outcome(self) -> Outcome {
        Outcome::ack().push(self)
    }
}

impl<M: Message> IntoOutcome for Option<M> {
    fn into_outcome(self) -> Outcome {
        match self {
            Some(message) => message.into_outcome(),
            None => Outcome::ack(),
        }
    }
}

impl<M: Message> IntoOutcome for Vec<M> {
    fn into_outcome(self) -> Outcome {
        let mut outcome = Outcome::Ack(Vec::with_capacity(self.len()));
        for message in self {
            outcome = outcome.push(message);
        }
        outcome
    }
}

impl<T: IntoOutcome, E: fmt::Display> IntoOutcome for Result<T, E> {
    fn into_outcome(self) -> Outcome {
        match self {
            Ok(value) => value.into_outcome(),
            Err(error) => Outcome::nack(NackKind::HandlerError, error.to_string()),
        }
    }
}
