//! Driving one batch through an application: the part of every server that is the same.
//!
//! A server fetches messages, hands them to [`BatchDispatcher::dispatch`] and gets back a
//! [`BatchReport`] with one [`Outcome`] per message, in order. The dispatcher assigns ids, feeds
//! `message.receive` events, checks every ack and nack (unknown id, second ack, ack after nack are
//! errors returned to the application), forwards `message.send` to the server's [`Publisher`],
//! and treats messages left unanswered as nacked. Servers never handle ids themselves.

use std::borrow::Cow;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures_util::FutureExt;

use crate::{
    Application, ApplicationError, Binding, EventFuture, Headers, MessageId, MessageReceive,
    MessageScope, MessageSend, NackRetry, ReceiveError, ReceiveErrorKind, ReceiveEvent, Receiver,
    Scope, SendError, SendErrorKind, SendEvent, Sender,
};

/// The reason given for a message the application neither acked nor nacked.
pub const NOT_ACKNOWLEDGED: &str = "not acknowledged";

/// A message as a server fetched it, before it is given an id.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct IncomingMessage {
    /// Headers, in order.
    pub headers: Headers,
    /// Payload, if any.
    pub payload: Option<Bytes>,
    /// The protocol binding, if the server provides one.
    pub binding: Option<Binding>,
}

impl IncomingMessage {
    /// A message with the given parts.
    pub fn new(headers: Headers, payload: Option<Bytes>, binding: Option<Binding>) -> Self {
        Self {
            headers,
            payload,
            binding,
        }
    }
}

/// Where a server publishes the `message.send` events of its applications.
pub trait Publisher: Send + Sync + 'static {
    /// Publishes `message`; the future completes when the broker has accepted it.
    fn publish(&self, message: MessageSend) -> EventFuture<'_, Result<(), SendError>>;
}

/// How one message of a batch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The application acked it.
    Acked,
    /// The application nacked it, or did not answer (reason [`NOT_ACKNOWLEDGED`]), or failed.
    Nacked {
        /// Why.
        reason: Cow<'static, str>,
        /// How the application asked for it to be retried ([`NackRetry::Policy`] when it did
        /// not answer).
        retry: NackRetry,
    },
    /// Left unanswered after an earlier message of the same **ordered** batch was nacked: the
    /// application stopped there so that order holds. The server redelivers it after the
    /// nacked message, without counting a delivery against it.
    Skipped,
}

impl Outcome {
    /// A nack retried as the server's policy says.
    pub fn nacked(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::Nacked {
            reason: reason.into(),
            retry: NackRetry::Policy,
        }
    }

    /// Whether the message was acked.
    pub fn is_acked(&self) -> bool {
        matches!(self, Self::Acked)
    }

    /// Whether the message was skipped (see [`Outcome::Skipped`]).
    pub fn is_skipped(&self) -> bool {
        matches!(self, Self::Skipped)
    }

    /// The nack reason, if nacked.
    pub fn nack_reason(&self) -> Option<&str> {
        match self {
            Self::Nacked { reason, .. } => Some(reason),
            Self::Acked | Self::Skipped => None,
        }
    }
}

/// The result of one batch.
#[derive(Debug)]
pub struct BatchReport {
    /// One outcome per message, in the order the messages were given.
    pub outcomes: Vec<Outcome>,
    /// The application's error, if the call failed or panicked.
    pub error: Option<ApplicationError>,
}

impl BatchReport {
    /// Number of acked messages.
    pub fn acked(&self) -> usize {
        self.outcomes.iter().filter(|o| o.is_acked()).count()
    }

    /// Number of nacked messages (including unanswered ones, not skipped ones).
    pub fn nacked(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Nacked { .. }))
            .count()
    }

    /// Number of skipped messages (see [`Outcome::Skipped`]).
    pub fn skipped(&self) -> usize {
        self.outcomes.iter().filter(|o| o.is_skipped()).count()
    }
}

const PENDING: u8 = 0;
const ACKED: u8 = 1;
const NACKING: u8 = 2;
const NACKED: u8 = 3;
const EXPIRED: u8 = 4;

