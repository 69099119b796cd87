//! Events: what a server sends an application ([`ReceiveEvent`]) and what the application sends
//! back ([`SendEvent`]).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::{Binding, Bindings, Headers};

/// The id of a delivered message, used to ack or nack it.
///
/// Ids are opaque tokens chosen by the server, unique among the messages a server has in flight.
/// They are not broker message ids: those travel in the [`Binding`] (Kafka offset, SQS message
/// id, Redis stream id). Being a plain integer, an id costs nothing to copy or compare.
///
/// ```
/// use amgi_core::MessageId;
/// assert_eq!(MessageId::new(7).to_string(), "7");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(u64);

impl MessageId {
    /// Wraps a raw id.
    pub const fn new(raw: u64) -> Self {
        Self(raw)
    }

    /// The raw id.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// `message.receive`: one message of the batch.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MessageReceive {
    /// Id to ack or nack the message with.
    pub id: MessageId,
    /// Headers, in order.
    pub headers: Headers,
    /// Payload; `None` when the message has none.
    pub payload: Option<Bytes>,
    /// The binding of the protocol the message came from, if the server provides one.
    pub binding: Option<Binding>,
    /// Whether more messages of this batch follow. The application keeps receiving until this is
    /// `false`.
    pub more_messages: bool,
}

impl MessageReceive {
    /// A message with the given id and no headers, payload or binding, last of its batch.
    pub fn new(id: MessageId) -> Self {
        Self {
            id,
            headers: Headers::new(),
            payload: None,
            binding: None,
            more_messages: false,
        }
    }
}

/// An event a server sends to an application.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ReceiveEvent {
    /// `message.receive`.
    Message(MessageReceive),
    /// `lifespan.startup`: the server is starting and waits for `lifespan.startup.complete` or
    /// `lifespan.startup.failed`.
    LifespanStartup,
    /// `lifespan.shutdown`: the server has stopped taking batches and waits for
    /// `lifespan.shutdown.complete` or `lifespan.shutdown.failed`.
    LifespanShutdown,
}

impl ReceiveEvent {
    /// The event type as the specification spells it, e.g. `"message.receive"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Message(_) => "message.receive",
            Self::LifespanStartup => "lifespan.startup",
            Self::LifespanShutdown => "lifespan.shutdown",
        }
    }
}

/// `message.ack`: the message was handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageAck {
    /// Id of the message.
    pub id: MessageId,
}

/// How a nacked message is to be retried: the `nack.retry` extension of AMGI.
///
/// A server that honours it says so with [`NackRetrySupport`](crate::extension::NackRetrySupport)
/// in the scope's extensions; a server without it treats every nack as [`NackRetry::Policy`].
///
/// ```
/// use std::time::Duration;
/// use amgi_core::{MessageId, NackRetry, SendEvent};
///
/// let never = SendEvent::nack_with(MessageId::new(1), "not JSON", NackRetry::Never);
/// let later = NackRetry::After(Duration::from_secs(30));
/// assert_eq!(NackRetry::default(), NackRetry::Policy);
/// assert!(!later.is_never());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum NackRetry {
    /// Redeliver as the server's retry policy says (backoff, then the dead-letter address after
    /// the last allowed delivery). The default.
    #[default]
    Policy,
    /// Never redeliver: the message can never succeed (an undecodable payload, a missing
    /// header), so it goes to the dead-letter address now.
    Never,
    /// Redeliver after this delay instead of the policy's backoff. The delivery still counts
    /// against the server's maximum number of deliveries.
    After(Duration),
}

impl NackRetry {
    /// Whether the message is never to be redelivered.
    pub fn is_never(self) -> bool {
        self == Self::Never
    }
}

/// `message.nack`: the message could not be handled.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessageNack {
    /// Id of the message.
    pub id: MessageId,
    /// Why the message could not be handled.
    pub message: Cow<'static, str>,
    /// How to retry it (the `nack.retry` extension; [`NackRetry::Policy`] by default).
    pub retry: NackRetry,
}

/// `message.send`: publish a message.
///
/// ```
/// use amgi_core::{Headers, KafkaBinding, MessageSend};
///
/// let send = MessageSend::new("order.processed")
///     .headers(Headers::new().with("correlation-id", "c-1"))
///     .payload(&b"{}"[..])
///     .binding(KafkaBinding::with_key("o-1"));
/// assert_eq!(&*send.address, "order.processed");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MessageSend {
    /// Address to publish to.
    pub address: Arc<str>,
    /// Headers, in order.
    pub headers: Headers,
    /// Payload, or `None` for a message without one.
    pub payload: Option<Bytes>,
    /// Bindings for any number of protocols; a server uses its own and ignores the rest.
    pub bindings: Bindings,
}

