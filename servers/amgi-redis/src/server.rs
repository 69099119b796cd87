//! [`Server`]: the fetch loop of each stream, and the mapping of ack, nack and send onto
//! `XACK`, in-process redelivery, `XADD` to the dead-letter stream, and `XADD`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use amgi_core::batch::{BatchDispatcher, IncomingMessage, Publisher};
use amgi_core::extension::{NackRetrySupport, ServerPublisher};
use amgi_core::lifespan::{Lifespan, LifespanOptions};
use amgi_core::{
    Application, EventFuture, LifespanScope, MessageScope, MessageSend, SendError, StateMap,
};
use amgi_server::{DeadLetterOrigin, Settlement, StopSignal, dead_letter_headers};
use bytes::Bytes;
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use tokio::task::JoinHandle;

use crate::config::redact;
use crate::entry::{self, Entry};
use crate::{Error, ErrorKind, RedisConfig};

/// How to start a Redis on this machine, for the message of an unreachable error.
const START_HINT: &str = "redis-server --daemonize yes --bind 127.0.0.1 --port 6379";

/// How long a command other than the blocking read may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a stream's loop waits after a failed read before it reads again.
const READ_RETRY: Duration = Duration::from_secs(1);

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
        if config.group.is_empty() {
            return Err(Error::config("no consumer group: set --group"));
        }
        if config.consumer.is_empty() {
            return Err(Error::config("the consumer name is empty: set --consumer"));
        }
        let url = config.redacted_url();
        let client = redis::Client::open(config.url.as_str()).map_err(|error| {
            Error::new(
                ErrorKind::Config,
                format!("--url {url} is not a Redis URL (redis://[:PASSWORD@]HOST:PORT[/DB])"),
                error,
            )
        })?;
        let commands = connect(&client, &config, Some(COMMAND_TIMEOUT)).await?;
        for stream in &config.streams {
            create_group(commands.clone(), stream, &config).await?;
        }
        let publisher: Arc<dyn Publisher> = Arc::new(StreamPublisher(commands.clone()));
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
        for stream in &config.streams {
            // Its own connection: a blocking XREADGROUP holds up what follows it on a connection.
            let reader = connect(&client, &config, None).await?;
            let consumer = Consumer {
                dispatcher: Arc::clone(&dispatcher),
                stream: stream.clone(),
                config: Arc::clone(&config),
                commands: commands.clone(),
                state: state.clone(),
                stop: Arc::clone(&stop),
            };
            tasks.push(tokio::spawn(consumer.run(reader)));
        }
        if config.streams.is_empty() {
            tracing::warn!("Redis server started without streams: it consumes nothing");
        }
        tracing::info!(url = %url, streams = ?config.streams, group = %config.group,
            consumer = %config.consumer, batch_size = config.batch_size,
            max_deliveries = config.retry.max_deliveries, "serving on Redis Streams");
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

/// A connection to Redis, failing as [`ErrorKind::Unreachable`] within the connect timeout.
async fn connect(
    client: &redis::Client,
    config: &RedisConfig,
    response_timeout: Option<Duration>,
) -> Result<MultiplexedConnection, Error> {
    let options = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(config.connect_timeout))
        .set_response_timeout(response_timeout);
    let connecting = client.get_multiplexed_async_connection_with_config(&options);
    let unreachable = |cause: Box<dyn std::error::Error + Send + Sync>| {
        let message = format!(
            "Redis unreachable at {} (set --url; start one with `{START_HINT}`)",
            config.redacted_url()
        );
        Error::new(ErrorKind::Unreachable, message, cause)
    };
    match tokio::time::timeout(config.connect_timeout, connecting).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(unreachable(redact_error(&error, &config.url).into())),
        Err(elapsed) => Err(unreachable(elapsed.into())),
    }
}

/// The client error's message, with the URL's password redacted should it appear.
fn redact_error(error: &redis::RedisError, url: &str) -> String {
    let message = error.to_string();
    let redacted = redact(url);
    if redacted == url {
        message
    } else {
        message.replace(url, &redacted)
    }
}

