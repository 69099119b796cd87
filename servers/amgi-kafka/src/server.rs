//! [`Server`], the consuming builder, and how it starts.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use amgi_core::batch::BatchDispatcher;
use amgi_core::extension::ServerPublisher;
use amgi_core::lifespan::{Lifespan, LifespanOptions};
use amgi_core::{Application, LifespanScope, StateMap};
use amgi_server::{DeadLetterPolicy, RetryPolicy};
use rdkafka::ClientConfig;
use rdkafka::producer::Producer as _;
use tokio::sync::{Semaphore, oneshot};

use crate::client::{ProducerLog, drop_detached};
use crate::config::{AutoOffsetReset, KafkaConfig};
use crate::consumer::{Control, PollLoop};
use crate::group::{Consumer, GroupContext, GroupShared, Spawner};
use crate::partition::{Counters, PollWaker, WorkerContext};
use crate::publisher::{KafkaPublisher, Producer};
use crate::{Error, ErrorKind, ServerHandle};

/// How [`Server::launch`] ended.
enum Launched {
    /// Consuming.
    Running(ServerHandle),
    /// The shutdown signal came before the first assignment; the server was shut down.
    Stopped,
}

/// A Kafka server for an AMGI application: consumes topics in a consumer group and calls the
/// application once per batch of one partition.
///
/// Built with consuming methods, then [`start`](Self::start)ed (returning a [`ServerHandle`]) or
/// [`run_until`](Self::run_until) a shutdown signal.
///
/// ```no_run
/// # async fn demo(app: impl amgi_core::Application) -> Result<(), amgi_kafka::Error> {
/// use amgi_kafka::Server;
///
/// Server::new(app, ["my-topic"])
///     .bootstrap_servers("127.0.0.1:9092")
///     .group_id("my-group")
///     .run_until(async { tokio::signal::ctrl_c().await.unwrap() })
///     .await?;
/// # Ok(())
/// # }
/// ```
#[must_use = "a server does nothing until it is started"]
pub struct Server<A> {
    app: Arc<A>,
    config: KafkaConfig,
}

impl<A> std::fmt::Debug for Server<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<A: Application> Server<A> {
    /// A server running `app` on `topics`, with every default.
    ///
    /// ```no_run
    /// # fn demo(app: impl amgi_core::Application) {
    /// let server = amgi_kafka::Server::new(app, ["orders", "refunds"]).group_id("billing");
    /// # }
    /// ```
    pub fn new<I, T>(app: A, topics: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        Self::with_config(app, KafkaConfig::new(topics))
    }

    /// A server running `app` with `config` (as a command line builds it).
    ///
    /// ```no_run
    /// # fn demo(app: impl amgi_core::Application) -> Result<(), amgi_kafka::Error> {
    /// use amgi_kafka::{KafkaConfig, Server};
    ///
    /// let config = KafkaConfig::new(["orders"])
    ///     .set("group.id", "billing")
    ///     .set_pair("bootstrap.servers=broker-1:9092,broker-2:9092")?;
    /// let server = Server::with_config(app, config);
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_config(app: A, config: KafkaConfig) -> Self {
        Self {
            app: Arc::new(app),
            config,
        }
    }

    /// The configuration so far.
    ///
    /// ```no_run
    /// # fn demo(app: impl amgi_core::Application) {
    /// let server = amgi_kafka::Server::new(app, ["orders"]).group_id("billing");
    /// assert_eq!(server.config().group_id(), Some("billing"));
    /// # }
    /// ```
    pub fn config(&self) -> &KafkaConfig {
        &self.config
    }

    /// Sets the brokers to bootstrap from, comma-separated `host:port` (property
    /// `bootstrap.servers`; default `localhost:9092`).
    ///
    /// ```no_run
    /// # fn demo(app: impl amgi_core::Application) {
    /// let server = amgi_kafka::Server::new(app, ["orders"])
    ///     .bootstrap_servers("broker-1:9092,broker-2:9092");
    /// # }
    /// ```
    pub fn bootstrap_servers(self, servers: impl Into<String>) -> Self {
        self.set("bootstrap.servers", servers)
    }

    /// Sets the consumer group (property `group.id`); required.
    ///
    /// ```no_run
    /// # fn demo(app: impl amgi_core::Application) {
    /// let server = amgi_kafka::Server::new(app, ["orders"]).group_id("billing");
    /// # }
    /// ```
    pub fn group_id(self, group_id: impl Into<String>) -> Self {
        self.set("group.id", group_id)
    }

