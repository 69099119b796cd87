//! Sending: the [`Message`] trait (derived with `#[derive(Message)]`), [`MessageSender`] (inside
//! a handler) and [`Publisher`] (anywhere else).

use std::sync::{Arc, OnceLock};

use amgi_core::{MessageSend, SendError, SendErrorKind, SendEvent, SharedSender};

/// A message a handler can publish: return it, or pass it to [`MessageSender::send`].
///
/// Derive it:
///
/// ```
/// use asyncfast::prelude::*;
///
/// #[derive(serde::Serialize, schemars::JsonSchema)]
/// struct Body { total: u64 }
///
/// #[derive(Message)]
/// #[message(address = "order.{id}.processed")]
/// struct OrderProcessed {
///     id: u64,
///     #[payload]
///     body: Body,
///     #[header(alias = "correlation-id")]
///     correlation: String,
///     #[binding(kafka_key)]
///     key: String,
/// }
///
/// let send = OrderProcessed { id: 7, body: Body { total: 3 }, correlation: "c-1".into(), key: "o-7".into() }
///     .into_message_send()
///     .unwrap();
/// assert_eq!(&*send.address, "order.7.processed");
/// assert_eq!(send.payload.as_deref(), Some(&br#"{"total":3}"#[..]));
/// ```
pub trait Message: Send {
    /// Encodes the message.
    fn into_message_send(self) -> Result<MessageSend, EncodeError>;
}

impl Message for MessageSend {
    fn into_message_send(self) -> Result<MessageSend, EncodeError> {
        Ok(self)
    }
}

/// A message could not be encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The payload did not serialize to JSON.
    #[error("cannot encode the payload of `{message}` as JSON: {source}")]
    Json {
        /// The message type.
        message: &'static str,
        /// serde's error.
        source: serde_json::Error,
    },
}

/// Why [`MessageSender::send`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendMessageError {
    /// The message could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The server did not accept it.
    #[error("sending failed: {0}")]
    Send(#[from] SendError),
}

impl SendMessageError {
    /// Whether sending again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Send(error) if error.is_retryable())
    }
}

/// A handle for publishing messages while handling one, as a handler parameter.
///
/// Sends may run concurrently; each `send` completes when the server accepted the message, and
/// returns the server's error if it did not.
///
/// ```
/// use asyncfast::prelude::*;
/// use asyncfast::amgi::MessageSend;
///
/// #[channel("user.created")]
/// async fn fan_out(sender: MessageSender) -> Result<(), asyncfast::SendMessageError> {
///     let (a, b) = tokio::join!(
///         sender.send(MessageSend::new("email.welcome")),
///         sender.send(MessageSend::new("crm.contact")),
///     );
///     a.and(b)
/// }
/// ```
#[derive(Clone)]
pub struct MessageSender {
    sender: SharedSender,
}

impl MessageSender {
    pub(crate) fn new(sender: SharedSender) -> Self {
        Self { sender }
    }

    /// Encodes and publishes `message`.
    pub async fn send(&self, message: impl Message) -> Result<(), SendMessageError> {
        let message = message.into_message_send()?;
        self.sender.send(SendEvent::Send(message)).await?;
        Ok(())
    }
}

impl std::fmt::Debug for MessageSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessageSender")
    }
}

/// A handle for publishing from outside any handler — an axum handler, a startup hook, a
/// background task — through whichever server runs the application, from
/// [`AsyncFast::publisher`](crate::AsyncFast::publisher).
///
/// It is cheap to clone. It connects when a server starts the application (the server hands
/// its publisher over in the lifespan scope, see
/// [`ServerPublisher`](amgi_core::extension::ServerPublisher)); sending before that fails with
/// [`SendErrorKind::Closed`]. Each `send` completes when the server accepted the message.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use asyncfast::prelude::*;
/// use asyncfast::testing::TestClient;
///
/// #[derive(Message)]
/// #[message(address = "heartbeat")]
/// struct Heartbeat {
///     #[payload]
///     at: u64,
/// }
///
/// let app = AsyncFast::empty();
/// let publisher = app.publisher();
/// let client = TestClient::new(app).await; // any server: memory, Kafka, …
/// publisher.send(Heartbeat { at: 1 }).await.unwrap();
/// assert_eq!(&*client.take_stray_sent()[0].address, "heartbeat");
/// # });
/// ```
#[derive(Clone, Default)]
pub struct Publisher {
    server: Arc<OnceLock<Arc<dyn amgi_core::batch::Publisher>>>,
    /// Where replies to [`request`](Self::request)s arrive, once the application has a reply
    /// address.
    inbox: Arc<OnceLock<Arc<crate::request::Inbox>>>,
    /// The server's native request/reply, when it has one (NATS, AMQP).
    requester: Arc<OnceLock<Arc<dyn amgi_core::extension::Requester>>>,
}

impl Publisher {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Connects every clone to the server's publisher (the first server to start wins).
    pub(crate) fn connect(&self, server: Arc<dyn amgi_core::batch::Publisher>) {
        let _ = self.server.set(server);
    }

    /// Connects every clone to the server's native requester (the first server wins).
    pub(crate) fn connect_requester(&self, requester: Arc<dyn amgi_core::extension::Requester>) {
        let _ = self.requester.set(requester);
    }

    pub(crate) fn requester(&self) -> Option<&Arc<dyn amgi_core::extension::Requester>> {
        self.requester.get()
    }

    /// Gives every clone the reply address; the first one set stays.
    pub(crate) fn set_inbox(&self, inbox: Arc<crate::request::Inbox>) -> bool {
        self.inbox.set(inbox).is_ok()
    }

    pub(crate) fn inbox(&self) -> Option<&Arc<crate::request::Inbox>> {
        self.inbox.get()
    }

    /// Whether a server started the application, so that sending can succeed.
    pub fn is_connected(&self) -> bool {
        self.server.get().is_some()
    }

    /// Encodes and publishes `message` (a `#[derive(Message)]` value or a raw
    /// [`MessageSend`]).
    pub async fn send(&self, message: impl Message) -> Result<(), SendMessageError> {
        let message = message.into_message_send()?;
        let Some(server) = self.server.get() else {
            return Err(SendError::new(SendErrorKind::Closed)
                .with_detail(format!(
                    "cannot publish to `{}`: no server runs the application yet (the publisher \
                     connects at lifespan startup)",
                    message.address
                ))
                .into());
        };
        server.publish(message).await?;
        Ok(())
    }
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("connected", &self.is_connected())
            .finish()
    }
}
