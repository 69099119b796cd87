//! [`Server`]: connects, declares the queues and their bindings, runs batches through the
//! application and maps the outcomes onto AMQP (`basic.ack`, in-process redelivery,
//! dead-letter queues).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use amgi_core::batch::{BatchDispatcher, IncomingMessage, NOT_ACKNOWLEDGED, Outcome, Publisher};
use amgi_core::extension::{NackRetrySupport, ServerPublisher, ServerRequester};
use amgi_core::lifespan::{Lifespan, LifespanOptions};
use amgi_core::{Application, LifespanScope, MessageScope, StateMap};
use amgi_server::{DeadLetterOrigin, Settlement, StopSignal, dead_letter_headers};
use futures_util::{FutureExt, StreamExt};
use lapin::Acker;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, Connection};
use tokio::task::JoinSet;

use crate::config::{DeadLetters, QueueBinding};
use crate::error::AmqpErrorKind;
use crate::link::{Link, redact};
use crate::message::{self, Outbound};
use crate::publisher::{AmqpPublisher, AmqpRequester};
use crate::{AmqpConfig, AmqpError};

/// First and longest wait before consuming a queue again on a connection that is up.
const RECONSUME: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

/// Delay between attempts to publish a dead letter the broker did not accept.
const DEAD_LETTER_RETRY: Duration = Duration::from_secs(1);

/// An AMQP 0-9-1 server for an AMGI application: manual acks, at least once.
///
/// ```no_run
/// # async fn f(app: amgi_core::BoxApplication) -> Result<(), amgi_amqp::AmqpError> {
/// use amgi_amqp::{AmqpConfig, AmqpUrl, Server};
///
/// let url = AmqpUrl::new("amqp://guest:guest@127.0.0.1:5672/%2f");
/// let handle = Server::new(app, AmqpConfig::new(url).queues(["orders"])).start().await?;
/// // … serve until it is time to stop …
/// handle.shutdown().await?;
/// # Ok(()) }
/// ```
pub struct Server<A> {
    app: A,
    config: AmqpConfig,
}

impl<A: Application> Server<A> {
    /// A server running `app` with `config`.
    pub fn new(app: A, config: AmqpConfig) -> Self {
        Self { app, config }
    }

    /// Connects (failing as [`Unreachable`](AmqpErrorKind::Unreachable) within the connect
    /// timeout when the broker is down), declares the queues, their bindings and dead-letter
    /// queues, runs lifespan startup with a `ServerPublisher` and a `ServerRequester`, and
    /// serves in the background until [`ServerHandle::shutdown`].
    pub async fn start(self) -> Result<ServerHandle, AmqpError> {
        let Self { app, config } = self;
        let stop = Arc::new(StopSignal::default());
        let name = format!("amgi-amqp {}", config.queues.join(","));
        let link = Link::open(&config, name, Arc::clone(&stop)).await?;
        let session = link.session(None).await.ok_or_else(|| {
            AmqpError::new(AmqpErrorKind::Startup, "stopped while starting", None)
        })?;
        let own_dead_letter_exchange = match declare(&session.connection, &config).await {
            Ok(queues) => queues,
            Err(error) => {
                link.close().await;
                return Err(error);
            }
        };

        let (app, state) = (Arc::new(app), StateMap::new());
        let publisher = Arc::new(AmqpPublisher::new(Arc::clone(&link)));
        let requester = Arc::new(AmqpRequester::new(Arc::clone(&link)));
        let scope = LifespanScope::new(state.clone())
            .with_extension(ServerPublisher(Arc::clone(&publisher) as Arc<dyn Publisher>))
            .with_extension(ServerRequester(requester));
        let lifespan = match Lifespan::startup_scope(
            Arc::clone(&app),
            scope,
            LifespanOptions::default(),
        )
        .await
        {
            Ok(lifespan) => lifespan,
            Err(error) => {
                link.close().await;
                return Err(AmqpError::new(
                    AmqpErrorKind::Startup,
                    format!("lifespan startup failed: {error}"),
                    Some(Box::new(error)),
                ));
            }
        };
        let consumer = Arc::new(Consumer {
            dispatcher: BatchDispatcher::new(app, Arc::clone(&publisher) as Arc<dyn Publisher>),
            publisher,
            link: Arc::clone(&link),
            config: config.clone(),
            own_dead_letter_exchange,
            state,
            stop: Arc::clone(&stop),
        });
        let mut consumers = JoinSet::new();
        for queue in &config.queues {
            consumers.spawn(Arc::clone(&consumer).run(queue.clone()));
        }
        tracing::info!(broker = %config.url, queues = ?config.queues, batch_size = config.batch_size,
            max_deliveries = config.retry.max_deliveries, "serving on AMQP");
        Ok(ServerHandle {
            stop,
            consumers,
            lifespan,
            link,
            config,
        })
    }
}

