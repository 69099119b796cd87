//! [`Server`]: runs an application on the addresses of a [`Broker`].

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use amgi_core::batch::{BatchDispatcher, Publisher};
use amgi_core::extension::ServerPublisher;
use amgi_core::lifespan::{Lifespan, LifespanOptions};
use amgi_core::{Application, LifespanScope, StateMap};
use amgi_server::{DEFAULT_DRAIN_TIMEOUT, RetryPolicy, StopSignal};
use tokio::task::JoinHandle;

use crate::consumer::{AddressFilter, Consumer, Supervisor};
use crate::{Broker, ServerError};

/// Default largest number of messages in one batch.
pub const DEFAULT_BATCH_SIZE: usize = 64;

/// Default number of batches in flight at once per address.
pub const DEFAULT_BATCH_CONCURRENCY: usize = 1;

/// A server that feeds the messages of a [`Broker`] to an AMGI [`Application`], configured as a
/// consuming builder.
///
/// [`Server::start`] runs lifespan startup, then consumes the chosen addresses: each consumer
/// loop takes up to [`Server::batch_size`] waiting messages of one address, hands them to the
/// application as one batch through [`BatchDispatcher`], and applies the answers as the
/// crate's [semantics](crate#semantics) say: an acked message leaves the broker; a nacked (or
/// unanswered) one goes back to the **front** of its queue, so order is kept, as the
/// [`RetryPolicy`] and the nack's `nack.retry` ask, until it has been delivered
/// [`max_deliveries`](RetryPolicy::max_deliveries) times; then it moves to the dead-letter
/// address with the reason in the [`amgi_core::dead_letter`] headers. `message.send` from the
/// application, and the lifespan scope's [`ServerPublisher`], publish into the same broker.
///
/// ```no_run
/// # async fn run(app: impl amgi_core::Application) -> Result<(), amgi_memory::ServerError> {
/// use amgi_memory::{Broker, Server};
///
/// let broker = Broker::default();
/// let server = Server::new(app, broker.clone())
///     .address("orders")
///     .batch_size(32)
///     .max_deliveries(3)
///     .start()
///     .await?;
/// // … publish with `broker.publish(…)` …
/// server.shutdown().await?;
/// # Ok(()) }
/// ```
pub struct Server<A> {
    app: Arc<A>,
    broker: Broker,
    addresses: Vec<Arc<str>>,
    filter: Option<AddressFilter>,
    batch_size: usize,
    retry: RetryPolicy,
    concurrency: usize,
    lanes: Option<usize>,
    drain_timeout: Duration,
    lifespan: LifespanOptions,
    state: StateMap,
}

impl<A> fmt::Debug for Server<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("broker", &self.broker)
            .field("addresses", &self.addresses)
            .field("filtered", &self.filter.is_some())
            .field("batch_size", &self.batch_size)
            .field("retry", &self.retry)
            .field("concurrency", &self.concurrency)
            .field("lanes", &self.lanes)
            .field("drain_timeout", &self.drain_timeout)
            .field("lifespan", &self.lifespan)
            .finish_non_exhaustive()
    }
}

impl<A: Application> Server<A> {
    /// A server running `app` on `broker`, consuming nothing until told which addresses to
    /// consume.
    ///
    /// ```no_run
    /// # fn f(app: impl amgi_core::Application) {
    /// let server = amgi_memory::Server::new(app, amgi_memory::Broker::default());
    /// # }
    /// ```
    pub fn new(app: A, broker: Broker) -> Self {
        Self {
            app: Arc::new(app),
            broker,
            addresses: Vec::new(),
            filter: None,
            batch_size: DEFAULT_BATCH_SIZE,
            retry: RetryPolicy::default().backoff(Duration::ZERO, Duration::ZERO),
            concurrency: DEFAULT_BATCH_CONCURRENCY,
            lanes: None,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            lifespan: LifespanOptions::default(),
            state: StateMap::new(),
        }
    }

