//! Asking: [`Publisher::request`](crate::Publisher::request) sends a request and awaits its typed
//! reply, which arrives on the application's reply address ([`AsyncFast::replies`]) — or, on a
//! server with native request/reply (a [`ServerRequester`](amgi_core::extension::ServerRequester):
//! NATS inboxes, AMQP direct reply-to), the broker's own way, with no reply address needed.
//!
//! A request is a message with two headers: `reply-to`, the application's reply address, and
//! `correlation-id`, unique per request. The server consumes the reply address like any channel
//! (it is one, hidden from the AsyncAPI document); a reply is matched to its waiting request by
//! its `correlation-id`, and a reply nobody waits for any more (it came after the timeout) is
//! acked and dropped with a debug log line. Any handler that returns
//! [`Reply<T>`](crate::Reply) answers, on every server, and so does any client of another
//! language that publishes to the `reply-to` address with the same `correlation-id` header.
//!
//! [`AsyncFast::replies`]: crate::AsyncFast::replies

use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::hash::{BuildHasher, Hasher};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use amgi_core::{Headers, MessageSend};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;

use crate::reply::{CORRELATION_ID_HEADER, REPLY_ERROR_HEADER, REPLY_TO_HEADER};
use crate::sender::{EncodeError, Message, Publisher, SendMessageError};
use crate::{ChannelMeta, Handler, MessageContext, Outcome};

/// How long a request waits for its reply unless [`Request::timeout`] says otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A reply as it arrived: its headers and payload.
#[derive(Debug)]
struct Arrived {
    headers: Headers,
    payload: Option<Bytes>,
}

/// The requests waiting for their replies, and the address replies come to.
pub(crate) struct Inbox {
    address: Arc<str>,
    /// Random per process, so that two processes sharing a reply address never take each
    /// other's replies for their own.
    prefix: String,
    next: AtomicU64,
    waiting: Mutex<HashMap<String, oneshot::Sender<Arrived>>>,
}

impl Inbox {
    pub(crate) fn new(address: impl Into<Arc<str>>) -> Self {
        Self {
            address: address.into(),
            prefix: random_hex(),
            next: AtomicU64::new(1),
            waiting: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// A new correlation id, and the receiver its reply is delivered to.
    fn wait(&self) -> (String, oneshot::Receiver<Arrived>) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}-{n}", self.prefix);
        let (sender, receiver) = oneshot::channel();
        self.lock().insert(id.clone(), sender);
        (id, receiver)
    }

    fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Hands a reply to its request; whether one was waiting.
    fn deliver(&self, id: &str, arrived: Arrived) -> bool {
        let waiting = self.lock().remove(id);
        waiting.is_some_and(|sender| sender.send(arrived).is_ok())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<Arrived>>> {
        // A panic while holding the lock cannot leave the map half-updated.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// 16 hex digits, random per call (std's randomly seeded hasher; no cryptographic claim).
pub(crate) fn random_hex() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

/// The hidden channel on the reply address: hands each reply to the request waiting for it.
pub(crate) struct InboxChannel {
    inbox: Arc<Inbox>,
    meta: &'static ChannelMeta,
}

impl InboxChannel {
    pub(crate) fn new(inbox: Arc<Inbox>) -> Self {
        // One small leak per application that enables replies: a channel's metadata is static.
        let address: &'static str = Box::leak(inbox.address().to_owned().into_boxed_str());
        let meta = Box::leak(Box::new(ChannelMeta::new(address, "replies").hidden()));
        Self { inbox, meta }
    }
}

impl Handler for InboxChannel {
    fn meta(&self) -> &'static ChannelMeta {
        self.meta
    }

    async fn call(&self, ctx: &mut MessageContext<'_>) -> Outcome {
        let id = ctx
            .header(CORRELATION_ID_HEADER)
            .and_then(|id| std::str::from_utf8(id).ok());
        let Some(id) = id else {
            tracing::debug!(
                address = ctx.address(),
                "a reply without a correlation id: dropped"
            );
            return Outcome::ack();
        };
        let arrived = Arrived {
            headers: ctx.headers().clone(),
            payload: ctx.payload().cloned(),
        };
        if !self.inbox.deliver(id, arrived) {
            tracing::debug!(
                address = ctx.address(),
                correlation_id = id,
                "a reply no request waits for (late, or another process's): dropped"
            );
        }
        Outcome::ack()
    }
}

/// Why a request got no usable reply.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The application has no reply address.
    #[error(
        "cannot send a request to `{address}`: the application has no reply address; call \
         `AsyncFast::replies()` (or `replies_to(ADDRESS)`) so that the server consumes one"
    )]
    NoReplyAddress {
        /// The request's address.
        address: String,
    },
    /// The request could not be encoded or published.
    #[error(transparent)]
    Send(#[from] SendMessageError),
    /// No reply came in time.
    #[error("no reply to the request to `{address}` within {timeout:?}")]
    TimedOut {
        /// The request's address.
        address: String,
        /// How long the request waited.
        timeout: Duration,
    },
    /// The handler failed and said why (an error reply).
    #[error("the request to `{address}` failed: {reason}")]
    Remote {
        /// The request's address.
        address: String,
        /// The handler's reason.
        reason: String,
    },
    /// The reply is not the JSON of the expected type.
    #[error("the reply to the request to `{address}` cannot be decoded: {source}")]
    Decode {
        /// The request's address.
        address: String,
        /// serde's error.
        source: serde_json::Error,
    },
}

