//! [`Server`]: connects, subscribes, runs batches through the application and maps the
//! outcomes onto MQTT 5 (`PUBACK`, in-process redelivery, dead-letter topics).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use amgi_core::batch::{BatchDispatcher, NOT_ACKNOWLEDGED, Outcome, Publisher};
use amgi_core::extension::{NackRetrySupport, ServerPublisher};
use amgi_core::lifespan::{Lifespan, LifespanOptions};
use amgi_core::{Application, LifespanScope, MessageScope, StateMap};
use amgi_server::{DeadLetterOrigin, LANE_KEY_HEADER, Settlement, StopSignal, dead_letter_headers};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use crate::binding::Outbound;
use crate::client::{self, Client};
use crate::connection::{self, Acker, Batch, Driver, Received};
use crate::error::MqttErrorKind;
use crate::publisher::{MqttPublisher, Waiters};
use crate::{MqttConfig, MqttError, Protocol, Qos};

/// Requests (publishes, `PUBACK`s) queued for the event loop at most.
const REQUEST_CAPACITY: usize = 256;

/// Delay between attempts to publish a dead letter the broker did not accept.
const DEAD_LETTER_RETRY: Duration = Duration::from_secs(1);

/// An MQTT 5 server for an AMGI application: QoS 1, at least once, on a persistent session.
///
/// ```no_run
/// # async fn f(app: amgi_core::BoxApplication) -> Result<(), amgi_mqtt::MqttError> {
/// use amgi_mqtt::{MqttConfig, Server};
///
/// let config = MqttConfig::new("127.0.0.1", 1883, "orders-1").topics(["orders/created"]);
/// let handle = Server::new(app, config).start().await?;
/// // … serve until it is time to stop …
/// handle.shutdown().await?;
/// # Ok(()) }
/// ```
pub struct Server<A> {
    app: A,
    config: MqttConfig,
}

impl<A: Application> Server<A> {
    /// A server running `app` with `config`.
    pub fn new(app: A, config: MqttConfig) -> Self {
        Self { app, config }
    }