impl MessageSend {
    /// A message to `address` with no headers, payload or bindings.
    pub fn new(address: impl Into<Arc<str>>) -> Self {
        Self {
            address: address.into(),
            headers: Headers::new(),
            payload: None,
            bindings: Bindings::new(),
        }
    }

    /// Sets the headers.
    #[must_use]
    pub fn headers(mut self, headers: Headers) -> Self {
        self.headers = headers;
        self
    }

    /// Sets the payload.
    #[must_use]
    pub fn payload(mut self, payload: impl Into<Bytes>) -> Self {
        self.payload = Some(payload.into());
        self
    }

    /// Adds a binding.
    #[must_use]
    pub fn binding(mut self, binding: impl Into<Binding>) -> Self {
        self.bindings.insert(binding);
        self
    }
}

/// An event an application sends to a server.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SendEvent {
    /// `message.ack`.
    Ack(MessageAck),
    /// `message.nack`.
    Nack(MessageNack),
    /// `message.send`.
    Send(MessageSend),
    /// `lifespan.startup.complete`.
    LifespanStartupComplete,
    /// `lifespan.startup.failed`.
    LifespanStartupFailed {
        /// Why startup failed.
        message: String,
    },
    /// `lifespan.shutdown.complete`.
    LifespanShutdownComplete,
    /// `lifespan.shutdown.failed`.
    LifespanShutdownFailed {
        /// Why shutdown failed.
        message: String,
    },
}

impl SendEvent {
    /// `message.ack` for `id`.
    pub fn ack(id: MessageId) -> Self {
        Self::Ack(MessageAck { id })
    }

    /// `message.nack` for `id` with a reason, retried as the server's policy says.
    pub fn nack(id: MessageId, message: impl Into<Cow<'static, str>>) -> Self {
        Self::nack_with(id, message, NackRetry::Policy)
    }

    /// `message.nack` for `id` with a reason and how to retry it.
    pub fn nack_with(
        id: MessageId,
        message: impl Into<Cow<'static, str>>,
        retry: NackRetry,
    ) -> Self {
        Self::Nack(MessageNack {
            id,
            message: message.into(),
            retry,
        })
    }

    /// The event type as the specification spells it, e.g. `"message.ack"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ack(_) => "message.ack",
            Self::Nack(_) => "message.nack",
            Self::Send(_) => "message.send",
            Self::LifespanStartupComplete => "lifespan.startup.complete",
            Self::LifespanStartupFailed { .. } => "lifespan.startup.failed",
            Self::LifespanShutdownComplete => "lifespan.shutdown.complete",
            Self::LifespanShutdownFailed { .. } => "lifespan.shutdown.failed",
        }
    }
}

impl From<MessageSend> for SendEvent {
    fn from(send: MessageSend) -> Self {
        Self::Send(send)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_specification() {
        let id = MessageId::new(1);
        let kinds: Vec<_> = [
            SendEvent::ack(id),
            SendEvent::nack(id, "bad"),
            MessageSend::new("a").into(),
            SendEvent::LifespanStartupComplete,
            SendEvent::LifespanStartupFailed {
                message: "x".into(),
            },
            SendEvent::LifespanShutdownComplete,
            SendEvent::LifespanShutdownFailed {
                message: "x".into(),
            },
        ]
        .iter()
        .map(SendEvent::kind)
        .collect();
        assert_eq!(
            kinds,
            [
                "message.ack",
                "message.nack",
                "message.send",
                "lifespan.startup.complete",
                "lifespan.startup.failed",
                "lifespan.shutdown.complete",
                "lifespan.shutdown.failed"
            ]
        );
        let receive: Vec<_> = [
            ReceiveEvent::Message(MessageReceive::new(id)),
            ReceiveEvent::LifespanStartup,
            ReceiveEvent::LifespanShutdown,
        ]
        .iter()
        .map(ReceiveEvent::kind)
        .collect();
        assert_eq!(
            receive,
            ["message.receive", "lifespan.startup", "lifespan.shutdown"]
        );
    }

    #[test]
    fn message_defaults_match_the_specification() {
        // payload defaults to None, more_messages to false.
        let message = MessageReceive::new(MessageId::new(3));
        assert!(message.payload.is_none());
        assert!(!message.more_messages);
        assert!(message.headers.is_empty());
    }
}