    /// Sets where the group starts on partitions without a committed offset (property
    /// `auto.offset.reset`; default [`AutoOffsetReset::Earliest`]).
    ///
    /// ```no_run
    /// # fn demo(app: impl amgi_core::Application) {
    /// use amgi_kafka::{AutoOffsetReset, Server};
    /// let server = Server::new(app, ["orders"]).auto_offset_reset(AutoOffsetReset::Latest);
    /// # }
    /// ```
    pub fn auto_offset_reset(self, reset: AutoOffsetReset) -> Self {
        self.set("auto.offset.reset", reset.as_str())
    }

    /// Sets any librdkafka property, for example for SASL or TLS. Keys prefixed `consumer.` or
    /// `producer.` apply to that client only; see [`KafkaConfig`].
    ///
    /// ```no_run
    /// # fn demo(app: impl amgi_core::Application) {
    /// let server = amgi_kafka::Server::new(app, ["orders"])
    ///     .set("security.protocol", "SASL_SSL")
    ///     .set("sasl.mechanism", "PLAIN")
    ///     .set("sasl.username", "billing")
    ///     .set("sasl.password", "secret")
    ///     .set("producer.linger.ms", "10");
    /// # }
    /// ```
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config = self.config.set(key, value);
        self
    }

    /// Sets the most messages per batch (default 100). A batch holds messages of one partition
    /// fetched together, so it may be smaller.
    ///
    /// ```no_run
    /// # fn demo(app: impl amgi_core::Application) {
    /// let server = amgi_kafka::Server::new(app, ["orders"]).batch_size(500);
    /// # }
    /// ```
    pub fn batch_size(mut self, size: usize) -> Self {
        self.config.batch_size = size;
        self
    }

    /// Sets the most batches handled at once across partitions (default 16). Messages of one
    /// partition are always handled in order.
    ///
    /// ```no_run
    /// # fn demo(app: impl amgi_core::Application) {
    /// let server = amgi_kafka::Server::new(app, ["orders"]).concurrency(4);
    /// # }
    /// ```
    pub fn concurrency(mut self, batches: usize) -> Self {
        self.config.concurrency = batches;
        self
    }

    /// Sets how many fetched messages may wait for the application per partition (default
    /// 2048): the bound on what the server holds in memory beyond librdkafka's own queue.
    ///
    /// ```no_run
    /// # fn demo(app: impl amgi_core::Application) {
    /// let server = amgi_kafka::Server::new(app, ["orders"]).max_buffered(500);
    /// # }
    /// ```
    pub fn max_buffered(mut self, messages: usize) -> Self {
        self.config.max_buffered = messages;
        self
    }

    /// Sets how nacked messages are redelivered (default 5 deliveries, 200 ms backoff doubling
    /// up to 10 s). A nack's [`NackRetry`](amgi_core::NackRetry) is honoured: `Never` is
    /// dead-lettered at once, `After(d)` is redelivered after `d` (still counted).
    ///
    /// ```no_run
    /// # fn demo(app: impl amgi_core::Application) {
    /// use std::time::Duration;
    /// use amgi_kafka::{RetryPolicy, Server};
    ///
    /// let server = Server::new(app, ["orders"]).retry(
    ///     RetryPolicy::new(5).backoff(Duration::from_millis(100), Duration::from_secs(5)),
    /// );
    /// # }
    /// ```
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// Sets where messages go after their last nack (default `<topic>.dlq`).
    ///
    /// ```no_run
    /// # fn demo(app: impl amgi_core::Application) {
    /// use amgi_kafka::{DeadLetterPolicy, Server};
    /// let server = Server::new(app, ["orders"]).dead_letter(DeadLetterPolicy::address("billing.dlq"));
    /// # }
    /// ```
    pub fn dead_letter(mut self, dead_letter: DeadLetterPolicy) -> Self {
        self.config.dead_letter = dead_letter;
        self
    }

    /// Runs up to `lanes` messages of one partition at once, in order per record key (see
    /// [Keyed lanes](crate#keyed-lanes)); default: each partition strictly in order.
    ///
    /// ```no_run
    /// # fn demo(app: impl amgi_core::Application) {
    /// let server = amgi_kafka::Server::new(app, ["orders"]).lanes(32);
    /// # }
    /// ```
    pub fn lanes(mut self, lanes: usize) -> Self {
        self.config.lanes = Some(lanes);
        self
    }

    /// Sets how often acked offsets are committed while running (default 5 s).
    ///
    /// ```no_run
    /// # fn demo(app: impl amgi_core::Application) {
    /// use std::time::Duration;
    /// let server = amgi_kafka::Server::new(app, ["orders"]).commit_interval(Duration::from_secs(1));
    /// # }
    /// ```
    pub fn commit_interval(mut self, interval: Duration) -> Self {
        self.config.commit_interval = interval;
        self
    }

    /// Sets how long the brokers may take to answer at start (default 10 s); past it, start
    /// fails with [`ErrorKind::Unreachable`].
    ///
    /// ```no_run
    /// # fn demo(app: impl amgi_core::Application) {
    /// use std::time::Duration;
    /// let server = amgi_kafka::Server::new(app, ["orders"]).connect_timeout(Duration::from_secs(3));
    /// # }
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Sets how often a `warn` line says that the server still waits for its first partition
    /// assignment (default 60 s). It waits as long as it takes (or until shut down).
    ///
    /// ```no_run
    /// # fn demo(app: impl amgi_core::Application) {
    /// use std::time::Duration;
    /// let server = amgi_kafka::Server::new(app, ["orders"]).join_timeout(Duration::from_secs(20));
    /// # }
    /// ```
    pub fn join_timeout(mut self, timeout: Duration) -> Self {
        self.config.join_timeout = timeout;
        self
    }

    /// Sets how long shutdown and rebalances wait for batches in progress (default 30 s).
    ///
    /// ```no_run
    /// # fn demo(app: impl amgi_core::Application) {
    /// use std::time::Duration;
    /// let server = amgi_kafka::Server::new(app, ["orders"]).drain_timeout(Duration::from_secs(5));
    /// # }
    /// ```
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.config.deadlines = self.config.deadlines.drain(timeout);
        self
    }

    /// Sets how long the consumer may take to leave its group on shutdown (default 10 s).
    ///
    /// ```no_run
    /// # fn demo(app: impl amgi_core::Application) {
    /// use std::time::Duration;
    /// let server = amgi_kafka::Server::new(app, ["orders"]).close_timeout(Duration::from_secs(5));
    /// # }
    /// ```
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.config.deadlines = self.config.deadlines.close(timeout);
        self
    }

    /// Sets the deadlines for the application's lifespan answers (default 30 s each).
    ///
    /// ```no_run
    /// # fn demo(app: impl amgi_core::Application) {
    /// use std::time::Duration;
    /// use amgi_core::lifespan::LifespanOptions;
    ///
    /// let server = amgi_kafka::Server::new(app, ["orders"])
    ///     .lifespan(LifespanOptions::default().startup_timeout(Duration::from_secs(5)));
    /// # }
    /// ```
    pub fn lifespan(mut self, options: LifespanOptions) -> Self {
        self.config.lifespan = options;
        self
    }

    /// Runs the server until `signal` completes (or the consumer fails), then shuts down
    /// gracefully: see [`ServerHandle::shutdown`]. The signal is heard while the server still
    /// waits for its first partition assignment, too.
    ///
    /// ```no_run
    /// # async fn demo(app: impl amgi_core::Application) -> Result<(), amgi_kafka::Error> {
    /// amgi_kafka::Server::new(app, ["orders"])
    ///     .group_id("billing")
    ///     .run_until(async { tokio::signal::ctrl_c().await.unwrap() })
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> Result<(), Error> {
        let mut signal = std::pin::pin!(signal);
        let mut handle = match self.launch(signal.as_mut()).await? {
            Launched::Running(handle) => handle,
            Launched::Stopped => return Ok(()),
        };
        tokio::select! {
            () = signal => {}
            () = handle.stopped() => {}
        }
        handle.shutdown().await
    }

    /// Starts the server and returns once it consumes.
    ///
    /// In order: checks the configuration, creates the producer and the consumer (librdkafka
    /// checks every property), asks the brokers for metadata (failing with
    /// [`ErrorKind::Unreachable`] after the connect timeout), runs the application's lifespan
    /// startup (failing with [`ErrorKind::Startup`] and the application's message; its lifespan
    /// scope carries the server's [`ServerPublisher`]), subscribes, and waits for the first
    /// partition assignment, however long it takes, logging a `warn` every
    /// [`join_timeout`](Self::join_timeout). Messages published after it returns are consumed.
    ///
    /// Must be called within a Tokio runtime; partition tasks are spawned on it.
    ///
    /// ```no_run
    /// # async fn demo(app: impl amgi_core::Application) -> Result<(), amgi_kafka::Error> {
    /// let handle = amgi_kafka::Server::new(app, ["orders"])
    ///     .group_id("billing")
    ///     .start()
    ///     .await?;
    /// println!("consuming {:?}", handle.assignment());
    /// handle.shutdown().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start(self) -> Result<ServerHandle, Error> {
        match self.launch(std::future::pending()).await? {
            Launched::Running(handle) => Ok(handle),
            Launched::Stopped => Err(Error::new(
                ErrorKind::Consumer,
                "the server stopped before joining its group",
            )),
        }
    }

    /// [`start`](Self::start), shutting down instead if `signal` completes before the first
    /// partition assignment.
    async fn launch(self, signal: impl Future<Output = ()>) -> Result<Launched, Error> {
        let Self { app, config } = self;
        config.validate()?;
        let producer: Producer = create(&config.producer_config(), ProducerLog, "producer")?;
        check_brokers(&producer, &config).await?;

        let state = StateMap::new();
        let waker = Arc::new(PollWaker::default());
        let publisher = KafkaPublisher::new(producer.clone());
        let counters = Arc::new(Counters::default());
        let context = Arc::new(WorkerContext {
            dispatcher: BatchDispatcher::new(Arc::clone(&app), Arc::new(publisher.clone())),
            publisher: publisher.clone(),
            state: state.clone(),
            retry: config.retry,
            dead_letter: config.dead_letter.clone(),
            lanes: config.lanes,
            permits: Semaphore::new(config.concurrency),
            waker: Arc::clone(&waker),
            counters: Arc::clone(&counters),
        });
        let spawner = Spawner {
            context,
            runtime: tokio::runtime::Handle::current(),
        };
        let group = Arc::new(GroupShared::new(Box::new(spawner), config.deadlines.drain));
        let consumer: Consumer = create(
            &config.consumer_config(),
            GroupContext::new(Arc::clone(&group)),
            "consumer",
        )?;

        let scope = LifespanScope::new(state).with_extension(ServerPublisher(Arc::new(publisher)));
        let lifespan = match Lifespan::startup_scope(app, scope, config.lifespan).await {
            Ok(lifespan) => lifespan,
            Err(error) => {
                drop_detached(consumer);
                drop_detached(producer);
                return Err(Error::lifespan(ErrorKind::Startup, error));
            }
        };

        let control = Arc::new(Control::default());
        let (assigned, assigned_rx) = oneshot::channel();
        group.notify_assigned(assigned);
        let (drained, drained_rx) = oneshot::channel();
        let (closed, closed_rx) = oneshot::channel();
        let poll_loop = PollLoop {
            consumer,
            group: Arc::clone(&group),
            topics: config.topics.clone(),
            control: Arc::clone(&control),
            batch_size: config.batch_size,
            max_buffered: config.max_buffered.max(config.batch_size),
            commit_interval: config.commit_interval,
            drain_timeout: config.deadlines.drain,
            waker,
        };
        let handle = ServerHandle {
            control,
            group,
            drained: Some(drained_rx),
            closed: Some(closed_rx),
            outcome: None,
            lifespan: Some(lifespan),
            producer: Some(producer),
            counters,
            drain_limit: config.deadlines.drain + Duration::from_secs(5),
            close_timeout: config.deadlines.close,
        };
        if let Err(error) = poll_loop.spawn(drained, closed) {
            let error = Error::new(ErrorKind::Consumer, "cannot start the consumer thread")
                .with_source(error);
            return Err(handle.fail_start(error).await);
        }
        wait_for_assignment(handle, assigned_rx, signal, &config).await
    }
}

