//! The consumer group side of the consumer thread: which partitions this server holds, their
//! tasks, and what happens when a rebalance assigns or revokes them (the rdkafka
//! `ConsumerContext`). Rebalance callbacks run inside `poll`, on the consumer thread.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc as std_mpsc};
use std::time::{Duration, Instant};

use amgi_core::Application;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::{Offset, TopicPartitionList};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use crate::fetch::FetchedBatch;
use crate::partition::{self, PartitionShared, WorkerContext};

/// The consumer type of the server.
pub(crate) type Consumer = BaseConsumer<GroupContext>;

/// Starts the task of a newly assigned partition.
pub(crate) trait SpawnPartition: Send + Sync {
    /// Spawns the task; it drops `done` when it ends.
    fn spawn(
        &self,
        shared: Arc<PartitionShared>,
        batches: mpsc::UnboundedReceiver<FetchedBatch>,
        done: std_mpsc::Sender<()>,
    ) -> AbortHandle;
}

/// Spawns partition tasks of application `A` on the server's runtime.
pub(crate) struct Spawner<A> {
    pub(crate) context: Arc<WorkerContext<A>>,
    pub(crate) runtime: Handle,
}

impl<A: Application> SpawnPartition for Spawner<A> {
    fn spawn(
        &self,
        shared: Arc<PartitionShared>,
        batches: mpsc::UnboundedReceiver<FetchedBatch>,
        done: std_mpsc::Sender<()>,
    ) -> AbortHandle {
        let context = Arc::clone(&self.context);
        self.runtime
            .spawn(async move {
                let _done = done;
                partition::run(context, shared, batches).await;
            })
            .abort_handle()
    }
}

/// One assigned partition, as the consumer thread sees it.
pub(crate) struct Entry {
    pub(crate) shared: Arc<PartitionShared>,
    pub(crate) batches: mpsc::UnboundedSender<FetchedBatch>,
    /// Disconnected when the task ended.
    done: std_mpsc::Receiver<()>,
    pub(crate) task: AbortHandle,
    committed: Option<i64>,
    pub(crate) paused: bool,
}

impl Entry {
    pub(crate) fn is(&self, topic: &str, partition: i32) -> bool {
        self.shared.partition == partition && &*self.shared.topic == topic
    }
}

/// What the consumer thread, its rebalance callbacks and the server handle share.
pub(crate) struct GroupShared {
    pub(crate) entries: Mutex<Vec<Entry>>,
    pub(crate) spawner: Mutex<Option<Box<dyn SpawnPartition>>>,
    assigned: Mutex<Option<oneshot::Sender<()>>>,
    drain_timeout: Duration,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing in this module panics while holding a lock; if something did, the data is still
    // consistent enough to shut down with.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl GroupShared {
    pub(crate) fn new(spawner: Box<dyn SpawnPartition>, drain_timeout: Duration) -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
            spawner: Mutex::new(Some(spawner)),
            assigned: Mutex::new(None),
            drain_timeout,
        }
    }

    /// Arranges for `ready` to be sent once the first assignment arrived.
    pub(crate) fn notify_assigned(&self, ready: oneshot::Sender<()>) {
        *lock(&self.assigned) = Some(ready);
    }

    /// The partitions currently assigned, sorted.
    pub(crate) fn assignment(&self) -> Vec<(String, i32)> {
        let mut assignment: Vec<_> = lock(&self.entries)
            .iter()
            .map(|e| (e.shared.topic.to_string(), e.shared.partition))
            .collect();
        assignment.sort();
        assignment
    }

    fn assign(&self, partitions: &TopicPartitionList) {
        let spawner = lock(&self.spawner);
        let Some(spawner) = spawner.as_ref() else {
            return;
        };
        let mut entries = lock(&self.entries);
        for element in partitions.elements() {
            let (topic, partition) = (element.topic(), element.partition());
            if entries.iter().any(|e| e.is(topic, partition)) {
                continue;
            }
            let shared = Arc::new(PartitionShared::new(Arc::from(topic), partition));
            let (batches, receiver) = mpsc::unbounded_channel();
            let (done_sender, done) = std_mpsc::channel();
            let task = spawner.spawn(Arc::clone(&shared), receiver, done_sender);
            entries.push(Entry {
                shared,
                batches,
                done,
                task,
                committed: None,
                paused: false,
            });
        }
        tracing::info!(
            assigned = partitions.count(),
            partitions = %describe(partitions),
            "partitions assigned"
        );
        drop(entries);
        if let Some(ready) = lock(&self.assigned).take() {
            let _ = ready.send(());
        }
    }

    fn revoke(&self, consumer: &Consumer, partitions: &TopicPartitionList) {
        let mut revoked = Vec::new();
        {
            let mut entries = lock(&self.entries);
            for element in partitions.elements() {
                if let Some(index) = entries
                    .iter()
                    .position(|e| e.is(element.topic(), element.partition()))
                {
                    revoked.push(entries.swap_remove(index));
                }
            }
        }
        if revoked.is_empty() {
            return;
        }
        tracing::info!(
            revoked = revoked.len(),
            partitions = %describe(partitions),
            "partitions revoked: finishing batches in progress, then committing"
        );
        drain(&mut revoked, self.drain_timeout);
        if consumer.assignment_lost() {
            tracing::warn!(
                "partition assignment lost (session timed out): not committing; \
                 unfinished messages will be delivered again"
            );
            return;
        }
        if let Err(error) = commit(consumer, &mut revoked, CommitMode::Sync, true) {
            tracing::warn!(%error, "could not commit the offsets of revoked partitions");
        }
    }
}

