//! One named queue: its waiting messages, its capacity and the batches taken from it.
//!
//! A message holds one permit of its queue's semaphore from the moment it is published until it
//! is acked or moved to the dead-letter queue, so waiting and in-flight messages together never
//! exceed the capacity. A nacked message keeps its permit when it goes back to the queue, so
//! redelivery never waits for room.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use amgi_core::batch::{IncomingMessage, NOT_ACKNOWLEDGED, Outcome};
use amgi_core::{Bindings, Headers, MessageSend};
use bytes::Bytes;
use tokio::sync::{Notify, Semaphore, watch};

/// A message as the broker stores it.
#[derive(Debug)]
pub(crate) struct Stored {
    pub(crate) headers: Headers,
    pub(crate) payload: Option<Bytes>,
    pub(crate) bindings: Bindings,
    /// How many times the message was handed to an application from this queue.
    pub(crate) deliveries: u32,
}

impl Stored {
    pub(crate) fn new(message: MessageSend) -> Self {
        Self {
            headers: message.headers,
            payload: message.payload,
            bindings: message.bindings,
            deliveries: 0,
        }
    }

    /// The message as the dispatcher takes it. The broker keeps its own copy for redelivery; the
    /// first binding is delivered as the inbound binding.
    fn incoming(&self) -> IncomingMessage {
        IncomingMessage::new(
            self.headers.clone(),
            self.payload.clone(),
            self.bindings.iter().next().cloned(),
        )
    }
}

#[derive(Debug, Default)]
struct Contents {
    waiting: VecDeque<Stored>,
    in_flight: usize,
}

/// One named queue.
#[derive(Debug)]
pub(crate) struct Queue {
    name: Arc<str>,
    is_dead_letter: bool,
    /// One permit per free slot.
    room: Semaphore,
    contents: Mutex<Contents>,
    /// Woken (one consumer at a time) when messages become available.
    available: Notify,
    dead_letters: OnceLock<Arc<Queue>>,
}

impl Queue {
    pub(crate) fn new(name: Arc<str>, is_dead_letter: bool, capacity: usize) -> Self {
        Self {
            name,
            is_dead_letter,
            room: Semaphore::new(capacity),
            contents: Mutex::new(Contents::default()),
            available: Notify::new(),
            dead_letters: OnceLock::new(),
        }
    }

    pub(crate) fn name(&self) -> &Arc<str> {
        &self.name
    }

    pub(crate) fn is_dead_letter(&self) -> bool {
        self.is_dead_letter
    }

    fn lock(&self) -> MutexGuard<'_, Contents> {
        // No code path panics while holding the lock, and the contents stay consistent between
        // statements, so a poisoned lock is used as is.
        self.contents.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn depth(&self) -> usize {
        self.lock().waiting.len()
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    /// Takes a free slot if there is one.
    pub(crate) fn try_reserve(&self) -> bool {
        self.room
            .try_acquire()
            .map(tokio::sync::SemaphorePermit::forget)
            .is_ok()
    }

    /// Waits for a free slot.
    pub(crate) async fn reserve(&self) {
        // The semaphore is never closed (closing the broker is signalled separately), so the
        // error case cannot happen; were it to, the message would simply go over capacity.
        if let Ok(permit) = self.room.acquire().await {
            permit.forget();
        }
    }

    /// Appends a message that holds a slot (see [`Queue::try_reserve`]).
    pub(crate) fn push(&self, message: Stored) {
        self.lock().waiting.push_back(message);
        self.available.notify_one();
    }

    /// The queue that takes this queue's dead letters, created by `create` on first use.
    pub(crate) fn dead_letter_queue(&self, create: impl FnOnce() -> Arc<Queue>) -> &Arc<Queue> {
        self.dead_letters.get_or_init(create)
    }

    /// Appends dead letters without waiting. When the queue is full, the oldest waiting message is
    /// dropped to make room; when every slot is in flight, the new dead letter is dropped. Both
    /// are logged at `error`.
    pub(crate) fn push_dead_letters(&self, letters: Vec<Stored>) {
        let mut contents = self.lock();
        for letter in letters {
            if self.try_reserve() {
                contents.waiting.push_back(letter);
            } else if contents.waiting.pop_front().is_some() {
                // The dropped message's slot goes to the new one.
                tracing::error!(
                    address = %self.name,
                    "dead-letter queue full: dropped its oldest message to make room"
                );
                contents.waiting.push_back(letter);
            } else {
                tracing::error!(
                    address = %self.name,
                    "dead-letter queue full with every message in flight: dropped a dead letter"
                );
            }
        }
        drop(contents);
        self.available.notify_one();
    }

    /// Applies `f` to every waiting message, in order.
    pub(crate) fn snapshot<T>(&self, f: impl FnMut(&Stored) -> T) -> Vec<T> {
        self.lock().waiting.iter().map(f).collect()
    }

    /// Waits until messages are available and takes up to `max` of them into `batch`, or returns
    /// `None` once `stop` is set (or its sender is gone) without taking any.
    pub(crate) async fn next_batch<'a>(
        &'a self,
        batch: &'a mut Vec<Stored>,
        max: usize,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<InFlight<'a>> {
        debug_assert!(batch.is_empty());
        loop {
            if *stop.borrow() {
                return None;
            }
            // Register interest before looking, so a message pushed in between wakes us.
            let mut notified = pin!(self.available.notified());
            notified.as_mut().enable();
            {
                let mut contents = self.lock();
                if !contents.waiting.is_empty() {
                    let take = max.min(contents.waiting.len());
                    batch.extend(contents.waiting.drain(..take).map(|mut message| {
                        message.deliveries = message.deliveries.saturating_add(1);
                        message
                    }));
                    contents.in_flight += take;
                    let more = !contents.waiting.is_empty();
                    drop(contents);
                    if more {
                        // Several pushes may have left a single wake-up; pass it on.
                        self.available.notify_one();
                    }
                    return Some(InFlight {
                        queue: self,
                        messages: batch,
                    });
                }
            }
            tokio::select! {
                biased;
                () = crate::consumer::stopped(stop) => return None,
                () = &mut notified => {}
            }
        }
    }
}