/// Declares the queues (or checks that they exist), binds them, and declares their dead-letter
/// queues. Returns the queues that have a dead-letter exchange of their own.
async fn declare(
    connection: &Connection,
    config: &AmqpConfig,
) -> Result<HashSet<String>, AmqpError> {
    let refused = |what: String, error: &lapin::Error| {
        AmqpError::new(
            AmqpErrorKind::Topology,
            format!("{what}: {}", redact(&error.to_string(), &config.url)),
            None,
        )
    };
    let channel = || async {
        connection
            .create_channel()
            .await
            .map_err(|error| refused("opening a channel".into(), &error))
    };
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let mut own_dead_letter_exchange = HashSet::new();
    for queue in &config.queues {
        if config.declare {
            let declared = channel()
                .await?
                .queue_declare(
                    queue.as_str().into(),
                    QueueDeclareOptions::durable(),
                    FieldTable::default(),
                )
                .await;
            // A queue that exists with arguments of its own (a quorum queue, a dead-letter
            // exchange) refuses a plain declaration: it is used as it is. RabbitMQ names the
            // first argument that differs: a dead-letter exchange of its own is used for dead
            // letters.
            if let Err(error) = declared {
                if error.to_string().contains("x-dead-letter-exchange") {
                    own_dead_letter_exchange.insert(queue.clone());
                }
                channel()
                    .await?
                    .queue_declare(queue.as_str().into(), passive, FieldTable::default())
                    .await
                    .map_err(|error| refused(format!("declaring queue `{queue}`"), &error))?;
            }
        } else {
            let checked = channel()
                .await?
                .queue_declare(queue.as_str().into(), passive, FieldTable::default())
                .await;
            checked.map_err(|error| {
                refused(
                    format!(
                        "queue `{queue}` does not exist on {} (--no-declare): declare it, or \
                         drop --no-declare to let the server declare it",
                        config.url
                    ),
                    &error,
                )
            })?;
        }
    }
    let dead_letter_queues = (config.queues.iter())
        .filter(|queue| !own_dead_letter_exchange.contains(*queue))
        .filter_map(|queue| config.dead_letter_queue(queue));
    for queue in dead_letter_queues {
        channel()
            .await?
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions::durable(),
                FieldTable::default(),
            )
            .await
            .map_err(|error| refused(format!("declaring dead-letter queue `{queue}`"), &error))?;
    }
    bind(&channel().await?, config).await?;
    Ok(own_dead_letter_exchange)
}

/// Binds every queue as configured, on `channel` (closed after).
async fn bind(channel: &Channel, config: &AmqpConfig) -> Result<(), AmqpError> {
    for queue in &config.queues {
        for binding in &config.bindings {
            let (exchange, routing_key, arguments) = match binding {
                QueueBinding::RoutingKey {
                    exchange,
                    routing_key,
                } => (exchange, routing_key.as_str(), FieldTable::default()),
                QueueBinding::Headers {
                    exchange,
                    headers,
                    matching,
                } => {
                    let mut arguments = FieldTable::default();
                    let text = |value: &str| AMQPValue::LongString(LongString::from(value));
                    arguments.insert("x-match".into(), text(matching.as_str()));
                    for (name, value) in headers {
                        arguments.insert(name.as_str().into(), text(value));
                    }
                    (exchange, "", arguments)
                }
            };
            channel
                .queue_bind(
                    queue.as_str().into(),
                    exchange.as_str().into(),
                    routing_key.into(),
                    QueueBindOptions::default(),
                    arguments,
                )
                .await
                .map_err(|error| {
                    AmqpError::new(
                        AmqpErrorKind::Topology,
                        format!(
                            "binding queue `{queue}` to exchange `{exchange}`: {}",
                            redact(&error.to_string(), &config.url)
                        ),
                        None,
                    )
                })?;
        }
    }
    let _ = channel.close(200, "bound".into()).await;
    Ok(())
}

