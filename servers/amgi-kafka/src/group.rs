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
    /// The position last committed (or being committed, for an asynchronous commit).
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
    /// Positions whose asynchronous commit failed, as the commit callback reported them; the
    /// next commit commits them again.
    failed_commits: Mutex<Vec<FailedCommit>>,
    drain_timeout: Duration,
}

/// A position whose commit failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FailedCommit {
    topic: String,
    partition: i32,
    offset: i64,
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
            failed_commits: Mutex::new(Vec::new()),
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

    /// Records the positions of a failed commit (from the commit callback).
    fn commit_failed(&self, offsets: &TopicPartitionList) {
        let mut failed = lock(&self.failed_commits);
        for element in offsets.elements() {
            if let Offset::Offset(offset) = element.offset() {
                failed.push(FailedCommit {
                    topic: element.topic().to_owned(),
                    partition: element.partition(),
                    offset,
                });
            }
        }
    }

    /// Forgets that the positions of failed commits were committed, so that the next commit
    /// of `entries` commits them again. A partition whose committed position moved on since
    /// (a later commit is on its way) is left alone: that commit reports its own result.
    fn retry_failed_commits(&self, entries: &mut [Entry]) {
        let failed = std::mem::take(&mut *lock(&self.failed_commits));
        for commit in failed {
            if let Some(entry) = entries
                .iter_mut()
                .find(|e| e.is(&commit.topic, commit.partition))
                && entry.committed == Some(commit.offset)
            {
                entry.committed = None;
            }
        }
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
/// Positions whose earlier asynchronous commit failed are committed again.
pub(crate) fn commit(
    consumer: &Consumer,
    entries: &mut [Entry],
    mode: CommitMode,
    force: bool,
) -> KafkaResult<()> {
    consumer.context().shared.retry_failed_commits(entries);
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
            tracing::warn!(
                %error,
                offsets = %describe_offsets(offsets),
                "offset commit failed; committing again at the next commit"
            );
            self.shared.commit_failed(offsets);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoTasks;

    impl SpawnPartition for NoTasks {
        fn spawn(
            &self,
            _: Arc<PartitionShared>,
            _: mpsc::UnboundedReceiver<FetchedBatch>,
            _: std_mpsc::Sender<()>,
        ) -> AbortHandle {
            tokio::spawn(async {}).abort_handle()
        }
    }

    fn list(partitions: &[(&str, i32, i64)]) -> TopicPartitionList {
        let mut list = TopicPartitionList::new();
        for &(topic, partition, offset) in partitions {
            list.add_partition_offset(topic, partition, Offset::Offset(offset))
                .unwrap();
        }
        list
    }

    /// The positions `commit` would send now, without `force`.
    fn due(entries: &[Entry]) -> Vec<(String, i32, i64)> {
        entries
            .iter()
            .filter_map(|e| {
                let position = e.shared.position()?;
                (e.committed != Some(position))
                    .then(|| (e.shared.topic.to_string(), e.shared.partition, position))
            })
            .collect()
    }

    #[tokio::test]
    async fn a_failed_commit_is_committed_again() {
        let group = GroupShared::new(Box::new(NoTasks), Duration::from_secs(1));
        group.assign(&list(&[("t", 0, 0), ("t", 1, 0), ("u", 0, 0)]));
        let mut entries = std::mem::take(&mut *lock(&group.entries));
        for (entry, position) in entries.iter_mut().zip([10, 20, 30]) {
            entry.shared.set_position_for_test(position);
            // As `commit` does once the commit is sent.
            entry.committed = Some(position);
        }
        assert!(due(&entries).is_empty(), "everything committed");

        // The async commit of t[0]@10 and u[0]@30 failed; t[1] has moved on to 25 and a commit
        // of it is on its way, so its old failure at 20 changes nothing.
        group.commit_failed(&list(&[("t", 0, 10), ("t", 1, 20), ("u", 0, 30)]));
        entries[1].shared.set_position_for_test(25);
        entries[1].committed = Some(25);
        group.retry_failed_commits(&mut entries);
        let mut again = due(&entries);
        again.sort();
        assert_eq!(
            again,
            [("t".to_owned(), 0, 10), ("u".to_owned(), 0, 30)],
            "the failed positions are due again"
        );
        assert!(
            lock(&group.failed_commits).is_empty(),
            "each failure is retried once"
        );
    }
}