fn describe(partitions: &TopicPartitionList) -> String {
    let parts: Vec<String> = partitions
        .elements()
        .iter()
        .map(|e| format!("{}[{}]", e.topic(), e.partition()))
        .collect();
    parts.join(", ")
}

/// Stops the tasks of `entries` and waits until they ended, aborting those still running at
/// the deadline. Their positions stay readable.
pub(crate) fn drain(entries: &mut [Entry], timeout: Duration) {
    for entry in entries.iter() {
        entry.shared.stop.set();
    }
    let deadline = Instant::now() + timeout;
    for entry in entries.iter() {
        let left = deadline.saturating_duration_since(Instant::now());
        if let Err(std_mpsc::RecvTimeoutError::Timeout) = entry.done.recv_timeout(left) {
            tracing::warn!(
                topic = &*entry.shared.topic,
                partition = entry.shared.partition,
                timeout_s = timeout.as_secs_f64(),
                "batch still in progress at the drain deadline: abandoned (not committed)"
            );
            entry.task.abort();
        }
    }
}

/// Commits the positions of `entries`; `force` commits positions already committed once.
pub(crate) fn commit(
    consumer: &Consumer,
    entries: &mut [Entry],
    mode: CommitMode,
    force: bool,
) -> KafkaResult<()> {
    let mut list = TopicPartitionList::new();
    for entry in entries.iter() {
        if let Some(position) = entry.shared.position()
            && (force || entry.committed != Some(position))
        {
            list.add_partition_offset(
                &entry.shared.topic,
                entry.shared.partition,
                Offset::Offset(position),
            )?;
        }
    }
    if list.count() == 0 {
        return Ok(());
    }
    consumer.commit(&list, mode)?;
    for entry in entries.iter_mut() {
        if let Some(position) = entry.shared.position() {
            entry.committed = Some(position);
        }
    }
    tracing::debug!(offsets = %describe_offsets(&list), ?mode, "committed");
    Ok(())
}

fn describe_offsets(list: &TopicPartitionList) -> String {
    let parts: Vec<String> = list
        .elements()
        .iter()
        .map(|e| format!("{}[{}]@{:?}", e.topic(), e.partition(), e.offset()))
        .collect();
    parts.join(", ")
}

/// The rdkafka context of the consumer: logging, rebalances, commit results.
pub(crate) struct GroupContext {
    shared: Arc<GroupShared>,
}

impl GroupContext {
    pub(crate) fn new(shared: Arc<GroupShared>) -> Self {
        Self { shared }
    }
}

impl ClientContext for GroupContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        crate::client::log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        crate::client::error(&error, reason);
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            self.shared.revoke(consumer, partitions);
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) => {
                // A partition this consumer paused before it was revoked starts afresh.
                if let Err(error) = consumer.resume(partitions) {
                    tracing::debug!(%error, "could not resume newly assigned partitions");
                }
                self.shared.assign(partitions);
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(error) => tracing::warn!(%error, "rebalance failed"),
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        if let Err(error) = result {
            tracing::warn!(%error, offsets = %describe_offsets(offsets), "offset commit failed");
        }
    }
}