#[derive(Default)]
struct Slot {
    state: AtomicU8,
    reason: OnceLock<(Cow<'static, str>, NackRetry)>,
}

/// Tracks the acks and nacks of one batch without locks: one atomic per message.
struct AckTracker {
    base: u64,
    delivered: AtomicUsize,
    slots: Box<[Slot]>,
}

impl AckTracker {
    fn new(base: u64, len: usize) -> Self {
        Self {
            base,
            delivered: AtomicUsize::new(0),
            slots: (0..len).map(|_| Slot::default()).collect(),
        }
    }

    fn slot(&self, id: MessageId) -> Result<&Slot, SendError> {
        let unknown = || SendError::new(SendErrorKind::UnknownMessage).with_id(id);
        let index = id.get().checked_sub(self.base).ok_or_else(unknown)?;
        let index = usize::try_from(index).map_err(|_| unknown())?;
        if index >= self.delivered.load(Ordering::Acquire) {
            return Err(unknown());
        }
        self.slots.get(index).ok_or_else(unknown)
    }

    fn settle(&self, id: MessageId, to: u8) -> Result<&Slot, SendError> {
        let slot = self.slot(id)?;
        slot.state
            .compare_exchange(PENDING, to, Ordering::AcqRel, Ordering::Acquire)
            .map_err(|current| {
                let kind = match current {
                    ACKED => SendErrorKind::AlreadyAcked,
                    NACKING | NACKED => SendErrorKind::AlreadyNacked,
                    _ => SendErrorKind::BatchFinished,
                };
                SendError::new(kind).with_id(id)
            })?;
        Ok(slot)
    }

    fn ack(&self, id: MessageId) -> Result<(), SendError> {
        self.settle(id, ACKED).map(|_| ())
    }

    fn nack(
        &self,
        id: MessageId,
        reason: Cow<'static, str>,
        retry: NackRetry,
    ) -> Result<(), SendError> {
        let slot = self.settle(id, NACKING)?;
        let _ = slot.reason.set((reason, retry));
        slot.state.store(NACKED, Ordering::Release);
        Ok(())
    }

    /// Ends the batch: every message not yet answered becomes nacked with `unanswered`, or, in
    /// an `ordered` batch after a nacked message, [`Outcome::Skipped`].
    fn finish(&self, unanswered: &Cow<'static, str>, ordered: bool) -> Vec<Outcome> {
        #![allow(clippy::ptr_arg)] // cloning the Cow keeps a borrowed reason borrowed
        let mut after_nack = false;
        self.slots
            .iter()
            .map(|slot| {
                match slot.state.compare_exchange(
                    PENDING,
                    EXPIRED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) if after_nack => Outcome::Skipped,
                    Ok(_) => Outcome::nacked(unanswered.clone()),
                    Err(ACKED) => Outcome::Acked,
                    Err(_) => {
                        after_nack = ordered;
                        // NACKING is only seen if a nack races with the end of the call, which
                        // cannot happen once the call has returned; the reason is set first.
                        let (reason, retry) = slot
                            .reason
                            .get()
                            .cloned()
                            .unwrap_or((Cow::Borrowed(NOT_ACKNOWLEDGED), NackRetry::Policy));
                        Outcome::Nacked { reason, retry }
                    }
                }
            })
            .collect()
    }
}

struct BatchSender {
    tracker: AckTracker,
    publisher: Arc<dyn Publisher>,
}

impl Sender for BatchSender {
    fn send(&self, event: SendEvent) -> EventFuture<'_, Result<(), SendError>> {
        match event {
            SendEvent::Ack(ack) => EventFuture::ready(self.tracker.ack(ack.id)),
            SendEvent::Nack(nack) => {
                EventFuture::ready(self.tracker.nack(nack.id, nack.message, nack.retry))
            }
            SendEvent::Send(message) => self.publisher.publish(message),
            other => EventFuture::ready(Err(SendError::new(SendErrorKind::UnexpectedEvent)
                .with_detail(format!("`{}` in a message scope", other.kind())))),
        }
    }
}

struct BatchReceiver {
    messages: std::vec::IntoIter<IncomingMessage>,
    next_id: u64,
    sender: Arc<BatchSender>,
}

impl Receiver for BatchReceiver {
    fn receive(&mut self) -> EventFuture<'_, Result<ReceiveEvent, ReceiveError>> {
        let Some(message) = self.messages.next() else {
            return EventFuture::ready(Err(ReceiveError::new(ReceiveErrorKind::BatchExhausted)));
        };
        let id = MessageId::new(self.next_id);
        self.next_id += 1;
        self.sender.tracker.delivered.fetch_add(1, Ordering::AcqRel);
        EventFuture::ready(Ok(ReceiveEvent::Message(MessageReceive {
            id,
            headers: message.headers,
            payload: message.payload,
            binding: message.binding,
            more_messages: self.messages.len() > 0,
        })))
    }
}