/// What ended one wait of [`wait_for_assignment`].
enum JoinEvent {
    Assigned,
    ConsumerStopped,
    Signal,
    StillWaiting,
}

/// Waits for the first partition assignment, however long it takes: a `warn` every
/// `join_timeout`, until assigned, the consumer stopped (start fails with its error), or
/// `signal` completed (the server is shut down).
async fn wait_for_assignment(
    mut handle: ServerHandle,
    mut assigned: oneshot::Receiver<()>,
    signal: impl Future<Output = ()>,
    config: &KafkaConfig,
) -> Result<Launched, Error> {
    let mut signal = std::pin::pin!(signal);
    let started = Instant::now();
    loop {
        let event = tokio::select! {
            result = &mut assigned => if result.is_ok() {
                JoinEvent::Assigned
            } else {
                JoinEvent::ConsumerStopped
            },
            () = handle.stopped() => JoinEvent::ConsumerStopped,
            () = signal.as_mut() => JoinEvent::Signal,
            () = tokio::time::sleep(config.join_timeout) => JoinEvent::StillWaiting,
        };
        match event {
            JoinEvent::Assigned => return Ok(Launched::Running(handle)),
            JoinEvent::ConsumerStopped => {
                handle.stopped().await;
                let error = handle
                    .outcome
                    .take()
                    .and_then(Result::err)
                    .unwrap_or_else(|| {
                        Error::new(ErrorKind::Consumer, "the consumer stopped before joining")
                    });
                return Err(handle.fail_start(error).await);
            }
            JoinEvent::Signal => {
                tracing::info!("shutdown requested while waiting for a partition assignment");
                handle.shutdown().await?;
                return Ok(Launched::Stopped);
            }
            JoinEvent::StillWaiting => tracing::warn!(
                group = config.group_id().unwrap_or_default(),
                waited_s = started.elapsed().as_secs(),
                "still waiting for a partition assignment from the group coordinator \
                 (a consumer that crashed may hold the partitions until its session times out)"
            ),
        }
    }
}