/// A request being built: [`timeout`](Self::timeout), [`header`](Self::header), then `.await`
/// it for the reply. From [`Publisher::request`] and [`Publisher::request_message`].
#[must_use = "a request does nothing until awaited"]
pub struct Request<R> {
    publisher: Publisher,
    message: Result<MessageSend, EncodeError>,
    timeout: Duration,
    reply: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for Request<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("address", &self.message.as_ref().map(|m| &m.address).ok())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<R> Request<R> {
    pub(crate) fn new(publisher: Publisher, message: Result<MessageSend, EncodeError>) -> Self {
        Self {
            publisher,
            message,
            timeout: DEFAULT_REQUEST_TIMEOUT,
            reply: PhantomData,
        }
    }

    /// How long to wait for the reply (default [`DEFAULT_REQUEST_TIMEOUT`], 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Adds a header to the request.
    pub fn header(mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        if let Ok(message) = &mut self.message {
            message.headers.append(name, value);
        }
        self
    }
}

impl<R: DeserializeOwned + Send + 'static> IntoFuture for Request<R> {
    type Output = Result<R, RequestError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(ask(self))
    }
}

async fn ask<R: DeserializeOwned>(request: Request<R>) -> Result<R, RequestError> {
    let Request {
        publisher,
        message,
        timeout,
        ..
    } = request;
    let mut message = message.map_err(SendMessageError::from)?;
    let address = message.address.to_string();
    if let Some(requester) = publisher.requester() {
        return match requester.request(message, timeout).await {
            Ok(reply) => decode(address, &reply.headers, reply.payload),
            Err(error) if is_timeout(&error) => Err(RequestError::TimedOut { address, timeout }),
            Err(error) => Err(SendMessageError::from(error).into()),
        };
    }
    let Some(inbox) = publisher.inbox() else {
        return Err(RequestError::NoReplyAddress { address });
    };
    let (id, reply) = inbox.wait();
    message
        .headers
        .append(REPLY_TO_HEADER, Bytes::from(inbox.address().to_owned()));
    message
        .headers
        .append(CORRELATION_ID_HEADER, Bytes::from(id.clone()));
    if let Err(error) = publisher.send(message).await {
        inbox.forget(&id);
        return Err(error.into());
    }
    // An error: timed out, or the inbox was dropped with the application.
    let Ok(Ok(arrived)) = tokio::time::timeout(timeout, reply).await else {
        inbox.forget(&id);
        return Err(RequestError::TimedOut { address, timeout });
    };
    decode(address, &arrived.headers, arrived.payload)
}

/// Whether a native requester's error says that no reply came in time.
fn is_timeout(error: &amgi_core::SendError) -> bool {
    error
        .detail()
        .is_some_and(|detail| detail.starts_with(amgi_core::extension::REQUEST_TIMED_OUT))
}

/// The reply's value: the handler's error for an error reply, else the payload decoded as `R`.
fn decode<R: DeserializeOwned>(
    address: String,
    headers: &Headers,
    payload: Option<Bytes>,
) -> Result<R, RequestError> {
    if let Some(reason) = headers.get(REPLY_ERROR_HEADER.as_bytes()) {
        return Err(RequestError::Remote {
            address,
            reason: String::from_utf8_lossy(reason).into_owned(),
        });
    }
    let payload = payload.unwrap_or_default();
    serde_json::from_slice(&payload).map_err(|source| RequestError::Decode { address, source })
}

impl Publisher {
    /// Sends `payload` (as JSON) to `address` as a request, and awaits the reply, decoded as
    /// `R`. Needs a reply address ([`AsyncFast::replies`](crate::AsyncFast::replies)) unless the
    /// server has native request/reply.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::time::Duration;
    /// use asyncfast::prelude::*;
    /// use asyncfast::Reply;
    ///
    /// #[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    /// struct Multiply { x: i64, y: i64 }
    ///
    /// #[channel("multiply")]
    /// async fn multiply(args: Payload<Multiply>) -> Reply<i64> {
    ///     Reply(args.x * args.y)
    /// }
    ///
    /// let app = AsyncFast::empty().channel(handler!(multiply)).replies();
    /// let publisher = app.publisher();
    /// // Any server; here the embedded broker, consuming the handler's and the reply address.
    /// let server = amgi_memory::Server::new(app, amgi_memory::Broker::default())
    ///     .all_addresses()
    ///     .start()
    ///     .await
    ///     .unwrap();
    /// let product: i64 = publisher
    ///     .request("multiply", &Multiply { x: 6, y: 7 })
    ///     .timeout(Duration::from_secs(5))
    ///     .await
    ///     .unwrap();
    /// assert_eq!(product, 42);
    /// server.shutdown().await.unwrap();
    /// # });
    /// ```
    pub fn request<R>(
        &self,
        address: impl Into<Arc<str>>,
        payload: &impl serde::Serialize,
    ) -> Request<R> {
        let address = address.into();
        let message = serde_json::to_vec(payload)
            .map(|json| {
                let mut message = MessageSend::new(address);
                message.payload = Some(json.into());
                message
            })
            .map_err(|source| EncodeError::Json {
                message: "request",
                source,
            });
        Request::new(self.clone(), message)
    }

    /// Sends `message` (a `#[derive(Message)]` value or a raw [`MessageSend`]) as a request, and
    /// awaits the reply, decoded as `R`.
    pub fn request_message<R>(&self, message: impl Message) -> Request<R> {
        Request::new(self.clone(), message.into_message_send())
    }
}
