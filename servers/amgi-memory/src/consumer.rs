//! The tasks of a running server: one consumer loop per address and concurrency slot, and the
//! supervisor that starts them (also for addresses created later) and waits for them to stop.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use amgi_core::batch::BatchDispatcher;
use amgi_core::{Application, MessageScope, State};
use tokio::sync::watch;
use tokio::task::{self, JoinError, JoinSet};

use crate::queue::Queue;
use crate::{Broker, ServerError};

/// What every consumer loop of one server shares.
pub(crate) struct Consumer<A> {
    pub(crate) dispatcher: BatchDispatcher<A>,
    pub(crate) broker: Broker,
    pub(crate) state: State,
    pub(crate) batch_size: usize,
    pub(crate) max_deliveries: u32,
    pub(crate) ordered: bool,
}

impl<A: Application> Consumer<A> {
    /// Takes batches from `queue` until `stop` is set, finishing the batch in hand first.
    async fn run(self: Arc<Self>, queue: Arc<Queue>, mut stop: watch::Receiver<bool>) {
        // Reused for every batch; it never holds more than the queue's capacity.
        let mut batch = Vec::with_capacity(self.batch_size.min(self.broker.config().capacity));
        while let Some(in_flight) = queue
            .next_batch(&mut batch, self.batch_size, &mut stop)
            .await
        {
            let messages = in_flight.incoming();
            let scope = MessageScope::new(Arc::clone(queue.name()))
                .ordered(self.ordered)
                .with_state(self.state.clone());
            let report = self.dispatcher.dispatch(scope, messages).await;
            let settled = in_flight.settle(report.outcomes, self.max_deliveries);
            self.broker.dead_letter(&queue, settled.dead);
        }
    }
}

/// Starts consumer loops and collects them when the server stops.
pub(crate) struct Supervisor<A> {
    consumer: Arc<Consumer<A>>,
    concurrency: usize,
    stop: watch::Receiver<bool>,
    tasks: JoinSet<()>,
    /// The address each task consumes, to name it if it fails.
    task_addresses: HashMap<task::Id, Arc<str>>,
    consumed: HashSet<Arc<str>>,
}

impl<A: Application> Supervisor<A> {
    pub(crate) fn new(
        consumer: Arc<Consumer<A>>,
        concurrency: usize,
        stop: watch::Receiver<bool>,
    ) -> Self {
        Self {
            consumer,
            concurrency,
            stop,
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
            let run = Arc::clone(&self.consumer).run(Arc::clone(queue), self.stop.clone());
            let id = self.tasks.spawn(run).id();
            self.task_addresses.insert(id, Arc::clone(queue.name()));
        }
    }

    /// Starts consuming every existing address that is not a dead-letter address.
    pub(crate) fn discover(&mut self) {
        for queue in self.consumer.broker.queues() {
            if !queue.is_dead_letter() {
                self.consume_queue(&queue);
            }
        }
    }

    /// Runs until `stop` is set (or its sender dropped), consuming new addresses as they are
    /// created when `created` is given, then waits for every consumer loop to finish its batch.
    pub(crate) async fn run(
        mut self,
        mut created: Option<watch::Receiver<()>>,
    ) -> Result<(), ServerError> {
        let mut failure = None;
        loop {
            tokio::select! {
                biased;
                () = stopped(&mut self.stop) => break,
                changed = next_change(created.as_mut()) => match changed {
                    Ok(()) => self.discover(),
                    Err(_) => created = None,
                },
                Some(joined) = self.tasks.join_next() => self.record(joined, &mut failure),
            }
        }
        while let Some(joined) = self.tasks.join_next().await {
            self.record(joined, &mut failure);
        }
        failure.map_or(Ok(()), Err)
    }

    fn record(&mut self, joined: Result<(), JoinError>, failure: &mut Option<ServerError>) {
        let Err(error) = joined else { return };
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

/// Resolves once `stop` is set or its sender is gone.
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

async fn next_change(
    created: Option<&mut watch::Receiver<()>>,
) -> Result<(), watch::error::RecvError> {
    match created {
        Some(created) => created.changed().await,
        None => std::future::pending().await,
    }
}