    /// Consumes `address`; call it again for more addresses. Naming an address twice consumes it
    /// once. A dead-letter address may be named to consume it.
    ///
    /// ```no_run
    /// # fn f(app: impl amgi_core::Application) {
    /// let server = amgi_memory::Server::new(app, amgi_memory::Broker::default())
    ///     .address("orders")
    ///     .address("orders.dlq");
    /// # }
    /// ```
    #[must_use]
    pub fn address(mut self, address: impl Into<String>) -> Self {
        let address: Arc<str> = Arc::from(address.into());
        if !self.addresses.contains(&address) {
            self.addresses.push(address);
        }
        self
    }

    /// Consumes every address of `addresses`.
    ///
    /// ```no_run
    /// # fn f(app: impl amgi_core::Application) {
    /// let server = amgi_memory::Server::new(app, amgi_memory::Broker::default())
    ///     .addresses(["user.created", "user.deleted"]);
    /// # }
    /// ```
    #[must_use]
    pub fn addresses<I>(self, addresses: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        addresses.into_iter().fold(self, Self::address)
    }

    /// Consumes every address of the broker, those that exist at start and those created later,
    /// except dead-letter addresses (see
    /// [`DeadLetterPolicy::is_dead_letter_address`](amgi_server::DeadLetterPolicy::is_dead_letter_address)).
    /// Addresses named with [`Server::address`] are consumed as well, dead-letter or not.
    ///
    /// ```no_run
    /// # fn f(app: impl amgi_core::Application) {
    /// let server = amgi_memory::Server::new(app, amgi_memory::Broker::default()).all_addresses();
    /// # }
    /// ```
    #[must_use]
    pub fn all_addresses(self) -> Self {
        self.addresses_matching(|_| true)
    }

    /// Like [`Server::all_addresses`], restricted to the addresses `filter` accepts (for example
    /// an application's channel templates, as `run memory` does).
    ///
    /// ```no_run
    /// # fn f(app: impl amgi_core::Application) {
    /// let server = amgi_memory::Server::new(app, amgi_memory::Broker::default())
    ///     .addresses_matching(|address| address.starts_with("orders."));
    /// # }
    /// ```
    #[must_use]
    pub fn addresses_matching(
        mut self,
        filter: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.filter = Some(Arc::new(filter));
        self
    }

    /// The largest number of messages in one batch (default [`DEFAULT_BATCH_SIZE`]; 0 counts as
    /// 1). A batch takes whatever is waiting, up to this size; it never waits to fill up.
    ///
    /// ```no_run
    /// # fn f(app: impl amgi_core::Application) {
    /// let server = amgi_memory::Server::new(app, amgi_memory::Broker::default()).batch_size(16);
    /// # }
    /// ```
    #[must_use]
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// How often, and how fast, nacked messages are redelivered before they are dead-lettered.
    ///
    /// The default is [`RetryPolicy::default`] with **zero backoff**: the embedded broker
    /// redelivers a nacked message at once (to the front of its queue), at most
    /// [`amgi_server::DEFAULT_MAX_DELIVERIES`] times. A nack's `nack.retry` is honoured on top
    /// of it (see the crate's [semantics](crate#semantics)).
    ///
    /// ```no_run
    /// # fn f(app: impl amgi_core::Application) {
    /// use std::time::Duration;
    /// use amgi_memory::RetryPolicy;
    ///
    /// let retry = RetryPolicy::new(4).backoff(Duration::from_millis(50), Duration::from_secs(1));
    /// let server = amgi_memory::Server::new(app, amgi_memory::Broker::default()).retry(retry);
    /// # }
    /// ```
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Shortcut for the retry policy's [`max_deliveries`](RetryPolicy::max_deliveries): how many
    /// times a message is delivered at most (0 counts as 1). A message nacked on its last
    /// delivery is dead-lettered.
    ///
    /// ```no_run
    /// # fn f(app: impl amgi_core::Application) {
    /// let server = amgi_memory::Server::new(app, amgi_memory::Broker::default()).max_deliveries(3);
    /// # }
    /// ```
    #[must_use]
    pub fn max_deliveries(mut self, max_deliveries: u32) -> Self {
        self.retry.max_deliveries = max_deliveries;
        self
    }