/// A running [`Server`]; [`shutdown`](Self::shutdown) stops it gracefully.
#[must_use = "dropping the handle leaves the server running without a way to stop it"]
pub struct ServerHandle {
    stop: Arc<StopSignal>,
    consumers: JoinSet<()>,
    lifespan: Lifespan,
    link: Arc<Link>,
    config: AmqpConfig,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle").finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// Stops taking batches, gives those in hand the drain deadline (what is unfinished then
    /// is not acknowledged: RabbitMQ delivers it again once the connection closes), runs
    /// lifespan shutdown and closes the connection.
    pub async fn shutdown(mut self) -> Result<(), AmqpError> {
        self.stop.set();
        let drain = self.config.deadlines.drain;
        let drained = tokio::time::timeout(drain, async {
            while self.consumers.join_next().await.is_some() {}
        });
        if drained.await.is_err() {
            tracing::warn!(
                ?drain,
                "drain deadline passed: messages in hand not acknowledged"
            );
            self.consumers.abort_all();
        }
        let shutdown = self.lifespan.shutdown().await;
        let close = self.config.deadlines.close;
        if tokio::time::timeout(close, self.link.close())
            .await
            .is_err()
        {
            tracing::warn!(?close, "closing the AMQP connection took too long");
        }
        shutdown.map_err(|error| {
            AmqpError::new(
                AmqpErrorKind::Shutdown,
                format!("lifespan shutdown failed: {error}"),
                Some(Box::new(error)),
            )
        })
    }
}

/// A message on its way through the application.
struct Pending {
    message: IncomingMessage,
    acker: Acker,
    /// Deliveries so far that count: the broker's, then nacked ones, not skipped ones.
    deliveries: u32,
}

struct Consumer<A> {
    dispatcher: BatchDispatcher<A>,
    publisher: Arc<AmqpPublisher>,
    link: Arc<Link>,
    config: AmqpConfig,
    /// Queues whose own `x-dead-letter-exchange` takes their dead letters.
    own_dead_letter_exchange: HashSet<String>,
    state: StateMap,
    stop: Arc<StopSignal>,
}

impl<A: Application> Consumer<A> {
    /// Consumes `queue` until the server stops, on one connection after the other.
    async fn run(self: Arc<Self>, queue: String) {
        let mut broken = None;
        // Consuming failed (or was cancelled) on a connection that is still up: wait this long
        // before trying again on it, doubling up to `RECONSUME.1`.
        let mut delay = RECONSUME.0;
        while let Some(session) = self.link.session(broken).await {
            let consumed = match self.consume(&session.connection, &queue).await {
                Ok((channel, deliveries)) => {
                    let consumed = self.consume_until_cancelled(&queue, deliveries).await;
                    if consumed.is_none() {
                        let _ = channel.close(200, "stopping".into()).await;
                        return;
                    }
                    consumed
                }
                Err(error) => {
                    let error = redact(&error.to_string(), &self.config.url);
                    tracing::debug!(queue, %error, "cannot consume");
                    Some(false)
                }
            };
            if consumed == Some(true) {
                delay = RECONSUME.0;
            }
            if session.connection.status().connected() {
                // The connection is fine, the consumer is not (a deleted queue, a refused
                // consume): try again on the same connection after a while.
                broken = None;
                if delay >= RECONSUME.1 {
                    tracing::warn!(queue, "cannot consume the queue: trying again");
                }
                let wait = tokio::time::sleep(delay);
                if self.stop.run_until_stopped(wait).await.is_none() {
                    return;
                }
                delay = (delay * 2).min(RECONSUME.1);
            } else {
                broken = Some(session.generation);
            }
        }
    }

    /// Handles what `deliveries` brings, batch after batch, until the consumer ends (`Some`:
    /// whether anything was delivered) or the server stops (`None`).
    async fn consume_until_cancelled(
        &self,
        queue: &str,
        mut deliveries: lapin::Consumer,
    ) -> Option<bool> {
        let mut delivered = false;
        loop {
            let next = self.stop.run_until_stopped(deliveries.next()).await?;
            let Some(Ok(first)) = next else {
                return Some(delivered);
            };
            delivered = true;
            let mut batch = vec![pending(first)];
            while batch.len() < self.config.batch_size {
                match deliveries.next().now_or_never() {
                    Some(Some(Ok(delivery))) => batch.push(pending(delivery)),
                    _ => break,
                }
            }
            self.handle(queue, batch).await;
            if self.stop.is_set() {
                return None;
            }
        }
    }

