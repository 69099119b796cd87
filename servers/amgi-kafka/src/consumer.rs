//! The consumer thread: one OS thread per server owns the rdkafka `BaseConsumer`, polls it,
//! groups what each poll round returns into per-partition batches, hands them to the partition
//! tasks, commits their positions, and reacts to rebalances.
//!
//! Why a thread of its own: librdkafka runs rebalance callbacks inside `poll`, and the revoke
//! callback must wait for the batches in progress on the revoked partitions and commit their
//! offsets *before* the partitions move to another consumer; that wait is blocking. And rdkafka
//! 0.39 can block for ever when a consumer with a `group.id` is dropped (the drop closes it):
//! the drop happens on this thread, after it reported that every offset is committed, and the
//! server handle waits for the close only up to a deadline. If the drop never returns, only
//! this detached thread is stuck; the process still exits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::TopicPartitionList;
use rdkafka::consumer::{CommitMode, Consumer as _};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message as _};
use rdkafka::types::RDKafkaTopic;
use tokio::sync::oneshot;

use crate::fetch::FetchedBatch;
use crate::group::{Consumer, Entry, GroupShared, commit, drain, lock};
use crate::partition::PollWaker;
use crate::{Error, ErrorKind};

/// How long one `poll` blocks when no message is waiting: the longest a stop request waits.
const POLL_TIMEOUT: Duration = Duration::from_millis(50);

/// How long the consumer thread holds off fetching for a partition task to catch up before it
/// pauses that partition instead.
const HOLD_LIMIT: Duration = Duration::from_millis(250);

/// How long one hold lasts at most (partition tasks wake the thread when they take a batch).
const HOLD_SLICE: Duration = Duration::from_millis(5);

/// Requests from the server handle to the consumer thread.
#[derive(Debug, Default)]
pub(crate) struct Control {
    /// Stop fetching, finish batches in progress, commit, close.
    pub(crate) stop: AtomicBool,
    /// As `stop`, but abort batches in progress (the handle was dropped without shutdown).
    pub(crate) abort: AtomicBool,
}

impl Control {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire) || self.abort.load(Ordering::Acquire)
    }
}

/// Everything the consumer thread needs.
pub(crate) struct PollLoop {
    pub(crate) consumer: Consumer,
    pub(crate) group: Arc<GroupShared>,
    pub(crate) topics: Vec<String>,
    pub(crate) control: Arc<Control>,
    pub(crate) batch_size: usize,
    /// Messages waiting for one partition task above which fetching holds off.
    pub(crate) max_buffered: usize,
    pub(crate) commit_interval: Duration,
    pub(crate) drain_timeout: Duration,
    pub(crate) waker: Arc<PollWaker>,
}