/// `XGROUP CREATE stream group <start> MKSTREAM`, accepting a group that exists.
async fn create_group(
    mut connection: MultiplexedConnection,
    stream: &str,
    config: &RedisConfig,
) -> Result<(), Error> {
    let created: redis::RedisResult<()> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(stream)
        .arg(&config.group)
        .arg(config.start.id())
        .arg("MKSTREAM")
        .query_async(&mut connection)
        .await;
    match created {
        Err(error) if error.code() != Some("BUSYGROUP") => Err(Error::new(
            ErrorKind::Command,
            format!(
                "could not create consumer group `{}` on stream `{stream}`",
                config.group
            ),
            error,
        )),
        _ => Ok(()),
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

/// `message.send` and the lifespan publisher: `XADD <address> * payload … header …`.
struct StreamPublisher(MultiplexedConnection);

impl Publisher for StreamPublisher {
    fn publish(&self, message: MessageSend) -> EventFuture<'_, Result<(), SendError>> {
        EventFuture::boxed(async move {
            entry::check_headers(&message.headers)?;
            let fields = entry::fields(&message.headers, message.payload.as_ref());
            xadd(self.0.clone(), &message.address, &fields)
                .await
                .map_err(SendError::transport)
        })
    }
}

/// `XADD stream * field value …`.
async fn xadd(
    mut connection: MultiplexedConnection,
    stream: &str,
    fields: &[(Bytes, Bytes)],
) -> redis::RedisResult<()> {
    let mut command = redis::cmd("XADD");
    command.arg(stream).arg("*");
    for (name, value) in fields {
        command.arg(name.as_ref()).arg(value.as_ref());
    }
    command.query_async::<redis::Value>(&mut connection).await?;
    Ok(())
}

/// An entry on its way through the application.
struct Pending {
    id: String,
    message: IncomingMessage,
    /// Deliveries by this process that count: nacked ones, not skipped ones.
    deliveries: u32,
}

/// The fetch loop of one stream.
struct Consumer<A> {
    dispatcher: Arc<BatchDispatcher<A>>,
    stream: String,
    config: Arc<RedisConfig>,
    commands: MultiplexedConnection,
    state: StateMap,
    stop: Arc<StopSignal>,
}

impl<A: Application> Consumer<A> {
    /// Reads this consumer's pending entries (from id `0` on), then new ones (`>`), one batch
    /// per reply, each handled to the end before the next read, until the server stops.
    async fn run(self, mut reader: MultiplexedConnection) {
        let mut history = Some("0".to_owned());
        loop {
            let read = self.read(&mut reader, history.as_deref());
            let Some(reply) = self.stop.run_until_stopped(read).await else {
                return;
            };
            let entries = match reply {
                Ok(entries) => entries,
                Err(error) => {
                    tracing::warn!(stream = %self.stream, %error, "XREADGROUP failed; reading again");
                    let wait = tokio::time::sleep(READ_RETRY);
                    if self.stop.run_until_stopped(wait).await.is_none() {
                        return;
                    }
                    continue;
                }
            };
            if let Some(from) = &mut history {
                match entries.last() {
                    Some(last) => last.id.clone_into(from),
                    None => history = None, // every pending entry was read: new ones now
                }
            }
            let mut batch = Vec::with_capacity(entries.len());
            let mut deleted = Vec::new();
            for Entry { id, fields } in entries {
                match fields {
                    Some(fields) => batch.push(Pending {
                        message: Entry::message(&id, fields),
                        id,
                        deliveries: 0,
                    }),
                    None => deleted.push(id),
                }
            }
            if !deleted.is_empty() {
                tracing::warn!(stream = %self.stream, ids = ?deleted,
                    "pending entries were deleted from the stream: acked without delivery");
                self.ack(&deleted).await;
            }
            if !self.handle(batch).await {
                return;
            }
        }
    }

    /// One `XREADGROUP`: the pending entries after `history`, or new entries (blocking).
    async fn read(
        &self,
        reader: &mut MultiplexedConnection,
        history: Option<&str>,
    ) -> Result<Vec<Entry>, String> {
        let mut command = redis::cmd("XREADGROUP");
        command
            .arg("GROUP")
            .arg(&self.config.group)
            .arg(&self.config.consumer)
            .arg("COUNT")
            .arg(self.config.batch_size);
        if history.is_none() {
            let block = u64::try_from(self.config.block.as_millis()).unwrap_or(u64::MAX);
            command.arg("BLOCK").arg(block.max(1));
        }
        command
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(history.unwrap_or(">"));
        let reply: redis::Value = command
            .query_async(reader)
            .await
            .map_err(|error| error.to_string())?;
        entry::parse_read_reply(reply)
    }

    /// Runs the entries of one read until each is acked or dead-lettered; `false` when the
    /// server stopped first (what is left stays pending, never acked).
    async fn handle(&self, mut pending: Vec<Pending>) -> bool {
        while !pending.is_empty() {
            let scope = MessageScope::new(self.stream.as_str())
                .ordered(true)
                .with_state(self.state.clone())
                .with_extension(NackRetrySupport);
            let messages = pending.iter().map(|entry| entry.message.clone()).collect();
            let report = self.dispatcher.dispatch(scope, messages).await;
            let (mut again, mut acked, mut delay) = (Vec::new(), Vec::new(), Duration::ZERO);
            for (mut entry, outcome) in pending.into_iter().zip(report.outcomes) {
                if !outcome.is_skipped() {
                    entry.deliveries += 1;
                }
                match self.config.retry.settle(outcome, entry.deliveries) {
                    Settlement::Ack => acked.push(entry.id),
                    Settlement::Redeliver { delay: after, .. } => {
                        delay = delay.max(after);
                        again.push(entry);
                    }
                    Settlement::DeadLetter(reason) => self.dead_letter(entry, &reason).await,
                }
            }
            if !acked.is_empty() {
                self.ack(&acked).await;
            }
            // Order holds: what is unfinished comes back together, after the longest delay.
            let wait = tokio::time::sleep(delay);
            if !again.is_empty() && self.stop.run_until_stopped(wait).await.is_none() {
                return false;
            }
            pending = again;
        }
        true
    }

    /// `XACK stream group id …`; on failure the entries stay pending (read again on restart).
    async fn ack(&self, ids: &[String]) {
        let mut connection = self.commands.clone();
        let acked: redis::RedisResult<i64> = redis::cmd("XACK")
            .arg(&self.stream)
            .arg(&self.config.group)
            .arg(ids)
            .query_async(&mut connection)
            .await;
        if let Err(error) = acked {
            tracing::error!(stream = %self.stream, ?ids, %error,
                "XACK failed: the entries stay pending and are delivered again on restart");
        }
    }

    /// `XADD` to the dead-letter stream with the dead-letter headers, then `XACK`. If the
    /// dead letter is not written the entry is not acked: it stays pending.
    async fn dead_letter(&self, entry: Pending, reason: &str) {
        let stream = self.stream.as_str();
        let Some(to) = self.config.dead_letter.address_for(stream) else {
            tracing::error!(stream, id = %entry.id, reason, "dead-lettering is disabled: dropped");
            self.ack(&[entry.id]).await;
            return;
        };
        let origin = DeadLetterOrigin {
            reason,
            deliveries: entry.deliveries,
            address: stream,
        };
        let extra = [(STREAM_ID_HEADER, entry.id.clone())];
        let headers = dead_letter_headers(&entry.message.headers, origin, &extra);
        let fields = entry::fields(&headers, entry.message.payload.as_ref());
        match xadd(self.commands.clone(), &to, &fields).await {
            Ok(()) => {
                tracing::warn!(stream, id = %entry.id, dead_letter_stream = %to, reason,
                    "entry dead-lettered");
                self.ack(&[entry.id]).await;
            }
            Err(error) => tracing::error!(stream, id = %entry.id, dead_letter_stream = %to,
                %error, "dead letter not written: the entry stays pending"),
        }
    }
}

/// The dead-letter header naming the id the entry had in its stream.
pub const STREAM_ID_HEADER: &str = "amgi-dead-letter-stream-id";
