//! One named queue: its waiting messages, its capacity and the batches taken from it.
//!
//! A message holds one permit of its queue's semaphore from the moment it is published until it
//! is acked or moved to the dead-letter queue, so waiting and in-flight messages together never
//! exceed the capacity. A nacked message keeps its permit when it goes back to the queue, so
//! redelivery never waits for room. Dead letters are the exception: they are taken without a
//! permit when none is free (counted in `overflow`), so dead-lettering never waits nor drops.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use amgi_core::batch::{IncomingMessage, NOT_ACKNOWLEDGED, Outcome};
use amgi_core::{Bindings, Headers, MessageSend};
use amgi_server::{LANE_KEY_HEADER, RetryPolicy, Settlement, StopSignal};
use bytes::Bytes;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

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
    /// Delivered and not yet settled, or waiting out a redelivery delay.
    in_flight: usize,
    /// Messages held beyond the capacity (dead letters taken when the queue was full).
    overflow: usize,
}

/// One named queue.
#[derive(Debug)]
pub(crate) struct Queue {
    name: Arc<str>,
    is_dead_letter: bool,
    capacity: usize,
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
            capacity,
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

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
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

    /// Frees the slots of `count` messages that left the queue, overflow first.
    fn free(&self, contents: &mut Contents, count: usize) {
        let over = contents.overflow.min(count);
        contents.overflow -= over;
        self.room.add_permits(count - over);
    }

    /// Frees the slots of `count` in-flight messages that left the queue (acked or
    /// dead-lettered).
    fn release(&self, count: usize) {
        if count == 0 {
            return;
        }
        let mut contents = self.lock();
        contents.in_flight -= count;
        self.free(&mut contents, count);
    }

    /// Puts `messages`, in flight until now, back at the front of the queue in their order.
    fn requeue(&self, messages: impl DoubleEndedIterator<Item = Stored> + ExactSizeIterator) {
        if messages.len() == 0 {
            return;
        }
        let mut contents = self.lock();
        contents.in_flight -= messages.len();
        for message in messages.rev() {
            contents.waiting.push_front(message);
        }
        drop(contents);
        self.available.notify_one();
    }

    /// The queue that takes this queue's dead letters, created by `create` on first use.
    pub(crate) fn dead_letter_queue(&self, create: impl FnOnce() -> Arc<Queue>) -> &Arc<Queue> {
        self.dead_letters.get_or_init(create)
    }

    /// Appends dead letters without waiting and without dropping any: a letter that finds no
    /// free slot is held beyond the capacity, logged at `warn`.
    pub(crate) fn push_dead_letters(&self, letters: Vec<Stored>) {
        let mut contents = self.lock();
        for letter in letters {
            if !self.try_reserve() {
                contents.overflow += 1;
                tracing::warn!(
                    address = %self.name,
                    capacity = self.capacity,
                    over_capacity = contents.overflow,
                    "dead-letter queue over its capacity: kept the dead letter anyway"
                );
            }
            contents.waiting.push_back(letter);
        }
        drop(contents);
        self.available.notify_one();
    }

    /// Applies `f` to every waiting message, in order.
    pub(crate) fn snapshot<T>(&self, f: impl FnMut(&Stored) -> T) -> Vec<T> {
        self.lock().waiting.iter().map(f).collect()
    }

    /// Waits until messages are available and takes up to `max` of them into `batch`, or returns
    /// `None` once `stop` is set without taking any.
    pub(crate) async fn next_batch<'a>(
        self: &'a Arc<Self>,
        batch: &'a mut Vec<Stored>,
        max: usize,
        stop: &StopSignal,
    ) -> Option<InFlight<'a>> {
        debug_assert!(batch.is_empty());
        loop {
            if stop.is_set() {
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
                () = stop.wait() => return None,
                () = &mut notified => {}
            }
        }
    }
}

/// What became of a settled batch.
pub(crate) struct Settled {
    /// Messages to dead-letter, with the last nack reason, in batch order.
    pub(crate) dead: Vec<(Stored, Cow<'static, str>)>,
    /// Messages to redeliver once their delay has passed.
    pub(crate) delayed: Vec<Delayed>,
}

/// A batch taken from a queue and not yet settled.
///
/// Dropping it unsettled (the consumer task was aborted, or the runtime shut down) puts its
/// messages back at the front of the queue, so nothing is lost.
pub(crate) struct InFlight<'a> {
    queue: &'a Arc<Queue>,
    messages: &'a mut Vec<Stored>,
}

