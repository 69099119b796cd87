//! [`Server`]: connects, creates the groups, runs lifespan startup, and starts one loop per
//! stream (or the Pub/Sub subscription); [`ServerHandle`] stops them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use amgi_core::batch::{BatchDispatcher, Publisher};
use amgi_core::extension::ServerPublisher;
use amgi_core::lifespan::{Lifespan, LifespanOptions};
use amgi_core::{Application, LifespanScope, StateMap};
use amgi_server::StopSignal;
use tokio::task::JoinHandle;

use crate::connection::{Redis, create_group};
use crate::consumer::Consumer;
use crate::publisher::{ChannelPublisher, StreamPublisher};
use crate::pubsub::Subscriber;
use crate::{Error, ErrorKind, RedisConfig};

/// How long a command other than the blocking read may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves an AMGI application on Redis Streams with one consumer group, at least once.
///
/// ```no_run
/// # async fn f(app: impl amgi_core::Application) -> Result<(), amgi_redis::Error> {
/// use amgi_redis::{RedisConfig, Server};
///
/// let config = RedisConfig::new("redis://127.0.0.1:6379", "billing").stream("orders");
/// let handle = Server::new(app, config).start().await?;
/// handle.shutdown().await?;
/// # Ok(()) }
/// ```
pub struct Server<A> {
    app: Arc<A>,
    config: RedisConfig,
    lifespan: LifespanOptions,
}

impl<A> fmt::Debug for Server<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("url", &self.config.redacted_url())
            .field("group", &self.config.group)
            .field("consumer", &self.config.consumer)
            .field("streams", &self.config.streams)
            .finish_non_exhaustive()
    }
}

impl<A: Application> Server<A> {
    /// A server running `app` with `config`.
    ///
    /// ```no_run
    /// # fn f(app: impl amgi_core::Application) {
    /// let config = amgi_redis::RedisConfig::new("redis://127.0.0.1", "g").stream("orders");
    /// let server = amgi_redis::Server::new(app, config);
    /// # }
    /// ```
    pub fn new(app: A, config: RedisConfig) -> Self {
        Self {
            app: Arc::new(app),
            config,
            lifespan: LifespanOptions::default(),
        }
    }

    /// The timeouts of lifespan startup and shutdown.
    ///
    /// ```no_run
    /// # fn f(server: amgi_redis::Server<amgi_core::BoxApplication>) {
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

    /// Connects, creates each stream's group when missing (`XGROUP CREATE … MKSTREAM`), runs
    /// lifespan startup with a [`ServerPublisher`] in its scope, then consumes every stream:
    /// first this consumer's own pending entries, then new ones.
    ///
    /// ```no_run
    /// # async fn f(server: amgi_redis::Server<amgi_core::BoxApplication>) -> Result<(), amgi_redis::Error> {
    /// let handle = server.start().await?;
    /// # Ok(()) }
    /// ```
    pub async fn start(self) -> Result<ServerHandle, Error> {
        let config = self.config;
        if !config.pubsub {
            check_streams_config(&config)?;
        }
        let redis = Redis::open(&config)?;
        redis.check(&config.url).await?;
        let commands = redis.manager(Some(COMMAND_TIMEOUT))?;
        let publisher: Arc<dyn Publisher> = if config.pubsub {
            Arc::new(ChannelPublisher(commands.clone()))
        } else {
            for stream in &config.streams {
                create_group(commands.clone(), stream, &config).await?;
            }
            Arc::new(StreamPublisher(commands.clone()))
        };
        let state = StateMap::new();
        let scope = LifespanScope::new(state.clone())
            .with_extension(ServerPublisher(Arc::clone(&publisher)));
        let lifespan = Lifespan::startup_scope(Arc::clone(&self.app), scope, self.lifespan)
            .await
            .map_err(|error| Error::startup(&error))?;
        let stop = Arc::new(StopSignal::default());
        let dispatcher = Arc::new(BatchDispatcher::new(self.app, publisher));
        let config = Arc::new(config);
        let mut tasks = Vec::with_capacity(config.streams.len());
        if config.pubsub {
            let subscriber = Subscriber {
                dispatcher,
                client: redis.client.clone(),
                config: Arc::clone(&config),
                state,
                stop: Arc::clone(&stop),
                url: redis.url.clone(),
            };
            tasks.push(tokio::spawn(subscriber.run()));
            tracing::info!(url = %redis.url, channels = ?config.streams,
                patterns = ?config.patterns, "serving on Redis Pub/Sub, at most once");
        } else {
            for stream in &config.streams {
                // Its own connection: a blocking XREADGROUP holds up what follows it on a
                // connection.
                let reader = redis.manager(Some(config.block + COMMAND_TIMEOUT))?;
                let consumer = Consumer {
                    dispatcher: Arc::clone(&dispatcher),
                    stream: stream.clone(),
                    config: Arc::clone(&config),
                    commands: commands.clone(),
                    state: state.clone(),
                    stop: Arc::clone(&stop),
                    url: redis.url.clone(),
                };
                tasks.push(tokio::spawn(consumer.run(reader)));
            }
            tracing::info!(url = %redis.url, streams = ?config.streams, group = %config.group,
                consumer = %config.consumer, batch_size = config.batch_size,
                max_deliveries = config.retry.max_deliveries, claim_idle = ?config.claim_idle,
                lanes = ?config.lanes, "serving on Redis Streams");
        }
        if config.streams.is_empty() && config.patterns.is_empty() {
            tracing::warn!("Redis server started without streams or channels: it consumes nothing");
        }
        Ok(ServerHandle {
            stop: StopOnDrop(stop),
            tasks,
            lifespan,
            drain: config.deadlines.drain,
        })
    }