fn create<C, T>(config: &ClientConfig, context: C, what: &'static str) -> Result<T, Error>
where
    C: rdkafka::client::ClientContext,
    T: rdkafka::config::FromClientConfigAndContext<C>,
{
    config.create_with_context(context).map_err(|e| {
        Error::kafka(
            ErrorKind::Config,
            format!("invalid {what} configuration"),
            e,
        )
    })
}

/// Asks the brokers for metadata, bounded by the connect timeout, and warns about subscribed
/// topics that do not exist yet.
async fn check_brokers(producer: &Producer, config: &KafkaConfig) -> Result<(), Error> {
    let probe = producer.clone();
    let timeout = config.connect_timeout;
    let metadata = tokio::task::spawn_blocking(move || {
        let result = probe.client().fetch_metadata(None, timeout).map(|m| {
            m.topics()
                .iter()
                .map(|t| t.name().to_owned())
                .collect::<Vec<_>>()
        });
        drop(probe);
        result
    })
    .await
    .map_err(|e| Error::new(ErrorKind::Unreachable, "metadata request failed").with_source(e))?;
    let known = metadata.map_err(|e| {
        Error::kafka(
            ErrorKind::Unreachable,
            format!(
                "no broker of `{}` answered within {:.1} s",
                config.bootstrap_servers(),
                timeout.as_secs_f64()
            ),
            e,
        )
    })?;
    for topic in config.exact_topics() {
        if !known.iter().any(|known| known == topic) {
            tracing::warn!(
                topic,
                "topic does not exist (yet): it is consumed once it is created"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod send_checks {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_type<T: Send>() {}

    struct Nothing;
    impl amgi_core::Application for Nothing {
        async fn call(
            &self,
            scope: amgi_core::Scope,
            _: &mut dyn amgi_core::Receiver,
            _: amgi_core::SharedSender,
        ) -> Result<(), amgi_core::ApplicationError> {
            Err(amgi_core::ApplicationError::unsupported_scope(scope.kind()))
        }
    }

    #[test]
    fn public_futures_and_handles_are_send() {
        assert_send_type::<super::ServerHandle>();
        assert_send_type::<super::Server<Nothing>>();
        assert_send_type::<crate::Error>();
        let server = super::Server::new(Nothing, ["t"]);
        assert_send(&server.start());
        let server = super::Server::new(Nothing, ["t"]);
        assert_send(&server.run_until(async {}));
        // Not awaited: only their types matter.
    }

    #[allow(dead_code)]
    fn handle_futures_are_send(mut handle: super::ServerHandle) {
        fn check<F: std::future::Future + Send>(_: &F) {}
        check(&handle.stopped());
        check(&handle.shutdown());
    }
}
