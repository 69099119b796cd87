//! Return values → ack or nack: [`Outcome`] and [`IntoOutcome`].
//!
//! | handler returns | the message is |
//! | --- | --- |
//! | `()` | acked |
//! | a [`Message`] | published, then acked |
//! | `Option<M>`, `Vec<M>` of messages | each published, then acked |
//! | [`Reply<T>`](crate::Reply) | `T` sent to the request's reply address, then acked |
//! | `Result<T, E>` | `Ok(t)` as `t`; `Err(e)` nacked with `e`'s `Display` (a [`Nack`] as it is); for `Result<Reply<T>, E>`, an error reply to the requester |
//! | [`Outcome`] | as it says |
//!
//! A handler that panics has its message nacked with `handler panicked: …`.
//!
//! Every nack says how the server is to retry the message ([`NackRetry`]): the framework's own
//! nacks for what can never succeed — an undecodable payload, a missing or invalid header, an
//! address no channel takes, a returned message that cannot be encoded — are
//! [`NackRetry::Never`] (dead-lettered at once); handler errors and panics are retried as the
//! server's policy says. A handler chooses with [`Nack::retry_after`] and [`Nack::reject`].

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use amgi_core::{MessageSend, NackRetry};

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

impl NackKind {
    /// How a nack of this kind is retried unless it says otherwise: never for what cannot
    /// succeed on a redelivery ([`Rejected`](Self::Rejected), [`Encode`](Self::Encode),
    /// [`Unroutable`](Self::Unroutable)), as the server's policy says for the rest.
    pub fn default_retry(self) -> NackRetry {
        match self {
            Self::Rejected | Self::Encode | Self::Unroutable => NackRetry::Never,
            Self::HandlerError | Self::Panicked | Self::Publish | Self::Middleware => {
                NackRetry::Policy
            }
        }
    }
}

/// A nack: a reason, its kind, and how the server is to retry the message.
///
/// A handler returns one in an [`Outcome`] or as the error of a `Result`:
///
/// ```
/// use std::time::Duration;
/// use asyncfast::{Nack, NackKind, Outcome};
/// use asyncfast::amgi::NackRetry;
///
/// // Try again in a minute (the delivery still counts against the server's maximum).
/// let later = Nack::retry_after(Duration::from_secs(60), "rate limited");
/// assert_eq!(later.retry(), NackRetry::After(Duration::from_secs(60)));
/// // Never: straight to the dead-letter address.
/// let rejected = Nack::reject("order belongs to another tenant");
/// assert_eq!(rejected.retry(), NackRetry::Never);
/// // As the server's policy says.
/// assert_eq!(Nack::error("database down").retry(), NackRetry::Policy);
/// let outcome: Outcome = rejected.into();
/// assert_eq!(outcome.nack_reason(), Some("order belongs to another tenant"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nack {
    kind: NackKind,
    reason: Cow<'static, str>,
    retry: NackRetry,
}

impl Nack {
    /// A nack of `kind` with `reason`, retried as [`NackKind::default_retry`] says.
    pub fn new(kind: NackKind, reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            reason: reason.into(),
            retry: kind.default_retry(),
        }
    }

    /// A handler error retried as the server's policy says (backoff, then dead letter).
    pub fn error(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(NackKind::HandlerError, reason)
    }

    /// A handler error to be redelivered after `delay` instead of the policy's backoff.
    pub fn retry_after(delay: Duration, reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(NackKind::HandlerError, reason).with_retry(NackRetry::After(delay))
    }

    /// A message the handler will never accept: dead-lettered at once.
    pub fn reject(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(NackKind::HandlerError, reason).with_retry(NackRetry::Never)
    }

    /// The same nack, retried as `retry` says.
    #[must_use]
    pub fn with_retry(mut self, retry: NackRetry) -> Self {
        self.retry = retry;
        self
    }

    /// The kind.
    pub fn kind(&self) -> NackKind {
        self.kind
    }

    /// How the server is to retry the message.
    pub fn retry(&self) -> NackRetry {
        self.retry
    }

    /// The reason sent to the server.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    pub(crate) fn into_parts(self) -> (Cow<'static, str>, NackRetry) {
        (self.reason, self.retry)
    }
}

impl fmt::Display for NackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Rejected => "rejected",
            Self::HandlerError => "handler error",
            Self::Panicked => "panicked",
            Self::Encode => "encode",
            Self::Publish => "publish",
            Self::Unroutable => "unroutable",
            Self::Middleware => "middleware",
        })
    }
}

impl From<Nack> for Outcome {
    fn from(nack: Nack) -> Self {
        Self::Nack(nack)
    }
}

impl std::error::Error for Nack {}

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
#[non_exhaustive]
pub enum Outcome {
    /// Publish these messages, then ack.
    Ack(Vec<MessageSend>),
    /// Nack.
    Nack(Nack),
    /// Answer the request being handled (see [`Reply`](crate::Reply)): the reply is sent to the
    /// request's reply address, then the request is acked.
    Reply(crate::reply::ReplyBody),
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

    /// Whether the message is to be acked (a reply is acked once sent).
    pub fn is_ack(&self) -> bool {
        matches!(self, Self::Ack(_) | Self::Reply(_))
    }

    /// The nack reason, if nacked.
    pub fn nack_reason(&self) -> Option<&str> {
        match self {
            Self::Ack(_) | Self::Reply(_) => None,
            Self::Nack(nack) => Some(nack.reason()),
        }
    }

    /// The messages to publish before acking (a reply is addressed later, when its request is
    /// known, and is not among them).
    pub fn outgoing(&self) -> &[MessageSend] {
        match self {
            Self::Ack(outgoing) => outgoing,
            Self::Nack(_) | Self::Reply(_) => &[],
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
    note = "handlers return `()`, a `#[derive(Message)]` type, `Option` or `Vec` of messages, `Reply<T>`, \
            `Outcome`, or a `Result` of any of these whose error implements `Display`"
)]
pub trait IntoOutcome {
    /// Converts the return value.
    fn into_outcome(self) -> Outcome;

    /// The outcome of `Err(e)` in a `Result<Self, E>`, given `e` as a nack: the nack itself,
    /// except for [`Reply`](crate::Reply), which answers the requester with an error reply.
    fn error_outcome(nack: Nack) -> Outcome
    where
        Self: Sized,
    {
        Outcome::Nack(nack)
    }
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

/// `Err(e)` nacks with `e`'s `Display` as a handler error, retried as the server's policy says;
/// when `e` is a [`Nack`] (`Result<T, Nack>`), the nack as it is.
impl<T: IntoOutcome, E: fmt::Display + 'static> IntoOutcome for Result<T, E> {
    fn into_outcome(self) -> Outcome {
        match self {
            Ok(value) => value.into_outcome(),
            Err(error) => T::error_outcome(
                match (&error as &dyn std::any::Any).downcast_ref::<Nack>() {
                    Some(nack) => nack.clone(),
                    None => Nack::new(NackKind::HandlerError, error.to_string()),
                },
            ),
        }
    }
}