    /// How long batches in flight get to finish on [shutdown](ServerHandle::shutdown) (default
    /// [`DEFAULT_DRAIN_TIMEOUT`]). Batches still running then are aborted and their messages go
    /// back to the front of their queues, uncounted as acked or nacked.
    ///
    /// ```no_run
    /// # fn f(app: impl amgi_core::Application) {
    /// use std::time::Duration;
    /// let server = amgi_memory::Server::new(app, amgi_memory::Broker::default())
    ///     .drain_timeout(Duration::from_secs(5));
    /// # }
    /// ```
    #[must_use]
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// How many batches of one address may be in flight at once (default
    /// [`DEFAULT_BATCH_CONCURRENCY`]; 0 counts as 1). With 1, batches of an address are handled one
    /// after the other and [`MessageScope::ordered`](amgi_core::MessageScope::ordered) is `true`;
    /// with more, it is `false`. Order holds per server: two servers consuming one address
    /// compete for its messages.
    ///
    /// ```no_run
    /// # fn f(app: impl amgi_core::Application) {
    /// let server = amgi_memory::Server::new(app, amgi_memory::Broker::default()).concurrency(4);
    /// # }
    /// ```
    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Keyed lanes: a consumer loop runs up to `lanes` messages of the batch it took at once
    /// (0 counts as 1), never two with the same lane key, in order per key; messages without a
    /// key are independent. Off by default: a batch is handed to the application whole.
    ///
    /// A message's lane key is the key of its Kafka binding if it has one, otherwise the value
    /// of its [`amgi_server::LANE_KEY_HEADER`] header (`amgi-lane-key`). Each message is
    /// dispatched as its own one-message ordered batch and settled on its own: acked, it leaves;
    /// nacked, it is redelivered **in its lane** after the retry policy's delay (its key stays
    /// busy meanwhile, so the next message of the key waits behind it) or dead-lettered. The next
    /// batch is taken once every lane of this one is done. On shutdown, messages not started and
    /// messages waiting out a redelivery delay go back to the front of the queue, in order;
    /// running ones get the drain deadline. Per-key order holds per consumer loop: with
    /// [`Server::concurrency`] above 1, batches (and so keys) of an address run side by side.
    ///
    /// ```no_run
    /// # fn f(app: impl amgi_core::Application) {
    /// let server = amgi_memory::Server::new(app, amgi_memory::Broker::default()).lanes(16);
    /// # }
    /// ```
    #[must_use]
    pub fn lanes(mut self, lanes: usize) -> Self {
        self.lanes = Some(lanes.max(1));
        self
    }

    /// Deadlines for the application's lifespan answers.
    ///
    /// ```no_run
    /// # fn f(app: impl amgi_core::Application) {
    /// use std::time::Duration;
    /// use amgi_core::lifespan::LifespanOptions;
    ///
    /// let server = amgi_memory::Server::new(app, amgi_memory::Broker::default())
    ///     .lifespan_options(LifespanOptions::default().startup_timeout(Duration::from_secs(5)));
    /// # }
    /// ```
    #[must_use]
    pub fn lifespan_options(mut self, options: LifespanOptions) -> Self {
        self.lifespan = options;
        self
    }

    /// The state shared by the lifespan scope and every message scope (default: empty).
    ///
    /// ```no_run
    /// # fn f(app: impl amgi_core::Application) {
    /// let state = amgi_core::StateMap::new();
    /// state.insert(String::from("config"));
    /// let server = amgi_memory::Server::new(app, amgi_memory::Broker::default()).state(state);
    /// # }
    /// ```
    #[must_use]
    pub fn state(mut self, state: StateMap) -> Self {
        self.state = state;
        self
    }