impl PollLoop {
    /// Starts the consumer thread. It reports on `drained` once it stopped consuming, every
    /// partition task ended and the offsets were committed (with the error that stopped it, if
    /// any), then closes the consumer and reports on `closed`.
    pub(crate) fn spawn(
        self,
        drained: oneshot::Sender<Result<(), Error>>,
        closed: oneshot::Sender<()>,
    ) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name("amgi-kafka-consumer".into())
            .spawn(move || self.run(drained, closed))
            .map(drop)
    }

    fn run(self, drained: oneshot::Sender<Result<(), Error>>, closed: oneshot::Sender<()>) {
        let consumed = self.consume();
        if let Err(error) = &consumed {
            tracing::error!(%error, "the consumer failed; stopping");
        }
        self.finish();
        // No partition task runs any more: let go of the application and the producer.
        lock(&self.group.spawner).take();
        let _ = drained.send(consumed);
        // Dropping the consumer closes it: it revokes its partitions (nothing left to commit)
        // and leaves the group. rdkafka 0.39 can block for ever in this drop; only this thread
        // would wait, and the server handle waits for `closed` with a deadline.
        let started = Instant::now();
        drop(self.consumer);
        tracing::debug!(
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "consumer closed"
        );
        let _ = closed.send(());
    }

    fn consume(&self) -> Result<(), Error> {
        self.waker.register();
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        self.consumer
            .subscribe(&topics)
            .map_err(|e| Error::kafka(ErrorKind::Config, "cannot subscribe", e))?;
        let fetch_limit = self.batch_size.saturating_mul(8).max(256);
        let mut round = Vec::with_capacity(fetch_limit);
        let mut held_since: Option<Instant> = None;
        let mut next_commit = Instant::now() + self.commit_interval;
        while !self.control.stopping() {
            if self.backlogged() {
                // Some partition task has `max_buffered` messages waiting: take nothing more
                // from librdkafka (which then stops fetching once its own queue is full) until
                // it catches up. A partition that stays behind is paused, so that the others go
                // on (pausing drops what librdkafka prefetched for it).
                let since = *held_since.get_or_insert_with(Instant::now);
                if since.elapsed() < HOLD_LIMIT {
                    self.waker.hold(HOLD_SLICE);
                } else {
                    self.pause_backlogged();
                    held_since = None;
                }
            } else {
                held_since = None;
                match self.consumer.poll(POLL_TIMEOUT) {
                    None => {}
                    Some(Ok(message)) => {
                        round.push(message);
                        self.gather(&mut round, fetch_limit)?;
                        self.hand_over(&round);
                        round.clear();
                    }
                    Some(Err(error)) => Self::consumer_error(error)?,
                }
            }
            self.resume_caught_up();
            if Instant::now() >= next_commit {
                let mut entries = lock(&self.group.entries);
                if let Err(error) = commit(&self.consumer, &mut entries, CommitMode::Async, false) {
                    tracing::warn!(%error, "could not commit offsets");
                }
                next_commit = Instant::now() + self.commit_interval;
            }
        }
        Ok(())
    }

    /// Takes what librdkafka already fetched, without waiting, up to `limit` messages.
    fn gather<'c>(
        &'c self,
        round: &mut Vec<BorrowedMessage<'c>>,
        limit: usize,
    ) -> Result<(), Error> {
        while round.len() < limit {
            match self.consumer.poll(Duration::ZERO) {
                None => break,
                Some(Ok(message)) => round.push(message),
                Some(Err(error)) => {
                    Self::consumer_error(error)?;
                    break;
                }
            }
        }
        Ok(())
    }

    /// Hands the messages of one poll round to their partition tasks: one batch (of at most
    /// the batch size) per partition, in offset order.
    fn hand_over(&self, round: &[BorrowedMessage<'_>]) {
        let entries = lock(&self.group.entries);
        // The entry of each message; messages of one partition come in runs.
        let mut owners = Vec::with_capacity(round.len());
        // Topic handles are compared by address (never dereferenced): it is stable while the
        // round's messages are alive, and no rebalance runs while this lock is held.
        let mut last: Option<(*mut RDKafkaTopic, i32, Option<usize>)> = None;
        for message in round {
            let (topic, partition) = (message.topic_ptr(), message.partition());
            let owner = match last {
                Some((t, p, owner)) if t == topic && p == partition => owner,
                _ => {
                    let name = message.topic();
                    let owner = entries.iter().position(|e| e.is(name, partition));
                    if owner.is_none() {
                        tracing::debug!(
                            topic = name,
                            partition,
                            offset = message.offset(),
                            "message of a partition not assigned any more: skipped"
                        );
                    }
                    last = Some((topic, partition, owner));
                    owner
                }
            };
            owners.push(owner);
        }
        for (index, entry) in entries.iter().enumerate() {
            let mut mine = round
                .iter()
                .zip(&owners)
                .filter(|(_, owner)| **owner == Some(index))
                .map(|(message, _)| message)
                .peekable();
            while mine.peek().is_some() {
                let chunk: Vec<&BorrowedMessage<'_>> =
                    mine.by_ref().take(self.batch_size).collect();
                let batch = FetchedBatch::copy(entry.shared.partition, chunk.iter().copied());
                entry
                    .shared
                    .buffered
                    .fetch_add(batch.len(), Ordering::AcqRel);
                // A closed channel means the task was stopped; the messages are simply not
                // committed.
                let _ = entry.batches.send(batch);
            }
        }
    }

    /// Whether a partition that is not paused has `max_buffered` messages waiting.
    fn backlogged(&self) -> bool {
        lock(&self.group.entries)
            .iter()
            .any(|e| !e.paused && e.shared.buffered.load(Ordering::Acquire) >= self.max_buffered)
    }

    /// Pauses the partitions that have `max_buffered` messages waiting.
    fn pause_backlogged(&self) {
        let mut entries = lock(&self.group.entries);
        for entry in entries.iter_mut() {
            let buffered = entry.shared.buffered.load(Ordering::Acquire);
            if !entry.paused && buffered >= self.max_buffered {
                self.set_paused(entry, true, buffered);
            }
        }
    }

    /// Resumes paused partitions whose task caught up.
    fn resume_caught_up(&self) {
        let mut entries = lock(&self.group.entries);
        for entry in entries.iter_mut() {
            let buffered = entry.shared.buffered.load(Ordering::Acquire);
            if entry.paused && buffered <= self.max_buffered / 4 {
                self.set_paused(entry, false, buffered);
            }
        }
    }

    fn set_paused(&self, entry: &mut Entry, pause: bool, buffered: usize) {
        let mut list = TopicPartitionList::new();
        list.add_partition(&entry.shared.topic, entry.shared.partition);
        let result = if pause {
            self.consumer.pause(&list)
        } else {
            self.consumer.resume(&list)
        };
        match result {
            Ok(()) => {
                tracing::debug!(
                    topic = &*entry.shared.topic,
                    partition = entry.shared.partition,
                    buffered,
                    "partition {}",
                    if pause { "paused" } else { "resumed" }
                );
                entry.paused = pause;
            }
            Err(error) => tracing::warn!(%error, "could not pause or resume a partition"),
        }
    }

    fn consumer_error(error: KafkaError) -> Result<(), Error> {
        match error {
            KafkaError::MessageConsumptionFatal(_) => Err(Error::kafka(
                ErrorKind::Consumer,
                "fatal consumer error",
                error,
            )),
            KafkaError::PartitionEOF(_) => Ok(()),
            error => {
                tracing::warn!(%error, "consumer error (librdkafka retries)");
                Ok(())
            }
        }
    }

    /// Stops every partition task (finishing or aborting batches in progress) and commits what
    /// they finished.
    fn finish(&self) {
        let mut entries = std::mem::take(&mut *lock(&self.group.entries));
        if self.control.abort.load(Ordering::Acquire) {
            for entry in &entries {
                entry.task.abort();
            }
        }
        drain(&mut entries, self.drain_timeout);
        if let Err(error) = commit(&self.consumer, &mut entries, CommitMode::Sync, true) {
            tracing::warn!(%error, "could not commit offsets on shutdown");
        }
    }
}
