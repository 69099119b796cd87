//! [`AmqpPublisher`]: `message.send` as a `basic.publish` awaiting its publisher confirm, and
//! [`AmqpRequester`]: requests over RabbitMQ's direct reply-to.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use amgi_core::batch::Publisher;
use amgi_core::extension::{REQUEST_TIMED_OUT, Reply, Requester};
use amgi_core::{EventFuture, MessageSend, SendError, SendErrorKind};
use lapin::Confirmation;
use lapin::options::BasicPublishOptions;
use tokio::sync::oneshot;

use crate::link::{DIRECT_REPLY_TO, Link, redact};
use crate::message::Outbound;

/// How long a publish may wait for its confirm (a broker that is down makes it wait).
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);

/// Publishes with publisher confirms: the server's [`Publisher`], used for `message.send`, the
/// lifespan's `ServerPublisher` and dead letters.
pub(crate) struct AmqpPublisher {
    link: Arc<Link>,
}

impl AmqpPublisher {
    pub(crate) fn new(link: Arc<Link>) -> Self {
        Self { link }
    }

    /// Publishes as `outbound` says and waits for the broker's confirm.
    pub(crate) async fn publish_to(
        &self,
        outbound: Outbound,
        payload: &[u8],
    ) -> Result<(), SendError> {
        let Outbound {
            exchange,
            routing_key,
            properties,
        } = outbound;
        let target = || format!("exchange `{exchange}`, routing key `{routing_key}`");
        // While the connection is down, a publish waits for the reconnection, within the
        // confirm timeout.
        let session = tokio::time::timeout(CONFIRM_TIMEOUT, self.link.session(None))
            .await
            .map_err(|_| {
                SendError::new(SendErrorKind::Transport).with_detail(format!(
                    "no connection to the broker within {CONFIRM_TIMEOUT:?} to publish to {}",
                    target()
                ))
            })?
            .ok_or_else(|| {
                SendError::new(SendErrorKind::Closed).with_detail(format!(
                    "the server stopped before publishing to {}",
                    target()
                ))
            })?;
        let failed = |kind, error: lapin::Error| {
            SendError::new(kind).with_detail(format!(
                "publishing to {}: {}",
                target(),
                redact(&error.to_string(), self.link.url())
            ))
        };
        let confirm = session
            .publisher
            .basic_publish(
                exchange.as_str().into(),
                routing_key.as_str().into(),
                BasicPublishOptions::default(),
                payload,
                properties,
            )
            .await
            .map_err(|error| failed(SendErrorKind::Closed, error))?;
        match tokio::time::timeout(CONFIRM_TIMEOUT, confirm).await {
            Ok(Ok(Confirmation::Ack(_) | Confirmation::NotRequested)) => Ok(()),
            Ok(Ok(Confirmation::Nack(_))) => Err(SendError::new(SendErrorKind::Transport)
                .with_detail(format!(
                    "the broker refused (nacked) a publish to {}",
                    target()
                ))),
            Ok(Err(error)) => Err(failed(SendErrorKind::Transport, error)),
            Err(_) => Err(
                SendError::new(SendErrorKind::Transport).with_detail(format!(
                    "no publisher confirm for a publish to {} within {CONFIRM_TIMEOUT:?}",
                    target()
                )),
            ),
        }
    }
}

impl Publisher for AmqpPublisher {
    fn publish(&self, message: MessageSend) -> EventFuture<'_, Result<(), SendError>> {
        EventFuture::boxed(async move {
            let outbound = Outbound::of(&message.address, &message.headers, &message.bindings);
            let payload = message.payload.unwrap_or_default();
            self.publish_to(outbound, &payload).await
        })
    }
}

/// Requests over direct reply-to: published with `reply_to = amq.rabbitmq.reply-to` and a
/// correlation id of its own on the channel that consumes the replies; the reply with that
/// correlation id completes the request.
pub(crate) struct AmqpRequester {
    link: Arc<Link>,
    next: AtomicU64,
    prefix: String,
}

impl AmqpRequester {
    pub(crate) fn new(link: Arc<Link>) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        Self {
            link,
            next: AtomicU64::new(1),
            prefix: format!("amgi-{}-{nanos:x}", std::process::id()),
        }
    }

    async fn ask(&self, message: MessageSend, timeout: Duration) -> Result<Reply, SendError> {
        let address = Arc::clone(&message.address);
        let id = format!(
            "{}-{}",
            self.prefix,
            self.next.fetch_add(1, Ordering::Relaxed)
        );
        let timed_out = || {
            SendError::new(SendErrorKind::Transport).with_detail(format!(
                "{REQUEST_TIMED_OUT}: no reply to a request to `{address}` within {timeout:?}"
            ))
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let session = tokio::time::timeout_at(deadline, self.link.session(None))
            .await
            .map_err(|_| timed_out())?
            .ok_or_else(|| {
                SendError::new(SendErrorKind::Closed)
                    .with_detail(format!("the server stopped before requesting `{address}`"))
            })?;
        let (reply_tx, reply) = oneshot::channel();
        let waiters = self.link.replies();
        let forget = || {
            (waiters.lock())
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&id);
        };
        (waiters.lock())
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id.clone(), reply_tx);
        let Outbound {
            exchange,
            routing_key,
            properties,
        } = Outbound::of(&message.address, &message.headers, &message.bindings);
        let properties = properties
            .with_reply_to(DIRECT_REPLY_TO.into())
            .with_correlation_id(id.as_str().into());
        let payload = message.payload.unwrap_or_default();
        let published = session
            .requests
            .basic_publish(
                exchange.as_str().into(),
                routing_key.as_str().into(),
                BasicPublishOptions::default(),
                &payload,
                properties,
            )
            .await;
        if let Err(error) = published {
            forget();
            return Err(SendError::new(SendErrorKind::Closed).with_detail(format!(
                "requesting `{address}`: {}",
                redact(&error.to_string(), self.link.url())
            )));
        }
        match tokio::time::timeout_at(deadline, reply).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => {
                forget();
                Err(SendError::new(SendErrorKind::Closed)
                    .with_detail(format!("the connection closed before `{address}` replied")))
            }
            Err(_) => {
                forget();
                Err(timed_out())
            }
        }
    }
}

impl Requester for AmqpRequester {
    fn request(
        &self,
        message: MessageSend,
        timeout: Duration,
    ) -> EventFuture<'_, Result<Reply, SendError>> {
        EventFuture::boxed(self.ask(message, timeout))
    }
}