    /// A channel consuming `queue` with manual acks, its prefetch the batch size.
    async fn consume(
        &self,
        connection: &Connection,
        queue: &str,
    ) -> Result<(Channel, lapin::Consumer), lapin::Error> {
        let channel = connection.create_channel().await?;
        let prefetch = u16::try_from(self.config.batch_size).unwrap_or(u16::MAX);
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                queue.into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok((channel, consumer))
    }
}

/// A delivery on its way through the application.
fn pending(mut delivery: lapin::message::Delivery) -> Pending {
    let (message, deliveries) = message::incoming(&mut delivery);
    Pending {
        message,
        acker: delivery.acker,
        deliveries,
    }
}

impl<A: Application> Consumer<A> {
    /// Runs the messages of one batch until each is acked or dead-lettered, or the server
    /// stops (what is left is not acknowledged). Order holds: what is unfinished is dispatched
    /// again together, after the longest delay.
    async fn handle(&self, queue: &str, mut pending: Vec<Pending>) {
        while !pending.is_empty() {
            let scope = MessageScope::new(queue)
                .ordered(true)
                .with_state(self.state.clone())
                .with_extension(NackRetrySupport);
            let messages = pending.iter().map(|p| p.message.clone()).collect();
            let report = self.dispatcher.dispatch(scope, messages).await;
            let mut outcomes = report.outcomes.into_iter();
            let (mut again, mut delay) = (Vec::new(), Duration::ZERO);
            for mut message in pending {
                let outcome =
                    (outcomes.next()).unwrap_or_else(|| Outcome::nacked(NOT_ACKNOWLEDGED));
                if !outcome.is_skipped() {
                    message.deliveries += 1;
                }
                match self.config.retry.settle(outcome, message.deliveries) {
                    Settlement::Ack => ack(&message.acker).await,
                    Settlement::Redeliver { delay: after, .. } => {
                        delay = delay.max(after);
                        again.push(message);
                    }
                    Settlement::DeadLetter(reason) => {
                        if !self.dead_letter(queue, &message, &reason).await {
                            return;
                        }
                    }
                }
            }
            let wait = tokio::time::sleep(delay);
            if !again.is_empty() && self.stop.run_until_stopped(wait).await.is_none() {
                return;
            }
            pending = again;
        }
    }

    /// Dead-letters `message`: published (confirmed) to its dead-letter queue with the reason
    /// headers, then acked; or rejected to the queue's own dead-letter exchange. `false` when
    /// the server stopped first.
    async fn dead_letter(&self, queue: &str, message: &Pending, reason: &str) -> bool {
        let policy = match &self.config.dead_letters {
            _ if self.own_dead_letter_exchange.contains(queue) => None,
            DeadLetters::Broker => None,
            DeadLetters::Queue(policy) => Some(policy),
        };
        let Some(policy) = policy else {
            tracing::warn!(
                queue,
                reason,
                "message rejected to the queue's dead-letter exchange"
            );
            let options = BasicNackOptions {
                requeue: false,
                ..BasicNackOptions::default()
            };
            let _ = message.acker.nack(options).await;
            return true;
        };
        let Some(to) = policy.address_for(queue) else {
            tracing::error!(queue, reason, "dead-lettering is disabled: message dropped");
            ack(&message.acker).await;
            return true;
        };
        let origin = DeadLetterOrigin {
            reason,
            deliveries: message.deliveries,
            address: queue,
        };
        let headers = dead_letter_headers(&message.message.headers, origin, &[]);
        let payload = message.message.payload.clone().unwrap_or_default();
        loop {
            let outbound = Outbound::of(&to, &headers, &amgi_core::Bindings::new());
            match self.publisher.publish_to(outbound, &payload).await {
                Ok(()) => {
                    tracing::warn!(queue, dead_letter_queue = %to, reason, "message dead-lettered");
                    ack(&message.acker).await;
                    return true;
                }
                Err(error) => {
                    tracing::error!(queue, dead_letter_queue = %to, %error, "dead letter not published: trying again");
                }
            }
            let wait = tokio::time::sleep(DEAD_LETTER_RETRY);
            if self.stop.run_until_stopped(wait).await.is_none() {
                return false;
            }
        }
    }
}

/// Acks a delivery; on a lost connection it cannot be, and the broker delivers it again.
async fn ack(acker: &Acker) {
    if let Err(error) = acker.ack(BasicAckOptions::default()).await {
        tracing::debug!(%error, "ack not sent: the message will be delivered again");
    }
}