    /// Runs lifespan startup, then starts consuming. Resolves once the application completed
    /// startup and every consumer loop runs. The lifespan scope's extensions hold a
    /// [`ServerPublisher`] that publishes into the broker.
    ///
    /// Fails with [`ServerError::Startup`], consuming nothing, when the application fails
    /// startup.
    ///
    /// ```no_run
    /// # async fn f(app: impl amgi_core::Application) -> Result<(), amgi_memory::ServerError> {
    /// let handle = amgi_memory::Server::new(app, amgi_memory::Broker::default())
    ///     .address("orders")
    ///     .start()
    ///     .await?;
    /// handle.shutdown().await?;
    /// # Ok(()) }
    /// ```
    pub async fn start(self) -> Result<ServerHandle, ServerError> {
        tokio::runtime::Handle::try_current().map_err(ServerError::Runtime)?;
        let publisher: Arc<dyn Publisher> = Arc::new(self.broker.clone());
        let scope = LifespanScope::new(self.state.clone())
            .with_extension(ServerPublisher(Arc::clone(&publisher)));
        let lifespan = Lifespan::startup_scope(Arc::clone(&self.app), scope, self.lifespan)
            .await
            .map_err(ServerError::Startup)?;
        if self.addresses.is_empty() && self.filter.is_none() {
            tracing::warn!("memory server started without addresses: it consumes nothing");
        }
        let stop = Arc::new(StopSignal::default());
        let consumer = Arc::new(Consumer {
            dispatcher: BatchDispatcher::new(self.app, publisher),
            broker: self.broker.clone(),
            state: self.state,
            batch_size: self.batch_size,
            retry: self.retry,
            ordered: self.concurrency == 1,
            lanes: self.lanes,
            stop: Arc::clone(&stop),
        });
        let mut supervisor = Supervisor::new(consumer, self.concurrency, self.filter);
        for address in &self.addresses {
            supervisor.consume(address);
        }
        let supervisor = tokio::spawn(supervisor.run(self.drain_timeout));
        Ok(ServerHandle {
            broker: self.broker,
            stop: StopOnDrop(stop),
            supervisor,
            lifespan,
        })
    }

    /// Starts the server, runs until `signal` completes, then shuts down gracefully (see
    /// [`ServerHandle::shutdown`]).
    ///
    /// ```no_run
    /// # async fn f(app: impl amgi_core::Application) -> Result<(), amgi_memory::ServerError> {
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// # drop(stop);
    /// amgi_memory::Server::new(app, amgi_memory::Broker::default())
    ///     .all_addresses()
    ///     .run_until(async { let _ = stopped.await; })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn run_until<F: Future<Output = ()>>(self, signal: F) -> Result<(), ServerError> {
        let handle = self.start().await?;
        signal.await;
        handle.shutdown().await
    }
}

/// A running [`Server`].
///
/// Call [`ServerHandle::shutdown`] to stop it. Dropping the handle instead stops taking batches
/// (batches in flight still finish in the background) but skips lifespan shutdown.
#[must_use = "dropping the handle stops the server without lifespan shutdown"]
pub struct ServerHandle {
    broker: Broker,
    stop: StopOnDrop,
    supervisor: JoinHandle<Result<(), ServerError>>,
    lifespan: Lifespan,
}

/// Sets the stop signal when the handle is dropped.
struct StopOnDrop(Arc<StopSignal>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("broker", &self.broker)
            .field("stopping", &self.stop.0.is_set())
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// The broker the server consumes from.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// Graceful shutdown: stops taking batches, waits until every batch in flight has finished
    /// and its outcomes are applied, at most the [drain timeout](Server::drain_timeout), then
    /// runs lifespan shutdown. Batches unfinished at the deadline are aborted and their messages
    /// go back to the front of their queues; messages waiting out a redelivery delay go back at
    /// once. Messages not yet delivered stay in the broker.
    ///
    /// Returns the first failure: a consumer task that failed, or else a failed lifespan
    /// shutdown.
    ///
    /// ```no_run
    /// # async fn f(handle: amgi_memory::ServerHandle) {
    /// handle.shutdown().await.expect("clean shutdown");
    /// # }
    /// ```
    pub async fn shutdown(self) -> Result<(), ServerError> {
        self.stop.0.set();
        let consumed = self
            .supervisor
            .await
            .unwrap_or_else(|error| Err(ServerError::Supervisor(error)));
        let lifespan = self.lifespan.shutdown().await;
        match (consumed, lifespan) {
            (Ok(()), Ok(())) => Ok(()),
            (Ok(()), Err(error)) => Err(ServerError::Shutdown(error)),
            (Err(error), lifespan) => {
                if let Err(lifespan) = lifespan {
                    tracing::error!(error = %lifespan, "lifespan shutdown failed");
                }
                Err(error)
            }
        }
    }
}