    /// Connects (failing as [`Unreachable`](MqttErrorKind::Unreachable) within the connect
    /// timeout when the broker is down), runs lifespan startup with a `ServerPublisher`,
    /// subscribes, and serves in the background until [`ServerHandle::shutdown`].
    pub async fn start(self) -> Result<ServerHandle, MqttError> {
        let Self { app, config } = self;
        let address = config.broker_address();
        let (client, mut eventloop) = client::open(&config, REQUEST_CAPACITY)?;
        let tls = config.tls.is_some();
        connection::connect(&mut eventloop, &address, config.connect_timeout, tls).await?;

        let waiters = Arc::new(Waiters::default());
        let (acker, ack_task) = Acker::start(client.clone());
        let (batches_tx, batches) = mpsc::unbounded_channel();
        let (subscribed_tx, subscribed) = oneshot::channel();
        let closing = Arc::new(AtomicBool::new(false));
        let filters = config.subscription_filters();
        let driver = Driver {
            eventloop,
            client: client.clone(),
            filters: filters.clone(),
            qos: config.qos,
            waiters: Arc::clone(&waiters),
            acker: Arc::clone(&acker),
            batches: batches_tx,
            batch_size: config.batch_size,
            dead_letter: config.dead_letter.clone(),
            exact: (config.topics.iter())
                .filter(|topic| !topic.contains(['+', '#']))
                .cloned()
                .collect(),
            subscribed: Some(subscribed_tx),
            closing: Arc::clone(&closing),
            next_seq: 0,
        };
        let driver = tokio::spawn(driver.run());
        let connected = Connected {
            client,
            driver,
            ack_task,
            acker,
            closing,
            close: config.deadlines.close,
        };

        let (app, state) = (Arc::new(app), StateMap::new());
        let publisher = Arc::new(MqttPublisher::new(
            connected.client.clone(),
            waiters,
            config.qos,
        ));
        let scope = LifespanScope::new(state.clone())
            .with_extension(ServerPublisher(Arc::clone(&publisher) as Arc<dyn Publisher>));
        let lifespan = match Lifespan::startup_scope(
            Arc::clone(&app),
            scope,
            LifespanOptions::default(),
        )
        .await
        {
            Ok(lifespan) => lifespan,
            Err(error) => {
                connected.close().await;
                return Err(MqttError::new(
                    MqttErrorKind::Startup,
                    format!("lifespan startup failed: {error}"),
                    Some(Box::new(error)),
                ));
            }
        };

        // The consumer runs before the SUBACK arrives: a broker that resumes a session sends
        // what it queued for it first, and the SUBACK only after (with a large backlog, the
        // whole of it).
        let stop = Arc::new(StopSignal::default());
        let consumer = Consumer {
            dispatcher: BatchDispatcher::new(app, publisher.clone() as Arc<dyn Publisher>),
            publisher,
            acker: Arc::clone(&connected.acker),
            config: config.clone(),
            state,
            stop: Arc::clone(&stop),
        };
        let consumer = tokio::spawn(Arc::new(consumer).run(batches));
        let handle = ServerHandle {
            stop,
            consumer,
            lifespan,
            connected,
            drain: config.deadlines.drain,
        };
        if let Err(error) = subscribe(&handle.connected.client, filters, subscribed, &config).await
        {
            if let Err(shutdown) = handle.shutdown().await {
                tracing::error!(%shutdown, "stopping after the refused subscription");
            }
            return Err(error);
        }
        tracing::info!(broker = %address, client_id = %config.client_id,
            topics = ?config.topics, group = ?config.group, batch_size = config.batch_size,
            max_deliveries = config.retry.max_deliveries, qos = config.qos.number(), lanes = ?config.lanes,
            protocol = ?config.protocol, "serving on MQTT");
        Ok(handle)
    }
}
/// Subscribes to `filters` and waits for the broker's `SUBACK` (reported by the event loop
/// through `subscribed`), within the connect timeout.
async fn subscribe(
    client: &Client,
    filters: Vec<String>,
    subscribed: oneshot::Receiver<Result<(), MqttError>>,
    config: &MqttConfig,
) -> Result<(), MqttError> {
    if filters.is_empty() {
        return Ok(());
    }
    client
        .subscribe(&filters, config.qos)
        .await
        .map_err(|error| MqttError::new(MqttErrorKind::Subscribe, error.to_string(), None))?;
    match tokio::time::timeout(config.connect_timeout, subscribed).await {
        Ok(Ok(answer)) => answer,
        _ => Err(MqttError::new(
            MqttErrorKind::Subscribe,
            format!(
                "no SUBACK from {} within {:?}",
                config.broker_address(),
                config.connect_timeout
            ),
            None,
        )),
    }
}

/// The connection's tasks, closed in order on shutdown.
struct Connected {
    client: Client,
    driver: JoinHandle<()>,
    ack_task: JoinHandle<()>,
    acker: Arc<Acker>,
    closing: Arc<AtomicBool>,
    close: Duration,
}

impl Connected {
    /// Hands over the `PUBACK`s due, disconnects (the session stays on the broker, with what
    /// was not acknowledged), and waits for the event loop, within the close deadline.
    async fn close(self) {
        let closing = async {
            self.acker.close();
            let _ = self.ack_task.await;
            self.closing.store(true, Ordering::Release);
            let _ = self.client.disconnect().await;
            let _ = (&mut { self.driver }).await;
        };
        if tokio::time::timeout(self.close, closing).await.is_err() {
            tracing::warn!(close = ?self.close, "closing the MQTT connection took too long");
        }
    }
}

/// A running [`Server`]; [`shutdown`](Self::shutdown) stops it gracefully.
#[must_use = "dropping the handle leaves the server running without a way to stop it"]
pub struct ServerHandle {
    stop: Arc<StopSignal>,
    consumer: JoinHandle<()>,
    lifespan: Lifespan,
    connected: Connected,
    drain: Duration,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle").finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// Stops taking batches, gives those in hand the drain deadline (what is unfinished then
    /// is not acknowledged: the broker delivers it again on the next connection of this client
    /// id), runs lifespan shutdown and disconnects.
    pub async fn shutdown(self) -> Result<(), MqttError> {
        self.stop.set();
        let mut consumer = self.consumer;
        if tokio::time::timeout(self.drain, &mut consumer)
            .await
            .is_err()
        {
            consumer.abort();
            tracing::warn!(drain = ?self.drain, "drain deadline passed: batches in hand not acknowledged");
        }
        let shutdown = self.lifespan.shutdown().await;
        self.connected.close().await;
        shutdown.map_err(|error| {
            MqttError::new(
                MqttErrorKind::Shutdown,
                format!("lifespan shutdown failed: {error}"),
                Some(Box::new(error)),
            )
        })
    }
}

