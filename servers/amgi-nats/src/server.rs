//! [`Server`]: connects, subscribes (core NATS) or gets the durable pull consumers
//! (JetStream), runs lifespan startup with a publisher and a requester in its scope, and starts
//! the fetch loops; [`ServerHandle`] stops them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use amgi_core::batch::{BatchDispatcher, Publisher};
use amgi_core::extension::{ServerPublisher, ServerRequester};
use amgi_core::lifespan::{Lifespan, LifespanOptions};
use amgi_core::{Application, LifespanScope, StateMap};
use amgi_server::StopSignal;
use tokio::task::JoinHandle;

use crate::core::CoreConsumer;
use crate::jetstream::{JetStreamConsumer, consumer, durable_name};
use crate::publisher::{NatsPublisher, NatsRequester};
use crate::{NatsConfig, NatsError, NatsErrorKind, connection};
use async_nats::jetstream::consumer::PullConsumer;
use futures_util::StreamExt;
use futures_util::stream::SelectAll;

/// Serves an AMGI application on NATS: core NATS (at most once) or a JetStream durable pull
/// consumer (at least once).
///
/// ```no_run
/// # async fn f(app: impl amgi_core::Application) -> Result<(), amgi_nats::NatsError> {
/// use amgi_nats::{NatsConfig, Server};
///
/// let config = NatsConfig::new("nats://127.0.0.1:4222").subjects(["orders.created"]);
/// let handle = Server::new(app, config).start().await?;
/// handle.shutdown().await?;
/// # Ok(()) }
/// ```
pub struct Server<A> {
    app: Arc<A>,
    config: NatsConfig,
    lifespan: LifespanOptions,
}

impl<A> fmt::Debug for Server<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("url", &self.config.redacted_url())
            .field("subjects", &self.config.subjects)
            .field("jetstream", &self.config.jetstream)
            .finish_non_exhaustive()
    }
}

impl<A: Application> Server<A> {
    /// A server running `app` with `config`.
    ///
    /// ```no_run
    /// # fn f(app: impl amgi_core::Application) {
    /// let config = amgi_nats::NatsConfig::new("nats://127.0.0.1").subjects(["orders"]);
    /// let server = amgi_nats::Server::new(app, config);
    /// # }
    /// ```
    pub fn new(app: A, config: NatsConfig) -> Self {
        Self {
            app: Arc::new(app),
            config,
            lifespan: LifespanOptions::default(),
        }
    }

    /// The timeouts of lifespan startup and shutdown.
    ///
    /// ```no_run
    /// # fn f(server: amgi_nats::Server<amgi_core::BoxApplication>) {
    /// use std::time::Duration;
    /// use amgi_core::lifespan::LifespanOptions;
    /// let server = server
    ///     .lifespan_options(LifespanOptions::default().startup_timeout(Duration::from_secs(5)));
    /// # }
    /// ```
    #[must_use]
    pub fn lifespan_options(mut self, options: LifespanOptions) -> Self {
        self.lifespan = options;
        self
    }

    /// Connects, subscribes (core NATS) or gets or creates the durable consumers (JetStream),
    /// runs lifespan startup with a [`ServerPublisher`] and a [`ServerRequester`] (NATS
    /// inboxes) in its scope, then consumes.
    ///
    /// ```no_run
    /// # async fn f(server: amgi_nats::Server<amgi_core::BoxApplication>) -> Result<(), amgi_nats::NatsError> {
    /// let handle = server.start().await?;
    /// # Ok(()) }
    /// ```
    pub async fn start(self) -> Result<ServerHandle, NatsError> {
        let config = Arc::new(self.config);
        check(&config)?;
        let client = connection::connect(&config).await?;
        let url = config.redacted_url();
        let (plan, publisher) = match &config.jetstream {
            Some(settings) => prepare_jetstream(&config, settings, &client, &url).await?,
            None => subscribe_core(&config, &client, &url).await?,
        };
        let state = StateMap::new();
        let stop = Arc::new(StopSignal::default());
        let as_publisher: Arc<dyn Publisher> = publisher.clone();
        let scope = LifespanScope::new(state.clone())
            .with_extension(ServerPublisher(Arc::clone(&as_publisher)))
            .with_extension(ServerRequester(Arc::new(NatsRequester(client.clone()))));
        let lifespan = Lifespan::startup_scope(Arc::clone(&self.app), scope, self.lifespan)
            .await
            .map_err(|error| NatsError::startup(&error))?;
        let dispatcher = Arc::new(BatchDispatcher::new(self.app, as_publisher));
        let tasks = match plan {
            Plan::Core(subscriptions) => vec![tokio::spawn(
                CoreConsumer {
                    dispatcher,
                    subscriptions,
                    config: Arc::clone(&config),
                    state,
                    stop: Arc::clone(&stop),
                }
                .run(),
            )],
            Plan::JetStream(consumers) => consumers
                .into_iter()
                .map(|consumer| {
                    tokio::spawn(
                        JetStreamConsumer {
                            dispatcher: Arc::clone(&dispatcher),
                            consumer,
                            publisher: Arc::clone(&publisher),
                            config: Arc::clone(&config),
                            state: state.clone(),
                            stop: Arc::clone(&stop),
                        }
                        .run(),
                    )
                })
                .collect(),
        };
        log_serving(&config, &url);
        Ok(ServerHandle {
            stop: StopOnDrop(stop),
            tasks,
            lifespan,
            client,
            drain: config.deadlines.drain,
        })
    }

