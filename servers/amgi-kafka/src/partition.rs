//! One task per assigned partition: takes the partition's batches in order, runs each through
//! the application (in order, or in keyed lanes), redelivers nacked messages as the retry
//! policy decides, dead-letters them, and publishes the partition's commit position.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use amgi_core::batch::{BatchDispatcher, NOT_ACKNOWLEDGED, Outcome};
use amgi_core::extension::NackRetrySupport;
use amgi_core::{Application, MessageScope, StateMap};
use amgi_server::{
    DeadLetterOrigin, DeadLetterPolicy, OffsetTracker, RetryPolicy, Settlement, StopSignal,
    run_in_lanes,
};
use tokio::sync::{Semaphore, SemaphorePermit, mpsc};

use crate::dead_letter;
use crate::fetch::FetchedBatch;
use crate::publisher::{KafkaPublisher, Record};

/// What the consumer loop and a partition's task share.
#[derive(Debug)]
pub(crate) struct PartitionShared {
    pub(crate) topic: Arc<str>,
    pub(crate) partition: i32,
    /// The commit position (next offset to read), or -1 before anything finished.
    position: AtomicI64,
    /// Messages handed to the task and not yet taken by it.
    pub(crate) buffered: AtomicUsize,
    /// Set when the partition is revoked or the server stops: take no new batch, abandon
    /// retries (what is not finished is not committed, so it is delivered again later).
    pub(crate) stop: StopSignal,
}

impl PartitionShared {
    pub(crate) fn new(topic: Arc<str>, partition: i32) -> Self {
        Self {
            topic,
            partition,
            position: AtomicI64::new(-1),
            buffered: AtomicUsize::new(0),
            stop: StopSignal::default(),
        }
    }

    /// The offset that may be committed, if any message finished.
    pub(crate) fn position(&self) -> Option<i64> {
        let position = self.position.load(Ordering::Acquire);
        (position >= 0).then_some(position)
    }

    fn set_position(&self, position: i64) {
        self.position.fetch_max(position, Ordering::AcqRel);
    }

    #[cfg(test)]
    pub(crate) fn set_position_for_test(&self, position: i64) {
        self.set_position(position);
    }
}

/// Counters of one server, readable through [`ServerHandle::stats`](crate::ServerHandle::stats).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) dead_letter_failures: AtomicU64,
}

/// What every partition task of one server shares.
pub(crate) struct WorkerContext<A> {
    pub(crate) dispatcher: BatchDispatcher<A>,
    pub(crate) publisher: KafkaPublisher,
    pub(crate) state: StateMap,
    pub(crate) retry: RetryPolicy,
    pub(crate) dead_letter: DeadLetterPolicy,
    /// `Some(n)`: keyed lanes, up to `n` messages of a partition at once.
    pub(crate) lanes: Option<usize>,
    /// Bounds the batches handled at once across partitions (a partition running in lanes
    /// holds one for each fetched batch).
    pub(crate) permits: Semaphore,
    /// Wakes the consumer thread when it waits for partition tasks to catch up.
    pub(crate) waker: Arc<PollWaker>,
    pub(crate) counters: Arc<Counters>,
}

/// Lets partition tasks wake the consumer thread while it holds off fetching because a
/// partition has too many messages waiting.
#[derive(Debug, Default)]
pub(crate) struct PollWaker {
    thread: std::sync::OnceLock<std::thread::Thread>,
    holding: AtomicBool,
}

impl PollWaker {
    /// Registers the calling thread as the consumer thread.
    pub(crate) fn register(&self) {
        let _ = self.thread.set(std::thread::current());
    }

    /// Parks the consumer thread for at most `timeout`, unless a task takes a batch meanwhile.
    pub(crate) fn hold(&self, timeout: Duration) {
        self.holding.store(true, Ordering::Release);
        std::thread::park_timeout(timeout);
        self.holding.store(false, Ordering::Release);
    }

    /// Called by a task that took a batch.
    fn took(&self) {
        if self.holding.load(Ordering::Acquire)
            && let Some(thread) = self.thread.get()
        {
            thread.unpark();
        }
    }
}