/// Runs the batches of each topic in order, topics side by side.
struct Consumer<A> {
    dispatcher: BatchDispatcher<A>,
    publisher: Arc<MqttPublisher>,
    acker: Arc<Acker>,
    config: MqttConfig,
    state: StateMap,
    stop: Arc<StopSignal>,
}

impl<A: Application> Consumer<A> {
    /// Routes each batch to its topic's task until stopped, then waits for those tasks.
    async fn run(self: Arc<Self>, mut batches: mpsc::UnboundedReceiver<Batch>) {
        let mut topics: HashMap<String, mpsc::UnboundedSender<Vec<Received>>> = HashMap::new();
        let mut tasks = JoinSet::new();
        while let Some(Some(batch)) = self.stop.run_until_stopped(batches.recv()).await {
            let sender = topics.entry(batch.topic.clone()).or_insert_with(|| {
                let (sender, receiver) = mpsc::unbounded_channel();
                tasks.spawn(Arc::clone(&self).topic(batch.topic.clone(), receiver));
                sender
            });
            let _ = sender.send(batch.messages);
        }
        drop(topics);
        while tasks.join_next().await.is_some() {}
    }

    /// The batches of one topic, one after the other.
    async fn topic(
        self: Arc<Self>,
        topic: String,
        mut batches: mpsc::UnboundedReceiver<Vec<Received>>,
    ) {
        if let Some(lanes) = self.config.lanes {
            return self.topic_in_lanes(topic, batches, lanes).await;
        }
        while let Some(Some(batch)) = self.stop.run_until_stopped(batches.recv()).await {
            self.handle(&topic, batch).await;
        }
    }