    /// Starts the server, runs until `signal` completes, then shuts down gracefully (see
    /// [`ServerHandle::shutdown`]).
    ///
    /// ```no_run
    /// # async fn f(server: amgi_nats::Server<amgi_core::BoxApplication>) -> Result<(), amgi_nats::NatsError> {
    /// server.run_until(amgi_server::shutdown_signal()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn run_until<F: Future<Output = ()>>(self, signal: F) -> Result<(), NatsError> {
        let handle = self.start().await?;
        signal.await;
        handle.shutdown().await
    }
}

/// What the fetch loops consume, prepared before lifespan startup.
enum Plan {
    Core(SelectAll<async_nats::Subscriber>),
    JetStream(Vec<PullConsumer>),
}

/// What JetStream mode needs: a stream and a durable name, no queue group.
fn check(config: &NatsConfig) -> Result<(), NatsError> {
    if let Some(jetstream) = &config.jetstream {
        if jetstream.stream.is_empty() || jetstream.durable.is_empty() {
            return Err(NatsError::config(
                "JetStream needs both a stream (--stream) and a durable name (--durable)",
            ));
        }
        if config.group.is_some() {
            return Err(NatsError::config(
                "--group is for core NATS: the servers of one JetStream durable (--durable) \
                 share its messages already",
            ));
        }
    } else if config.subjects.is_empty() {
        return Err(NatsError::config(
            "no subject to consume: name the subjects (or give the application channels)",
        ));
    }
    Ok(())
}

/// Looks up the stream and gets or creates a durable consumer per subject filter.
async fn prepare_jetstream(
    config: &NatsConfig,
    settings: &crate::JetStream,
    client: &async_nats::Client,
    url: &str,
) -> Result<(Plan, Arc<NatsPublisher>), NatsError> {
    let context = async_nats::jetstream::new(client.clone());
    let stream = context
        .get_stream(&settings.stream)
        .await
        .map_err(|error| {
            NatsError::new(
                NatsErrorKind::Config,
                format!(
                    "cannot use the JetStream stream `{}` at {url}: {error}. Create it first \
                 (`nats stream add {} --subjects '…'`), and make sure the server runs with \
                 JetStream (`nats-server -js`)",
                    settings.stream, settings.stream
                ),
                Some(Box::new(error)),
            )
        })?;
    let filters = if config.subjects.is_empty() {
        vec![String::new()]
    } else {
        config.subjects.clone()
    };
    let mut consumers = Vec::with_capacity(filters.len());
    for filter in &filters {
        let name = durable_name(&settings.durable, filter, filters.len());
        consumers.push(consumer(&stream, &name, filter, config, settings.ack_wait).await?);
    }
    let publisher = Arc::new(NatsPublisher {
        client: client.clone(),
        jetstream: Some(context),
        stream_subjects: stream.cached_info().config.subjects.clone(),
    });
    Ok((Plan::JetStream(consumers), publisher))
}

/// Subscribes to each subject (in the queue group, if any), confirmed by the server.
async fn subscribe_core(
    config: &NatsConfig,
    client: &async_nats::Client,
    url: &str,
) -> Result<(Plan, Arc<NatsPublisher>), NatsError> {
    let mut subscriptions = SelectAll::new();
    for subject in &config.subjects {
        let subscribing = match &config.group {
            Some(group) => client.queue_subscribe(subject.clone(), group.clone()).await,
            None => client.subscribe(subject.clone()).await,
        };
        subscriptions.push(subscribing.map_err(|error| {
            NatsError::new(
                NatsErrorKind::Subscribe,
                format!("cannot subscribe to `{subject}` at {url}: {error}"),
                Some(Box::new(error)),
            )
        })?);
    }
    confirm_subscriptions(client, config, url).await?;
    let publisher = Arc::new(NatsPublisher {
        client: client.clone(),
        jetstream: None,
        stream_subjects: Vec::new(),
    });
    Ok((Plan::Core(subscriptions), publisher))
}

