//! One task per assigned partition: takes the partition's batches in order, runs each through
//! the application, redelivers nacked messages with backoff, dead-letters them after the last
//! attempt, and publishes the partition's commit position.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};

use amgi_core::batch::{BatchDispatcher, Outcome};
use amgi_core::{Application, MessageScope, State};
use tokio::sync::{Notify, Semaphore, mpsc};

use crate::config::{DeadLetter, RetryPolicy};
use crate::dead_letter::{self, Origin};
use crate::fetch::FetchedBatch;
use crate::publisher::{KafkaPublisher, Record};
use amgi_server::OffsetTracker;

/// A flag that tasks can wait on.
#[derive(Debug, Default)]
pub(crate) struct StopSignal {
    set: AtomicBool,
    notify: Notify,
}

impl StopSignal {
    pub(crate) fn set(&self) {
        self.set.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    pub(crate) fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Resolves once the flag is set.
    pub(crate) async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_set() {
                return;
            }
            notified.await;
        }
    }
}

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
}

/// What every partition task of one server shares.
pub(crate) struct WorkerContext<A> {
    pub(crate) dispatcher: BatchDispatcher<A>,
    pub(crate) publisher: KafkaPublisher,
    pub(crate) state: State,
    pub(crate) retry: RetryPolicy,
    pub(crate) dead_letter: DeadLetter,
    /// Bounds the batches handled at once across partitions.
    pub(crate) permits: Semaphore,
    /// Wakes the consumer thread when it waits for partition tasks to catch up.
    pub(crate) waker: Arc<PollWaker>,
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
    pub(crate) fn hold(&self, timeout: std::time::Duration) {
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
        let mut worker = Worker {
            context: &context,
            shared: &shared,
            tracker: &mut tracker,
        };
        worker.handle(batch).await;
    }
    tracing::debug!(
        topic = &*shared.topic,
        partition = shared.partition,
        position = shared.position(),
        "partition task stopped"
    );
}

struct Worker<'a, A> {
    context: &'a WorkerContext<A>,
    shared: &'a PartitionShared,
    tracker: &'a mut OffsetTracker,
}

impl<A: Application> Worker<'_, A> {
    /// Handles one batch to the end: every message is acked, dead-lettered, or abandoned
    /// because the partition stopped.
    async fn handle(&mut self, batch: FetchedBatch) {
        let mut pending: Vec<usize> = (0..batch.len())
            .filter(|&index| {
                let offset = batch.offset(index);
                let fresh = self.tracker.track(offset);
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
            .collect();
        let mut attempt: u32 = 1;
        loop {
            if pending.is_empty() {
                return;
            }
            let Some(outcomes) = self.dispatch(&batch, &pending).await else {
                return;
            };
            let mut nacked = Vec::new();
            for (&index, outcome) in pending.iter().zip(outcomes) {
                match outcome {
                    Outcome::Acked => self.finish(batch.offset(index)),
                    Outcome::Nacked { reason, .. } => nacked.push((index, reason)),
                    Outcome::Skipped => nacked.push((index, "skipped".into())),
                }
            }
            if nacked.is_empty() {
                return;
            }
            if attempt >= self.context.retry.max_attempts {
                for (index, reason) in nacked {
                    if !self.dead_letter(&batch, index, &reason, attempt).await {
                        return;
                    }
                    self.finish(batch.offset(index));
                }
                return;
            }
            attempt += 1;
            let delay = self.context.retry.delay_before(attempt);
            tracing::debug!(
                topic = &*self.shared.topic,
                partition = self.shared.partition,
                nacked = nacked.len(),
                attempt,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                first_reason = %nacked[0].1,
                "redelivering nacked messages"
            );
            if !self.sleep(delay).await {
                return;
            }
            pending = nacked.into_iter().map(|(index, _)| index).collect();
        }
    }

    /// Runs messages `indexes` of `batch` through the application as one ordered batch; `None`
    /// if the partition stopped while waiting for a permit.
    async fn dispatch(&self, batch: &FetchedBatch, indexes: &[usize]) -> Option<Vec<Outcome>> {
        let _permit = tokio::select! {
            biased;
            () = self.shared.stop.wait() => return None,
            permit = self.context.permits.acquire() => permit.ok()?,
        };
        let scope = MessageScope::new(Arc::clone(&self.shared.topic))
            .ordered(true)
            .with_state(self.context.state.clone());
        let messages = indexes.iter().map(|&index| batch.message(index)).collect();
        let report = self.context.dispatcher.dispatch(scope, messages).await;
        Some(report.outcomes)
    }

    fn finish(&mut self, offset: i64) {
        if let Some(position) = self.tracker.complete(offset) {
            self.shared.set_position(position);
        }
    }

    /// Waits `delay`; `false` if the partition stopped meanwhile.
    async fn sleep(&self, delay: std::time::Duration) -> bool {
        tokio::select! {
            biased;
            () = self.shared.stop.wait() => false,
            () = tokio::time::sleep(delay) => true,
        }
    }

    /// Produces the dead letter of message `index`, retrying until the broker takes it; `false`
    /// if the partition stopped first (the message is then not committed).
    async fn dead_letter(
        &self,
        batch: &FetchedBatch,
        index: usize,
        reason: &str,
        deliveries: u32,
    ) -> bool {
        let topic = &*self.shared.topic;
        let partition = self.shared.partition;
        let offset = batch.offset(index);
        let Some(dead_letter_topic) = self.context.dead_letter.topic_for(topic) else {
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
        let headers = dead_letter::headers(
            &batch.headers(index),
            Origin {
                reason,
                deliveries,
                topic,
                partition,
                offset,
            },
        );
        let record = Record {
            topic: &dead_letter_topic,
            headers: &headers,
            payload: batch.payload(index),
            key: batch.key(index),
            partition: None,
            timestamp: None,
        };
        let mut failures: u32 = 0;
        loop {
            match self.context.publisher.produce(record).await {
                Ok(()) => {
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