/// Runs the partition until it is stopped or its sender is dropped.
pub(crate) async fn run<A: Application>(
    context: Arc<WorkerContext<A>>,
    shared: Arc<PartitionShared>,
    mut batches: mpsc::UnboundedReceiver<FetchedBatch>,
) {
    let mut tracker = OffsetTracker::new();
    loop {
        let batch = tokio::select! {
            biased;
            () = shared.stop.wait() => break,
            batch = batches.recv() => match batch {
                Some(batch) => batch,
                None => break,
            },
        };
        shared.buffered.fetch_sub(batch.len(), Ordering::AcqRel);
        context.waker.took();
        let worker = Worker {
            context: &context,
            shared: &shared,
            batch: &batch,
        };
        let fresh = worker.track(&mut tracker);
        match context.lanes {
            None => worker.in_order(fresh, &mut tracker).await,
            Some(lanes) => worker.in_lanes(fresh, lanes, &mut tracker).await,
        }
    }
    tracing::debug!(
        topic = &*shared.topic,
        partition = shared.partition,
        position = shared.position(),
        "partition task stopped"
    );
}

/// One fetched batch of one partition, being handled.
struct Worker<'a, A> {
    context: &'a WorkerContext<A>,
    shared: &'a PartitionShared,
    batch: &'a FetchedBatch,
}