/// What became of a settled batch.
pub(crate) struct Settled {
    /// Messages that reached the delivery limit, with the last nack reason, in batch order.
    pub(crate) dead: Vec<(Stored, Cow<'static, str>)>,
}

/// A batch taken from a queue and not yet settled.
///
/// Dropping it unsettled (the consumer task was aborted, or the runtime shut down) puts its
/// messages back at the front of the queue, so nothing is lost.
pub(crate) struct InFlight<'a> {
    queue: &'a Queue,
    messages: &'a mut Vec<Stored>,
}

impl InFlight<'_> {
    /// The messages as the dispatcher takes them.
    pub(crate) fn incoming(&self) -> Vec<IncomingMessage> {
        self.messages.iter().map(Stored::incoming).collect()
    }

    /// Applies the application's outcomes, given in batch order: acked messages leave the queue;
    /// nacked ones go back to the front of the queue in their order, or, once delivered
    /// `max_deliveries` times, are returned for dead-lettering. Slots of acked and dead messages
    /// are freed.
    pub(crate) fn settle(self, outcomes: Vec<Outcome>, max_deliveries: u32) -> Settled {
        let queue = self.queue;
        let count = self.messages.len();
        for (message, outcome) in self.messages.iter().zip(&outcomes) {
            if let Outcome::Nacked { reason, retry } = outcome
                && message.deliveries < max_deliveries
                && !retry.is_never()
            {
                tracing::info!(
                    address = %queue.name,
                    deliveries = message.deliveries,
                    max_deliveries,
                    %reason,
                    "message nacked; redelivering"
                );
            }
        }
        // The dispatcher gives one outcome per message; should one be missing, the message was
        // not acknowledged.
        let mut outcomes = outcomes;
        outcomes.resize(count, Outcome::nacked(Cow::Borrowed(NOT_ACKNOWLEDGED)));
        let mut freed = 0;
        let mut requeued = false;
        let mut dead = Vec::new();
        {
            let mut contents = queue.lock();
            contents.in_flight -= count;
            // Backwards, so that pushing to the front keeps the batch order.
            for (message, outcome) in self
                .messages
                .drain(..)
                .rev()
                .zip(outcomes.into_iter().rev())
            {
                match outcome {
                    Outcome::Acked => freed += 1,
                    Outcome::Skipped => {
                        // Not handled (an earlier message of the ordered batch was nacked):
                        // this delivery does not count.
                        let mut message = message;
                        message.deliveries = message.deliveries.saturating_sub(1);
                        contents.waiting.push_front(message);
                        requeued = true;
                    }
                    Outcome::Nacked { retry, .. }
                        if message.deliveries < max_deliveries && !retry.is_never() =>
                    {
                        contents.waiting.push_front(message);
                        requeued = true;
                    }
                    Outcome::Nacked { reason, .. } => {
                        freed += 1;
                        dead.push((message, reason));
                    }
                }
            }
        }
        dead.reverse();
        queue.room.add_permits(freed);
        if requeued {
            queue.available.notify_one();
        }
        Settled { dead }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.messages.is_empty() {
            return;
        }
        let mut contents = self.queue.lock();
        contents.in_flight -= self.messages.len();
        for message in self.messages.drain(..).rev() {
            contents.waiting.push_front(message);
        }
        drop(contents);
        self.queue.available.notify_one();
    }
}
