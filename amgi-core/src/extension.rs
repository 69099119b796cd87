//! Extensions of the specification that a server may support, advertised in
//! [`MessageScope::extensions`](crate::MessageScope::extensions) by a marker type.
//!
//! An application checks for the marker before relying on the extension; a server that does not
//! insert it ignores the extension's fields (for `nack.retry`: every nack is retried as the
//! server's policy says).
//!
//! ```
//! use amgi_core::MessageScope;
//! use amgi_core::extension::NackRetrySupport;
//!
//! let scope = MessageScope::new("orders").with_extension(NackRetrySupport);
//! assert!(scope.extensions.get::<NackRetrySupport>().is_some());
//! ```

/// `nack.retry`: the server honours [`MessageNack::retry`](crate::MessageNack::retry) — it
/// dead-letters a [`NackRetry::Never`](crate::NackRetry::Never) nack at once and redelivers a
/// [`NackRetry::After`](crate::NackRetry::After) nack after the given delay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NackRetrySupport;

/// `lifespan.publisher`: in the [lifespan scope](crate::LifespanScope)'s extensions, where the
/// application may publish outside any batch (from an HTTP handler, a startup hook, a background
/// task) for as long as the server runs. Messages go where `message.send` would send them.
#[derive(Clone)]
pub struct ServerPublisher(pub std::sync::Arc<dyn crate::batch::Publisher>);

impl std::fmt::Debug for ServerPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerPublisher")
    }
}

/// The reply to a request made through a [`Requester`]: its headers and payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reply {
    /// Headers, in order.
    pub headers: crate::Headers,
    /// Payload, if any.
    pub payload: Option<bytes::Bytes>,
}

impl Reply {
    /// A reply with these headers and payload.
    pub fn new(headers: crate::Headers, payload: Option<bytes::Bytes>) -> Self {
        Self { headers, payload }
    }
}

/// A server's native request/reply: publishes a request and waits for the one reply to it,
/// the way the broker does it (NATS inboxes, AMQP direct reply-to). The reply carries the
/// request's correlation in the broker's own terms, so the application sets no reply address.
pub trait Requester: Send + Sync + 'static {
    /// Publishes `message` as a request and waits up to `timeout` for its reply. A timeout is an
    /// error of kind [`SendErrorKind::Transport`](crate::SendErrorKind::Transport) whose detail
    /// says so; [`REQUEST_TIMED_OUT`] is its detail's prefix.
    fn request(
        &self,
        message: crate::MessageSend,
        timeout: std::time::Duration,
    ) -> crate::EventFuture<'_, Result<Reply, crate::SendError>>;
}

/// The detail of a [`Requester`]'s error when no reply came in time starts with this.
pub const REQUEST_TIMED_OUT: &str = "request timed out";

/// `lifespan.requester`: in the [lifespan scope](crate::LifespanScope)'s extensions, the
/// server's native [`Requester`]. An application prefers it to a reply address of its own.
#[derive(Clone)]
pub struct ServerRequester(pub std::sync::Arc<dyn Requester>);

impl std::fmt::Debug for ServerRequester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerRequester")
    }
}