    /// Starts the server, runs until `signal` completes, then shuts down gracefully (see
    /// [`ServerHandle::shutdown`]).
    ///
    /// ```no_run
    /// # async fn f(server: amgi_redis::Server<amgi_core::BoxApplication>) -> Result<(), amgi_redis::Error> {
    /// server.run_until(amgi_server::shutdown_signal()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn run_until<F: Future<Output = ()>>(self, signal: F) -> Result<(), Error> {
        let handle = self.start().await?;
        signal.await;
        handle.shutdown().await
    }
}

/// What streams mode needs: a group, a consumer name, no patterns.
fn check_streams_config(config: &RedisConfig) -> Result<(), Error> {
    if config.group.is_empty() {
        return Err(Error::config("no consumer group: set --group"));
    }
    if config.consumer.is_empty() {
        return Err(Error::config("the consumer name is empty: set --consumer"));
    }
    if let Some(pattern) = config.patterns.first() {
        return Err(Error::config(format!(
            "the pattern `{pattern}` needs Pub/Sub mode (--pubsub): Redis Streams have no \
             patterns, so name the streams"
        )));
    }
    Ok(())
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
    drain: Duration,
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("streams", &self.tasks.len())
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
    /// Graceful shutdown: stops reading, gives the batches in hand the
    /// [drain deadline](amgi_server::Deadlines::drain), then runs lifespan shutdown. Entries
    /// not acked by then (a batch cut off at the deadline, an entry waiting out its redelivery
    /// delay) stay pending in the group and are read again when this consumer restarts.
    ///
    /// ```no_run
    /// # async fn f(handle: amgi_redis::ServerHandle) {
    /// handle.shutdown().await.expect("clean shutdown");
    /// # }
    /// ```
    pub async fn shutdown(mut self) -> Result<(), Error> {
        self.stop.0.set();
        let tasks = std::mem::take(&mut self.tasks);
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        let joined = tokio::time::timeout(self.drain, futures_util::future::join_all(tasks)).await;
        let consumed = if let Ok(results) = joined {
            let failed = results.into_iter().find_map(Result::err);
            failed.map_or(Ok(()), |error| {
                Err(Error::new(
                    ErrorKind::Consumer,
                    "a stream's consumer failed",
                    error,
                ))
            })
        } else {
            tracing::warn!(drain = ?self.drain,
                "drain deadline passed: entries in hand stay pending, not acked");
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
            Ok(())
        };
        let lifespan = self.lifespan.shutdown().await;
        match (consumed, lifespan) {
            (Ok(()), Ok(())) => Ok(()),
            (Ok(()), Err(error)) => Err(Error::shutdown(&error)),
            (Err(error), lifespan) => {
                if let Err(lifespan) = lifespan {
                    tracing::error!(error = %lifespan, "lifespan shutdown failed");
                }
                Err(error)
            }
        }
    }
}

/// The dead-letter header naming the id the entry had in its stream.
pub const STREAM_ID_HEADER: &str = "amgi-dead-letter-stream-id";