    /// Runs one batch until each message is acked or dead-lettered, or the server stops (what
    /// is left is not acknowledged).
    async fn handle(&self, topic: &str, mut pending: Vec<Received>) {
        while !pending.is_empty() {
            let scope = MessageScope::new(topic)
                .ordered(true)
                .with_state(self.state.clone())
                .with_extension(NackRetrySupport);
            let messages = pending.iter().map(|r| r.message.clone()).collect();
            let report = self.dispatcher.dispatch(scope, messages).await;
            let (mut again, mut delay) = (Vec::new(), Duration::ZERO);
            for (mut received, outcome) in pending.into_iter().zip(report.outcomes) {
                if !outcome.is_skipped() {
                    received.deliveries += 1;
                }
                match self.config.retry.settle(outcome, received.deliveries) {
                    Settlement::Ack => self.acker.complete(received.seq),
                    Settlement::Redeliver { delay: after, .. } => {
                        delay = delay.max(after);
                        again.push(received);
                    }
                    Settlement::DeadLetter(reason) => {
                        if self.dead_letter(topic, &received, &reason).await {
                            self.acker.complete(received.seq);
                        } else {
                            return; // stopped before the broker took it
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

    /// The messages of one topic in keyed lanes, as they arrive: up to `lanes` at once, never
    /// two with the same `amgi-lane-key` header, those of one key in arrival order (a message
    /// without the header keeps no order). Unlike the toolkit's `run_in_lanes`, which runs a
    /// fixed set, new batches join while others run, so a stalled key holds back only its own
    /// messages. The acker sends the `PUBACK`s in arrival order. On stop, nothing new starts.
    async fn topic_in_lanes(
        self: Arc<Self>,
        topic: String,
        mut batches: mpsc::UnboundedReceiver<Vec<Received>>,
        lanes: usize,
    ) {
        let key_of = |received: &Received| {
            (received.message.headers)
                .get(LANE_KEY_HEADER.as_bytes())
                .cloned()
        };
        let mut waiting: VecDeque<(Option<Bytes>, Received)> = VecDeque::new();
        let mut busy: HashSet<Bytes> = HashSet::new();
        let mut passed: HashSet<Bytes> = HashSet::new();
        let mut running = FuturesUnordered::new();
        let mut open = true;
        loop {
            // Start what may start, in arrival order; a key passed over holds back its later
            // messages too.
            passed.clear();
            let mut index = 0;
            while index < waiting.len() && running.len() < lanes {
                let free = (waiting[index].0.as_ref())
                    .is_none_or(|key| !busy.contains(key) && !passed.contains(key));
                if free {
                    let Some((key, received)) = waiting.remove(index) else {
                        break;
                    };
                    if let Some(key) = &key {
                        busy.insert(key.clone());
                    }
                    let (this, topic) = (&self, &topic);
                    running.push(async move { (key, this.one(topic, received).await) });
                } else {
                    if let Some(key) = &waiting[index].0 {
                        passed.insert(key.clone());
                    }
                    index += 1;
                }
            }
            tokio::select! {
                batch = self.stop.run_until_stopped(batches.recv()), if open => {
                    if let Some(Some(batch)) = batch {
                        waiting.extend(batch.into_iter().map(|r| (key_of(&r), r)));
                    } else {
                        open = false;
                        waiting.clear(); // not acknowledged: delivered again
                    }
                }
                Some((key, finished)) = running.next(), if !running.is_empty() => {
                    if let Some(key) = key {
                        busy.remove(&key);
                    }
                    if let Some(seq) = finished {
                        self.acker.complete(seq);
                    }
                }
                else => return,
            }
        }
    }

    /// Dispatches `received` alone until it is acked or dead-lettered (its number, to
    /// acknowledge), or the server stops (`None`: not acknowledged).
    async fn one(&self, topic: &str, mut received: Received) -> Option<i64> {
        loop {
            let scope = MessageScope::new(topic)
                .ordered(true)
                .with_state(self.state.clone())
                .with_extension(NackRetrySupport);
            let report = (self.dispatcher)
                .dispatch(scope, vec![received.message.clone()])
                .await;
            // A batch of one is never skipped; a missing outcome was not answered.
            let outcome = (report.outcomes.into_iter().next())
                .unwrap_or_else(|| Outcome::nacked(NOT_ACKNOWLEDGED));
            received.deliveries += 1;
            match self.config.retry.settle(outcome, received.deliveries) {
                Settlement::Ack => return Some(received.seq),
                Settlement::Redeliver { delay, .. } => {
                    let wait = tokio::time::sleep(delay);
                    self.stop.run_until_stopped(wait).await?;
                }
                Settlement::DeadLetter(reason) => {
                    let published = self.dead_letter(topic, &received, &reason).await;
                    return published.then_some(received.seq);
                }
            }
        }
    }

    /// Publishes `received` to its dead-letter topic with the reason in its user properties,
    /// trying again until the broker acks it; `false` when stopped first. With dead-lettering
    /// disabled, the message is dropped (and logged).
    async fn dead_letter(&self, topic: &str, received: &Received, reason: &str) -> bool {
        let Some(to) = self.config.dead_letter.address_for(topic) else {
            tracing::error!(topic, reason, "dead-lettering is disabled: message dropped");
            return true;
        };
        let origin = DeadLetterOrigin {
            reason,
            deliveries: received.deliveries,
            address: topic,
        };
        // MQTT 3.1.1 has no user properties: its dead letters go without headers (the reason is
        // logged below).
        let headers = match self.config.protocol {
            Protocol::V5 => dead_letter_headers(&received.message.headers, origin, &[]),
            Protocol::V311 => amgi_core::Headers::new(),
        };
        let payload = received.message.payload.clone().unwrap_or_default();
        loop {
            let outbound = Outbound {
                qos: Qos::AtLeastOnce,
                retain: false,
                properties: PublishProperties::default(),
            };
            let publish = self
                .publisher
                .publish_to(&to, &headers, payload.clone(), outbound);
            match publish.await {
                Ok(()) => {
                    tracing::warn!(topic, dead_letter_topic = %to, reason, "message dead-lettered");
                    return true;
                }
                Err(error) => {
                    tracing::error!(topic, dead_letter_topic = %to, %error, "dead letter not published: trying again");
                }
            }
            let wait = tokio::time::sleep(DEAD_LETTER_RETRY);
            if self.stop.run_until_stopped(wait).await.is_none() {
                return false;
            }
        }
    }
}