impl<A: Application> Worker<'_, A> {
    /// Tracks the batch's offsets; returns the indexes of the messages to handle.
    fn track(&self, tracker: &mut OffsetTracker) -> Vec<usize> {
        (0..self.batch.len())
            .filter(|&index| {
                let offset = self.batch.offset(index);
                let fresh = tracker.track(offset);
                if !fresh {
                    // librdkafka delivers each partition in order and drops what it fetched
                    // before a rebalance or pause; an old offset is a duplicate of a message
                    // this task already has.
                    tracing::warn!(
                        topic = &*self.shared.topic,
                        partition = self.shared.partition,
                        offset,
                        "offset delivered twice: skipped"
                    );
                }
                fresh
            })
            .collect()
    }

    fn finish(&self, tracker: &mut OffsetTracker, index: usize) {
        if let Some(position) = tracker.complete(self.batch.offset(index)) {
            self.shared.set_position(position);
        }
    }

    /// Handles the messages `pending` in order to the end: each is acked, dead-lettered, or
    /// abandoned because the partition stopped.
    ///
    /// Deliveries are counted per message. After a nack, the unfinished messages (the first
    /// unfinished one and every unfinished one after it, in offset order) are delivered again
    /// as one ordered batch, after the longest delay the nacks' retry decisions asked for; a
    /// message [`Outcome::Skipped`] behind a nack is redelivered without counting a delivery.
    async fn in_order(&self, mut pending: Vec<usize>, tracker: &mut OffsetTracker) {
        let mut deliveries = vec![0_u32; self.batch.len()];
        while !pending.is_empty() {
            let Some(outcomes) = self.dispatch_permitted(&pending).await else {
                return;
            };
            let mut unfinished = Vec::with_capacity(pending.len());
            let mut delay = Duration::ZERO;
            for (&index, outcome) in pending.iter().zip(outcomes) {
                if !outcome.is_skipped() {
                    deliveries[index] += 1;
                }
                match self.settle(index, outcome, deliveries[index]) {
                    Settlement::Ack => self.finish(tracker, index),
                    Settlement::Redeliver { delay: wait, .. } => {
                        delay = delay.max(wait);
                        unfinished.push(index);
                    }
                    Settlement::DeadLetter(reason) => {
                        if !self.dead_letter(index, &reason, deliveries[index]).await {
                            return;
                        }
                        self.finish(tracker, index);
                    }
                }
            }
            if !unfinished.is_empty() && !self.sleep(delay).await {
                return;
            }
            pending = unfinished;
        }
    }

    /// Handles the messages `pending` in keyed lanes: up to `lanes` at once, never two with the
    /// same record key, each as a one-message ordered batch with its own retries. Only
    /// contiguous finished offsets are committed (the tracker).
    async fn in_lanes(&self, pending: Vec<usize>, lanes: usize, tracker: &mut OffsetTracker) {
        let Some(_permit) = self.permit().await else {
            return;
        };
        run_in_lanes(
            pending,
            lanes,
            |&index| self.batch.key(index),
            |index| async move { (index, self.one(index).await) },
            |(index, finished)| {
                if finished {
                    self.finish(tracker, index);
                }
            },
        )
        .await;
    }

    /// Handles message `index` alone until it is acked or dead-lettered (`true`), or the
    /// partition stopped (`false`).
    async fn one(&self, index: usize) -> bool {
        let mut deliveries = 0_u32;
        loop {
            if self.shared.stop.is_set() {
                return false;
            }
            let outcome = self.dispatch(&[index]).await.into_iter().next();
            // A batch of one has one outcome, never `Skipped`; a missing one was not answered.
            let outcome = outcome.unwrap_or_else(|| Outcome::nacked(NOT_ACKNOWLEDGED));
            deliveries += 1;
            match self.settle(index, outcome, deliveries) {
                Settlement::Ack => return true,
                Settlement::Redeliver { delay, .. } => {
                    if !self.sleep(delay).await {
                        return false;
                    }
                }
                Settlement::DeadLetter(reason) => {
                    return self.dead_letter(index, &reason, deliveries).await;
                }
            }
        }
    }

    /// How to settle message `index` after `deliveries` deliveries, logged when it is
    /// redelivered.
    fn settle(&self, index: usize, outcome: Outcome, deliveries: u32) -> Settlement {
        // Kept only to log it (a nack's reason moves into the settlement).
        let reason = tracing::enabled!(tracing::Level::DEBUG)
            .then(|| outcome.nack_reason().map(str::to_owned))
            .flatten();
        let settlement = self.context.retry.settle(outcome, deliveries);
        if let (Settlement::Redeliver { delay, .. }, Some(reason)) = (&settlement, reason) {
            tracing::debug!(
                topic = &*self.shared.topic,
                partition = self.shared.partition,
                offset = self.batch.offset(index),
                deliveries,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                %reason,
                "nacked: redelivering"
            );
        }
        settlement
    }

    /// A permit to call the application; `None` if the partition stopped first.
    async fn permit(&self) -> Option<SemaphorePermit<'_>> {
        let acquire = self.context.permits.acquire();
        self.shared.stop.run_until_stopped(acquire).await?.ok()
    }

    /// [`dispatch`](Self::dispatch) with a permit; `None` if the partition stopped first.
    async fn dispatch_permitted(&self, indexes: &[usize]) -> Option<Vec<Outcome>> {
        let _permit = self.permit().await?;
        Some(self.dispatch(indexes).await)
    }

    /// Runs messages `indexes` through the application as one ordered batch.
    async fn dispatch(&self, indexes: &[usize]) -> Vec<Outcome> {
        let scope = MessageScope::new(Arc::clone(&self.shared.topic))
            .ordered(true)
            .with_state(self.context.state.clone())
            .with_extension(NackRetrySupport);
        let messages = indexes
            .iter()
            .map(|&index| self.batch.message(index))
            .collect();
        self.context
            .dispatcher
            .dispatch(scope, messages)
            .await
            .outcomes
    }

    /// Waits `delay`; `false` if the partition stopped meanwhile (or had stopped).
    async fn sleep(&self, delay: Duration) -> bool {
        let sleep = tokio::time::sleep(delay);
        self.shared.stop.run_until_stopped(sleep).await.is_some()
    }

    /// Produces the dead letter of message `index`. Returns `true` when the message is
    /// finished: dead-lettered, dead-lettering is disabled, or the dead letter failed
    /// permanently (logged and counted, the message skipped); `false` if the partition stopped
    /// while transient failures were being retried (the message is then not committed).
    async fn dead_letter(&self, index: usize, reason: &str, deliveries: u32) -> bool {
        let topic = &*self.shared.topic;
        let partition = self.shared.partition;
        let offset = self.batch.offset(index);
        let Some(dead_letter_topic) = self.context.dead_letter.address_for(topic) else {
            tracing::error!(
                topic,
                partition,
                offset,
                deliveries,
                %reason,
                "message skipped after its last delivery (dead-lettering is disabled)"
            );
            return true;
        };
        let origin = DeadLetterOrigin {
            reason,
            deliveries,
            address: topic,
        };
        let headers = dead_letter::headers(&self.batch.headers(index), origin, partition, offset);
        let record = Record {
            topic: &dead_letter_topic,
            headers: &headers,
            payload: self.batch.payload(index),
            key: self.batch.key(index),
            partition: None,
            timestamp: None,
        };
        let counters = &self.context.counters;
        let mut failures: u32 = 0;
        loop {
            match self.context.publisher.produce(record).await {
                Ok(()) => {
                    counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        topic,
                        partition,
                        offset,
                        deliveries,
                        %reason,
                        dead_letter_topic,
                        "message dead-lettered"
                    );
                    return true;
                }
                Err(error) if error.is_permanent() => {
                    counters
                        .dead_letter_failures
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::error!(
                        topic,
                        partition,
                        offset,
                        deliveries,
                        %reason,
                        dead_letter_topic,
                        %error,
                        "the dead letter can never be produced: message skipped (committed)"
                    );
                    return true;
                }
                Err(error) => {
                    failures += 1;
                    tracing::error!(
                        topic,
                        partition,
                        offset,
                        dead_letter_topic,
                        %error,
                        failures,
                        "could not produce a dead letter; the partition waits and tries again"
                    );
                    let delay = self.context.retry.delay_before(failures.saturating_add(1));
                    if !self.sleep(delay).await {
                        return false;
                    }
                }
            }
        }
    }
}
