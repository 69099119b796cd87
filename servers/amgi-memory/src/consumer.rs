//! The tasks of a running server: one consumer loop per address and concurrency slot, and the
//! supervisor that starts them (also for addresses created later) and stops them within the
//! drain deadline.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use amgi_core::batch::{BatchDispatcher, NOT_ACKNOWLEDGED, Outcome};
use amgi_core::extension::NackRetrySupport;
use amgi_core::{Application, MessageScope, StateMap};
use amgi_server::{RetryPolicy, Settlement, StopSignal, run_in_lanes};
use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::{self, JoinError, JoinSet};

use crate::queue::{LaneBatch, Queue};
use crate::{Broker, ServerError};

/// Which addresses, besides the named ones, a server consumes.
pub(crate) type AddressFilter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// What every consumer loop of one server shares.
pub(crate) struct Consumer<A> {
    pub(crate) dispatcher: BatchDispatcher<A>,
    pub(crate) broker: Broker,
    pub(crate) state: StateMap,
    pub(crate) batch_size: usize,
    pub(crate) retry: RetryPolicy,
    pub(crate) ordered: bool,
    /// `Some(n)`: keyed lanes, up to `n` messages of a batch at once.
    pub(crate) lanes: Option<usize>,
    pub(crate) stop: Arc<StopSignal>,
}

impl<A: Application> Consumer<A> {
    /// Takes batches from `queue` until the stop signal is set, finishing the batch in hand
    /// first.
    ///
    /// Redelivery delays: in an ordered queue this loop waits them out (up to the stop signal)
    /// before the next batch, so that a delayed message keeps its place; otherwise a timer task
    /// requeues the messages, and this loop goes on.
    async fn run(self: Arc<Self>, queue: Arc<Queue>) {
        // Reused for every batch; it never holds more than the queue's capacity.
        let mut batch = Vec::with_capacity(self.batch_size.min(queue.capacity()));
        let mut timers = JoinSet::new();
        while let Some(in_flight) = queue
            .next_batch(&mut batch, self.batch_size, &self.stop)
            .await
        {
            if let Some(lanes) = self.lanes {
                self.in_lanes(&queue, &in_flight.into_lanes(), lanes).await;
                continue;
            }
            let scope = self.scope(&queue, self.ordered);
            let report = self.dispatcher.dispatch(scope, in_flight.incoming()).await;
            let settled = in_flight.settle(report.outcomes, &self.retry, self.ordered);
            self.broker.dead_letter(&queue, settled.dead);
            for delayed in settled.delayed {
                if self.ordered {
                    delayed.wait(&self.stop).await;
                } else {
                    let this = Arc::clone(&self);
                    timers.spawn(async move { delayed.wait(&this.stop).await });
                }
            }
            while timers.try_join_next().is_some() {}
        }
        // Stopped: the timers requeue at once. Aborted instead, the set aborts them, which
        // requeues as well.
        timers.join_all().await;
    }

    /// The scope of a batch of `queue`.
    fn scope(&self, queue: &Queue, ordered: bool) -> MessageScope {
        MessageScope::new(Arc::clone(queue.name()))
            .ordered(ordered)
            .with_state(self.state.clone())
            .with_extension(NackRetrySupport)
    }

    /// Handles `batch` in keyed lanes: up to `lanes` messages at once, never two with the same
    /// lane key, each as a one-message ordered batch settled on its own. Returns once every
    /// message is settled, or the stop signal cut the rest short (dropping `batch` then puts
    /// those back in the queue).
    async fn in_lanes(&self, queue: &Arc<Queue>, batch: &LaneBatch, lanes: usize) {
        let keys: Vec<Option<Bytes>> = (0..batch.len()).map(|index| batch.key(index)).collect();
        run_in_lanes(
            0..keys.len(),
            lanes,
            |&index| keys[index].clone(),
            |index| self.one(queue, batch, index),
            |()| {},
        )
        .await;
    }

    /// Handles message `index` of `batch` in its lane until it is acked or dead-lettered,
    /// redelivering it in place after each nack's delay, or until the stop signal is set (it
    /// stays in the batch, to go back to the queue).
    async fn one(&self, queue: &Arc<Queue>, batch: &LaneBatch, index: usize) {
        let mut redelivery = false;
        loop {
            if self.stop.is_set() {
                return;
            }
            let Some((message, deliveries)) = batch.deliver(index, redelivery) else {
                return;
            };
            let scope = self.scope(queue, true);
            let report = self.dispatcher.dispatch(scope, vec![message]).await;
            // A batch of one has one outcome, never `Skipped`; a missing one was not answered.
            let outcome = report.outcomes.into_iter().next();
            let outcome = outcome.unwrap_or_else(|| Outcome::nacked(NOT_ACKNOWLEDGED));
            if let Some(reason) = outcome.nack_reason() {
                tracing::info!(address = %queue.name(), deliveries,
                    max_deliveries = self.retry.max_deliveries, %reason, "message nacked");
            }
            match self.retry.settle(outcome, deliveries) {
                Settlement::Ack => return batch.ack(index),
                Settlement::Redeliver { delay, .. } => {
                    let wait = tokio::time::sleep(delay);
                    if self.stop.run_until_stopped(wait).await.is_none() {
                        return;
                    }
                    redelivery = true;
                }
                Settlement::DeadLetter(reason) => {
                    if let Some(message) = batch.dead(index) {
                        self.broker.dead_letter(queue, vec![(message, reason)]);
                    }
                    return;
                }
            }
        }
    }
}