/// Runs batches through an application on behalf of a server.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use amgi_core::batch::{BatchDispatcher, IncomingMessage, Publisher};
/// use amgi_core::{Application, ApplicationError, EventFuture, MessageScope, MessageSend,
///     ReceiveEvent, Receiver, Scope, SendError, SendEvent, SharedSender};
///
/// struct AckAll;
/// impl Application for AckAll {
///     async fn call(&self, _: Scope, receive: &mut dyn Receiver, send: SharedSender)
///         -> Result<(), ApplicationError> {
///         while let Ok(ReceiveEvent::Message(m)) = receive.receive().await {
///             send.send(SendEvent::ack(m.id)).await?;
///         }
///         Ok(())
///     }
/// }
/// struct Nowhere;
/// impl Publisher for Nowhere {
///     fn publish(&self, _: MessageSend) -> EventFuture<'_, Result<(), SendError>> {
///         EventFuture::ready(Ok(()))
///     }
/// }
///
/// let dispatcher = BatchDispatcher::new(Arc::new(AckAll), Arc::new(Nowhere));
/// let report = dispatcher
///     .dispatch(MessageScope::new("a"), vec![IncomingMessage::default(); 3])
///     .await;
/// assert_eq!(report.acked(), 3);
/// # });
/// ```
pub struct BatchDispatcher<A> {
    app: Arc<A>,
    publisher: Arc<dyn Publisher>,
    next_id: AtomicU64,
}

impl<A: Application> BatchDispatcher<A> {
    /// A dispatcher calling `app` and publishing through `publisher`.
    pub fn new(app: Arc<A>, publisher: Arc<dyn Publisher>) -> Self {
        Self {
            app,
            publisher,
            next_id: AtomicU64::new(1),
        }
    }

    /// The application.
    pub fn app(&self) -> &Arc<A> {
        &self.app
    }

    /// The publisher.
    pub fn publisher(&self) -> &Arc<dyn Publisher> {
        &self.publisher
    }

    /// Calls the application once with `messages` as one batch and reports how each ended.
    ///
    /// In an [ordered](MessageScope::ordered) batch, messages left unanswered after a nacked
    /// one are [`Outcome::Skipped`]: the server redelivers them after it, uncounted.
    ///
    /// An empty batch does not call the application. A failing or panicking application is
    /// reported in [`BatchReport::error`]; its unanswered messages are nacked with the failure.
    pub async fn dispatch(
        &self,
        scope: MessageScope,
        messages: Vec<IncomingMessage>,
    ) -> BatchReport {
        let len = messages.len();
        if len == 0 {
            return BatchReport {
                outcomes: Vec::new(),
                error: None,
            };
        }
        let base = self.next_id.fetch_add(len as u64, Ordering::Relaxed);
        let ordered = scope.ordered;
        let sender = Arc::new(BatchSender {
            tracker: AckTracker::new(base, len),
            publisher: Arc::clone(&self.publisher),
        });
        let mut receiver = BatchReceiver {
            messages: messages.into_iter(),
            next_id: base,
            sender: Arc::clone(&sender),
        };
        let call = self
            .app
            .call(Scope::Message(scope), &mut receiver, sender.clone());
        let result = AssertUnwindSafe(call).catch_unwind().await;
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(error),
            Err(panic) => Some(ApplicationError::msg(format!(
                "application panicked: {}",
                panic_message(panic.as_ref())
            ))),
        };
        let unanswered = match &error {
            None => Cow::Borrowed(NOT_ACKNOWLEDGED),
            Some(error) => Cow::Owned(format!("{NOT_ACKNOWLEDGED}: {error}")),
        };
        if let Some(error) = &error {
            tracing::warn!(%error, "application failed while handling a batch");
        }
        BatchReport {
            outcomes: sender.tracker.finish(&unanswered, ordered),
            error,
        }
    }
}

/// The text of a panic payload, for nack reasons and logs.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "non-string panic payload"
    }
}

#[cfg(test)]
mod tests;