/// Waits until NATS has registered this connection's subscriptions: a message to a fresh inbox
/// comes back only after the server processed everything sent before it on the connection
/// (`flush` alone only writes the buffer).
async fn confirm_subscriptions(
    client: &async_nats::Client,
    config: &NatsConfig,
    url: &str,
) -> Result<(), NatsError> {
    let unconfirmed = |detail: String| {
        NatsError::new(
            NatsErrorKind::Unreachable,
            format!("NATS at {url} did not confirm the subscriptions: {detail}"),
            None,
        )
    };
    let inbox = client.new_inbox();
    let mut echo = client
        .subscribe(inbox.clone())
        .await
        .map_err(|error| unconfirmed(error.to_string()))?;
    client
        .publish(inbox, bytes::Bytes::new())
        .await
        .map_err(|error| unconfirmed(error.to_string()))?;
    match tokio::time::timeout(config.connect_timeout, echo.next()).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(unconfirmed("the connection closed".to_owned())),
        Err(_) => Err(unconfirmed(format!(
            "no answer within {:?}",
            config.connect_timeout
        ))),
    }
}

fn log_serving(config: &NatsConfig, url: &str) {
    if let Some(settings) = &config.jetstream {
        tracing::info!(%url, stream = %settings.stream, durable = %settings.durable,
            subjects = ?config.subjects, batch_size = config.batch_size,
            max_deliveries = config.retry.max_deliveries, lanes = ?config.lanes,
            "serving on NATS JetStream, at least once");
    } else {
        tracing::info!(%url, subjects = ?config.subjects, group = ?config.group,
            batch_size = config.batch_size, lanes = ?config.lanes,
            "serving on core NATS, at most once");
    }
}

/// A running [`Server`].
///
/// Call [`ServerHandle::shutdown`] to stop it. Dropping the handle instead stops taking batches
/// but skips the drain and lifespan shutdown.
#[must_use = "dropping the handle stops the server without lifespan shutdown"]
pub struct ServerHandle {
    stop: StopOnDrop,
    tasks: Vec<JoinHandle<()>>,
    lifespan: Lifespan,
    client: async_nats::Client,
    drain: Duration,
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("consumers", &self.tasks.len())
            .field("stopping", &self.stop.0.is_set())
            .finish_non_exhaustive()
    }
}

/// Sets the stop signal when the handle is dropped.
struct StopOnDrop(Arc<StopSignal>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

impl ServerHandle {
    /// Graceful shutdown: stops fetching, gives the batches in hand the
    /// [drain deadline](amgi_server::Deadlines::drain), runs lifespan shutdown, then flushes
    /// what was published. JetStream messages not acked by then are delivered again after the
    /// consumer's ack wait; core NATS messages not handled are lost.
    ///
    /// ```no_run
    /// # async fn f(handle: amgi_nats::ServerHandle) {
    /// handle.shutdown().await.expect("clean shutdown");
    /// # }
    /// ```
    pub async fn shutdown(mut self) -> Result<(), NatsError> {
        self.stop.0.set();
        let tasks = std::mem::take(&mut self.tasks);
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        let joined = tokio::time::timeout(self.drain, futures_util::future::join_all(tasks)).await;
        let consumed = if let Ok(results) = joined {
            results
                .into_iter()
                .find_map(Result::err)
                .map_or(Ok(()), |error| {
                    Err(NatsError::new(
                        NatsErrorKind::Consumer,
                        "a consumer task failed",
                        Some(Box::new(error)),
                    ))
                })
        } else {
            tracing::warn!(drain = ?self.drain,
                "drain deadline passed: messages in hand are not acked");
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
            Ok(())
        };
        let lifespan = self.lifespan.shutdown().await;
        if let Err(error) = self.client.flush().await {
            tracing::warn!(%error, "flushing the NATS connection failed");
        }
        match (consumed, lifespan) {
            (Ok(()), Ok(())) => Ok(()),
            (Ok(()), Err(error)) => Err(NatsError::shutdown(&error)),
            (Err(error), lifespan) => {
                if let Err(lifespan) = lifespan {
                    tracing::error!(error = %lifespan, "lifespan shutdown failed");
                }
                Err(error)
            }
        }
    }
}
