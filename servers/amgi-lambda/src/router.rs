//! [`SendRouter`]: where the `message.send` events of a Lambda function go.
//!
//! A Lambda function has no broker connection of its own: each `message.send` is routed by its
//! address to a [`MessageSender`] the program configures. The SQS and Kafka senders are not
//! part of this crate (the SQS server, `amgi-sqs`, is not merged yet); any type that
//! implements [`MessageSender`] plugs in. A send whose address has no route fails with a
//! [`SendError`] that names [`SendRouter::route`].

use std::sync::Arc;

use amgi_core::batch::Publisher;
use amgi_core::{EventFuture, MessageSend, SendError, SendErrorKind};

/// Sends the messages of the addresses routed to it (an SQS queue, a Kafka producer, …).
///
/// ```
/// use amgi_core::{EventFuture, MessageSend, SendError};
/// use amgi_lambda::MessageSender;
///
/// /// Prints every message instead of sending it.
/// struct Print;
///
/// impl MessageSender for Print {
///     fn send(&self, message: MessageSend) -> EventFuture<'_, Result<(), SendError>> {
///         println!("{}: {:?}", message.address, message.payload);
///         EventFuture::ready(Ok(()))
///     }
/// }
/// ```
pub trait MessageSender: Send + Sync + 'static {
    /// Sends `message`; completes when the destination accepted it.
    fn send(&self, message: MessageSend) -> EventFuture<'_, Result<(), SendError>>;
}

impl<T: MessageSender + ?Sized> MessageSender for Arc<T> {
    fn send(&self, message: MessageSend) -> EventFuture<'_, Result<(), SendError>> {
        (**self).send(message)
    }
}

/// An address pattern: an address, or text around one `*` that stands for any characters.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    Glob { prefix: String, suffix: String },
}

impl Pattern {
    fn parse(pattern: &str) -> Self {
        match pattern.split_once('*') {
            Some((prefix, suffix)) => Self::Glob {
                prefix: prefix.to_owned(),
                suffix: suffix.to_owned(),
            },
            None => Self::Exact(pattern.to_owned()),
        }
    }

    fn matches(&self, address: &str) -> bool {
        match self {
            Self::Exact(exact) => exact == address,
            Self::Glob { prefix, suffix } => {
                address.len() >= prefix.len() + suffix.len()
                    && address.starts_with(prefix.as_str())
                    && address.ends_with(suffix.as_str())
            }
        }
    }
}

/// Routes each `message.send` by its address to a [`MessageSender`]: the first route whose
/// pattern matches wins. A pattern is an address (`orders.created`) or has one `*` standing
/// for any characters (`orders.*`, `*.dlq`, `*` for everything).
///
/// ```
/// # tokio_test_block_on(async {
/// use std::sync::Arc;
/// use amgi_core::batch::Publisher;
/// use amgi_core::{EventFuture, MessageSend, SendError};
/// use amgi_lambda::{MessageSender, SendRouter};
///
/// struct Accept;
/// impl MessageSender for Accept {
///     fn send(&self, _: MessageSend) -> EventFuture<'_, Result<(), SendError>> {
///         EventFuture::ready(Ok(()))
///     }
/// }
///
/// let router = SendRouter::new().route("orders.*", Accept);
/// assert!(router.publish(MessageSend::new("orders.created")).await.is_ok());
/// let error = router.publish(MessageSend::new("users.created")).await.unwrap_err();
/// assert!(error.to_string().contains("SendRouter::route"), "{error}");
/// # });
/// # fn tokio_test_block_on(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone, Default)]
pub struct SendRouter {
    routes: Vec<(Pattern, Arc<dyn MessageSender>)>,
}

impl std::fmt::Debug for SendRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.routes.iter().map(|(pattern, _)| pattern))
            .finish()
    }
}

impl SendRouter {
    /// A router without routes: every send fails with an error naming
    /// [`SendRouter::route`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends the messages of the addresses matching `pattern` through `sender`.
    #[must_use]
    pub fn route(mut self, pattern: &str, sender: impl MessageSender) -> Self {
        self.routes
            .push((Pattern::parse(pattern), Arc::new(sender)));
        self
    }

    /// The sender of `address`, if a route matches.
    fn sender_for(&self, address: &str) -> Option<&Arc<dyn MessageSender>> {
        self.routes
            .iter()
            .find(|(pattern, _)| pattern.matches(address))
            .map(|(_, sender)| sender)
    }
}

impl Publisher for SendRouter {
    fn publish(&self, message: MessageSend) -> EventFuture<'_, Result<(), SendError>> {
        if let Some(sender) = self.sender_for(&message.address) {
            return sender.send(message);
        }
        EventFuture::ready(Err(SendError::new(SendErrorKind::Closed).with_detail(
            format!(
                "no sender for address `{}`: a Lambda function sends through the routes of its \
             amgi_lambda::SendRouter (SendRouter::route(\"pattern\", sender), given to \
             LambdaServer::with_sender); none matches",
                message.address
            ),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    #[test]
    fn patterns_match_exactly_or_by_prefix() {
        assert!(Pattern::parse("a.b").matches("a.b"));
        assert!(!Pattern::parse("a.b").matches("a.bc"));
        assert!(Pattern::parse("a.*").matches("a.bc"));
        assert!(!Pattern::parse("a.*").matches("b.a"));
        assert!(Pattern::parse("*").matches("anything"));
        assert!(Pattern::parse("*.dlq").matches("orders.dlq"));
        assert!(!Pattern::parse("*.dlq").matches("orders"));
        assert!(!Pattern::parse("a*a").matches("a"));
    }
}