/// Starts consumer loops and collects them when the server stops.
pub(crate) struct Supervisor<A> {
    consumer: Arc<Consumer<A>>,
    concurrency: usize,
    filter: Option<AddressFilter>,
    tasks: JoinSet<()>,
    /// The address each task consumes, to name it if it fails.
    task_addresses: HashMap<task::Id, Arc<str>>,
    consumed: HashSet<Arc<str>>,
}

impl<A: Application> Supervisor<A> {
    /// A supervisor of `consumer`'s loops; with a `filter`, it also consumes every
    /// non-dead-letter address the filter accepts, now and as they are created.
    pub(crate) fn new(
        consumer: Arc<Consumer<A>>,
        concurrency: usize,
        filter: Option<AddressFilter>,
    ) -> Self {
        Self {
            consumer,
            concurrency,
            filter,
            tasks: JoinSet::new(),
            task_addresses: HashMap::new(),
            consumed: HashSet::new(),
        }
    }

    /// Starts consuming `address` (once, however often it is asked).
    pub(crate) fn consume(&mut self, address: &Arc<str>) {
        let queue = self.consumer.broker.queue_or_create(address);
        self.consume_queue(&queue);
    }

    fn consume_queue(&mut self, queue: &Arc<Queue>) {
        if !self.consumed.insert(Arc::clone(queue.name())) {
            return;
        }
        tracing::debug!(address = %queue.name(), concurrency = self.concurrency, "consuming");
        for _ in 0..self.concurrency {
            let run = Arc::clone(&self.consumer).run(Arc::clone(queue));
            let id = self.tasks.spawn(run).id();
            self.task_addresses.insert(id, Arc::clone(queue.name()));
        }
    }

    /// Starts consuming every existing non-dead-letter address the filter accepts.
    fn discover(&mut self) {
        let Some(filter) = self.filter.clone() else {
            return;
        };
        for queue in self.consumer.broker.queues() {
            if !queue.is_dead_letter() && filter(queue.name()) {
                self.consume_queue(&queue);
            }
        }
    }

    /// Runs until the stop signal is set, consuming new addresses as they are created when there
    /// is a filter. Then gives the batches in flight `drain` to finish, and aborts the consumer
    /// loops still running after it: their batches go back to the front of their queues.
    pub(crate) async fn run(mut self, drain: Duration) -> Result<(), ServerError> {
        let mut created = self.filter.is_some().then(|| {
            // Subscribe before listing, so that no address created in between is missed.
            let mut created = self.consumer.broker.watch_created();
            created.mark_unchanged();
            created
        });
        self.discover();
        let stop = Arc::clone(&self.consumer.stop);
        let mut failure = None;
        loop {
            tokio::select! {
                biased;
                () = stop.wait() => break,
                changed = next_change(created.as_mut()) => match changed {
                    Ok(()) => self.discover(),
                    Err(_) => created = None,
                },
                Some(joined) = self.tasks.join_next() => self.record(joined, &mut failure),
            }
        }
        let drained = tokio::time::timeout(drain, self.join_all(&mut failure)).await;
        if drained.is_err() {
            tracing::warn!(
                batches = self.tasks.len(),
                ?drain,
                "drain deadline passed: aborting the batches in flight, their messages go back \
                 to their queues"
            );
            self.tasks.abort_all();
            self.join_all(&mut failure).await;
        }
        failure.map_or(Ok(()), Err)
    }

    async fn join_all(&mut self, failure: &mut Option<ServerError>) {
        while let Some(joined) = self.tasks.join_next().await {
            self.record(joined, failure);
        }
    }

    fn record(&mut self, joined: Result<(), JoinError>, failure: &mut Option<ServerError>) {
        let Err(error) = joined else { return };
        if error.is_cancelled() {
            return;
        }
        let address = self
            .task_addresses
            .remove(&error.id())
            .unwrap_or_else(|| Arc::from(""));
        tracing::error!(%address, %error, "consumer task failed");
        failure.get_or_insert(ServerError::Consumer {
            address,
            source: error,
        });
    }
}

async fn next_change(
    created: Option<&mut watch::Receiver<()>>,
) -> Result<(), watch::error::RecvError> {
    match created {
        Some(created) => created.changed().await,
        None => std::future::pending().await,
    }
}