impl InFlight<'_> {
    /// The messages as the dispatcher takes them.
    pub(crate) fn incoming(&self) -> Vec<IncomingMessage> {
        self.messages.iter().map(Stored::incoming).collect()
    }

    /// Applies the application's outcomes, given in batch order: acked messages leave the queue;
    /// skipped ones go back uncounted; nacked ones are dead-lettered or redelivered as `retry`
    /// decides. Redeliveries without a delay go back to the front of the queue at once, in batch
    /// order; the others come back as [`Delayed`] — in an `ordered` batch all together, after the
    /// longest delay, so that order holds.
    pub(crate) fn settle(
        self,
        outcomes: Vec<Outcome>,
        retry: &RetryPolicy,
        ordered: bool,
    ) -> Settled {
        let queue = self.queue;
        let mut outcomes = outcomes;
        // The dispatcher gives one outcome per message; should one be missing, the message was
        // not acknowledged.
        outcomes.resize(self.messages.len(), Outcome::nacked(NOT_ACKNOWLEDGED));
        let (mut freed, mut dead, mut again) = (0, Vec::new(), Vec::new());
        for (mut message, outcome) in self.messages.drain(..).zip(outcomes) {
            if outcome.is_skipped() {
                // Not handled (an earlier message of the ordered batch was nacked): this
                // delivery does not count.
                message.deliveries = message.deliveries.saturating_sub(1);
            }
            if let Some(reason) = outcome.nack_reason() {
                tracing::info!(address = %queue.name, deliveries = message.deliveries,
                        max_deliveries = retry.max_deliveries, %reason, "message nacked");
            }
            match retry.settle(outcome, message.deliveries) {
                Settlement::Ack => freed += 1,
                Settlement::Redeliver { delay, .. } => again.push((message, delay)),
                Settlement::DeadLetter(reason) => {
                    freed += 1;
                    dead.push((message, reason));
                }
            }
        }
        queue.release(freed);
        let now = Instant::now();
        let longest = again
            .iter()
            .map(|(_, delay)| *delay)
            .max()
            .unwrap_or_default();
        let mut delayed: Vec<Delayed> = Vec::new();
        if ordered && !longest.is_zero() {
            let messages = again.into_iter().map(|(message, _)| message).collect();
            delayed.push(Delayed::new(queue, now + longest, messages));
        } else {
            let (at_once, later): (Vec<_>, Vec<_>) =
                again.into_iter().partition(|(_, delay)| delay.is_zero());
            queue.requeue(at_once.into_iter().map(|(message, _)| message));
            for (message, delay) in later {
                match delayed.iter_mut().find(|group| group.due == now + delay) {
                    Some(group) => group.messages.push(message),
                    None => delayed.push(Delayed::new(queue, now + delay, vec![message])),
                }
            }
        }
        Settled { dead, delayed }
    }
}

impl InFlight<'_> {
    /// The batch as messages to handle in keyed lanes, each settled on its own.
    pub(crate) fn into_lanes(self) -> LaneBatch {
        LaneBatch {
            queue: Arc::clone(self.queue),
            slots: Mutex::new(self.messages.drain(..).map(Some).collect()),
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.queue.requeue(self.messages.drain(..));
    }
}

/// Nacked messages waiting out their redelivery delay; counted as in flight until then. Dropping
/// it, when the delay is over or at any earlier point, puts them back at the front of the queue.
pub(crate) struct Delayed {
    queue: Arc<Queue>,
    messages: Vec<Stored>,
    due: Instant,
}

impl Delayed {
    fn new(queue: &Arc<Queue>, due: Instant, messages: Vec<Stored>) -> Self {
        Self {
            queue: Arc::clone(queue),
            messages,
            due,
        }
    }

    /// Waits until the delay is over or `stop` is set, then requeues the messages.
    pub(crate) async fn wait(self, stop: &StopSignal) {
        tokio::select! {
            () = tokio::time::sleep_until(self.due) => {}
            () = stop.wait() => {}
        }
    }
}

impl Drop for Delayed {
    fn drop(&mut self) {
        self.queue.requeue(self.messages.drain(..));
    }
}

/// A batch taken for keyed lanes: its messages, each settled on its own while the others run.
///
/// Dropping it (every lane done, the server stopping, or the consumer task aborted) puts the
/// messages still in it — not started, waiting out a redelivery delay, or cut short — back at
/// the front of the queue in batch order, so nothing is lost.
pub(crate) struct LaneBatch {
    queue: Arc<Queue>,
    /// `None` once the message is settled (acked or dead-lettered).
    slots: Mutex<Vec<Option<Stored>>>,
}

impl LaneBatch {
    fn lock(&self) -> MutexGuard<'_, Vec<Option<Stored>>> {
        // Nothing panics while holding the lock; a poisoned lock is used as is.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many messages the batch was taken with.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// The lane key of message `index`: its Kafka binding's key, otherwise its
    /// [`LANE_KEY_HEADER`] header; `None` for a message without either.
    pub(crate) fn key(&self, index: usize) -> Option<Bytes> {
        let slots = self.lock();
        let message = slots.get(index)?.as_ref()?;
        message
            .bindings
            .kafka()
            .and_then(|binding| binding.key.clone())
            .or_else(|| message.headers.get(LANE_KEY_HEADER.as_bytes()).cloned())
    }

    /// Message `index` as the dispatcher takes it, with its delivery count; a `redelivery`
    /// counts one more delivery first. `None` once it is settled.
    pub(crate) fn deliver(&self, index: usize, redelivery: bool) -> Option<(IncomingMessage, u32)> {
        let mut slots = self.lock();
        let message = slots.get_mut(index)?.as_mut()?;
        if redelivery {
            message.deliveries = message.deliveries.saturating_add(1);
        }
        Some((message.incoming(), message.deliveries))
    }

    /// Message `index` was acked: it leaves the queue.
    pub(crate) fn ack(&self, index: usize) {
        if self.take(index).is_some() {
            self.queue.release(1);
        }
    }

    /// Takes message `index` out of the batch to dead-letter it, freeing its place in the queue.
    pub(crate) fn dead(&self, index: usize) -> Option<Stored> {
        let message = self.take(index)?;
        self.queue.release(1);
        Some(message)
    }

    fn take(&self, index: usize) -> Option<Stored> {
        self.lock().get_mut(index)?.take()
    }
}

impl Drop for LaneBatch {
    fn drop(&mut self) {
        let left: Vec<Stored> = self.lock().drain(..).flatten().collect();
        self.queue.requeue(left.into_iter());
    }
}
