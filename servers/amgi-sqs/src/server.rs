//! [`Server`]: one long-poll loop per queue, batches in flight, and the mapping of ack, nack,
//! skip and send onto `DeleteMessageBatch`, `ChangeMessageVisibility`, the dead-letter queue
//! and `SendMessageBatch`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amgi_core::batch::{BatchDispatcher, BatchReport, IncomingMessage, Publisher};
use amgi_core::extension::{NackRetrySupport, ServerPublisher};
use amgi_core::lifespan::{Lifespan, LifespanOptions};
use amgi_core::{Application, LifespanScope, MessageScope, StateMap};
use amgi_server::{DeadLetterOrigin, RetryPolicy, Settlement, StopSignal, dead_letter_headers};
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use tokio::sync::{OnceCell, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use crate::batcher::Batcher;
use crate::calls::{Deletes, Outgoing, Sends, change_visibility, whole_seconds};
use crate::client::Sqs;
use crate::config::is_fifo_name;
use crate::publisher::SqsPublisher;
use crate::{Error, ErrorKind, SqsConfig, message};

/// The dead-letter header naming the SQS message id the message had in its queue.
pub const MESSAGE_ID_HEADER: &str = "amgi-dead-letter-sqs-message-id";

/// How long a queue's loop waits after a failed receive before it receives again.
const RECEIVE_RETRY: Duration = Duration::from_secs(1);

/// Serves an AMGI application on Amazon SQS, at least once.
///
/// ```no_run
/// # async fn f(app: impl amgi_core::Application) -> Result<(), amgi_sqs::Error> {
/// use amgi_sqs::{Server, SqsConfig};
///
/// let config = SqsConfig::new().queue("orders").endpoint_url("http://127.0.0.1:4566");
/// let handle = Server::new(app, config).start().await?;
/// handle.shutdown().await?;
/// # Ok(()) }
/// ```
pub struct Server<A> {
    app: Arc<A>,
    config: SqsConfig,
    lifespan: LifespanOptions,
}

impl<A> fmt::Debug for Server<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A queue's `RedrivePolicy`: SQS moves a message to `target` after `max_receive_count`
/// receives.
#[derive(Debug, Clone)]
struct Redrive {
    target_arn: String,
    max_receive_count: u32,
}

impl Redrive {
    fn parse(policy: &str) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_str(policy).ok()?;
        let target_arn = value.get("deadLetterTargetArn")?.as_str()?.to_owned();
        let count = value.get("maxReceiveCount")?;
        let max_receive_count = count
            .as_u64()
            .or_else(|| count.as_str().and_then(|s| s.parse().ok()))?;
        Some(Self {
            target_arn,
            max_receive_count: u32::try_from(max_receive_count).unwrap_or(u32::MAX),
        })
    }

    /// The target queue's name: the last part of its ARN.
    fn target_name(&self) -> &str {
        self.target_arn.rsplit(':').next().unwrap_or_default()
    }
}

/// A consumed queue, as resolved at start.
struct Queue {
    address: String,
    name: String,
    url: Arc<str>,
    fifo: bool,
    /// The visibility timeout in force for received messages.
    visibility: Duration,
    redrive: Option<Redrive>,
    /// The dead-letter queue's URL, resolved (and created) at the first dead letter.
    dead_letter_url: OnceCell<Arc<str>>,
}

impl Queue {
    /// Resolves `queue` (name or URL) and reads its attributes.
    async fn resolve(
        sqs: &Sqs,
        address: &str,
        queue: &str,
        config: &SqsConfig,
    ) -> Result<Self, Error> {
        let url = sqs.queue_url(queue).await?;
        let attributes = sqs.attributes(&url).await?;
        let name = url.rsplit('/').next().unwrap_or(queue).to_owned();
        let fifo = attributes
            .get(&QueueAttributeName::FifoQueue)
            .is_some_and(|v| v == "true")
            || is_fifo_name(&name);
        let queue_visibility = attributes
            .get(&QueueAttributeName::VisibilityTimeout)
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_secs(30), Duration::from_secs);
        let redrive = attributes
            .get(&QueueAttributeName::RedrivePolicy)
            .and_then(|policy| Redrive::parse(policy));
        Ok(Self {
            address: address.to_owned(),
            name,
            url,
            fifo,
            visibility: config.visibility_timeout.unwrap_or(queue_visibility),
            redrive,
            dead_letter_url: OnceCell::new(),
        })
    }

    /// The dead-letter queue's name: the redrive target, or `<name><suffix>[.fifo]`.
    fn dead_letter_name(&self, suffix: &str) -> String {
        if let Some(redrive) = &self.redrive {
            return redrive.target_name().to_owned();
        }
        match self.name.strip_suffix(".fifo") {
            Some(stem) => format!("{stem}{suffix}.fifo"),
            None => format!("{}{suffix}", self.name),
        }
    }
}

impl<A: Application> Server<A> {
    /// A server running `app` with `config`.
    ///
    /// ```no_run
    /// # fn f(app: impl amgi_core::Application) {
    /// let server = amgi_sqs::Server::new(app, amgi_sqs::SqsConfig::new().queue("orders"));
    /// # }
    /// ```
    pub fn new(app: A, config: SqsConfig) -> Self {
        Self {
            app: Arc::new(app),
            config,
            lifespan: LifespanOptions::default(),
        }
    }

    /// The timeouts of lifespan startup and shutdown.
    ///
    /// ```no_run
    /// # fn f(server: amgi_sqs::Server<amgi_core::BoxApplication>) {
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

    /// Resolves every queue (`GetQueueUrl`, `GetQueueAttributes`: FIFO, visibility timeout,
    /// `RedrivePolicy`), runs lifespan startup with a [`ServerPublisher`] in its scope, then
    /// long-polls every queue.
    ///
    /// ```no_run
    /// # async fn f(server: amgi_sqs::Server<amgi_core::BoxApplication>) -> Result<(), amgi_sqs::Error> {
    /// let handle = server.start().await?;
    /// # Ok(()) }
    /// ```
    pub async fn start(self) -> Result<ServerHandle, Error> {
        let config = self.config;
        config.validate()?;
        let sqs = Arc::new(Sqs::connect(&config).await);
        let mut queues = Vec::with_capacity(config.queues.len());
        for mapping in &config.queues {
            let resolving = Queue::resolve(&sqs, &mapping.address, &mapping.queue, &config);
            let queue = tokio::time::timeout(config.connect_timeout * 4, resolving)
                .await
                .map_err(|elapsed| {
                    Error::new(
                        ErrorKind::Unreachable,
                        format!(
                            "SQS unreachable at {}: no answer about queue `{}` within {:?} \
                             (set --endpoint-url and --region)",
                            sqs.endpoint,
                            mapping.queue,
                            config.connect_timeout * 4
                        ),
                        elapsed,
                    )
                })??;
            if let Some(redrive) = &queue.redrive {
                tracing::info!(queue = %queue.name, dead_letter_queue = redrive.target_name(),
                    max_receive_count = redrive.max_receive_count,
                    "the queue's RedrivePolicy moves dead letters");
            }
            queues.push(Arc::new(queue));
        }
        let deletes = Arc::new(Batcher::new(Deletes(Arc::clone(&sqs)), config.linger));
        let sends = Arc::new(Batcher::new(Sends(Arc::clone(&sqs)), config.linger));
        let routes = config
            .routes
            .iter()
            .chain(&config.queues)
            .map(|m| (m.address.clone(), m.queue.clone()))
            .collect();
        let publisher: Arc<dyn Publisher> = Arc::new(SqsPublisher {
            sqs: Arc::clone(&sqs),
            routes,
            sends: Arc::clone(&sends),
        });
        let state = StateMap::new();
        let scope = LifespanScope::new(state.clone())
            .with_extension(ServerPublisher(Arc::clone(&publisher)));
        let lifespan = Lifespan::startup_scope(Arc::clone(&self.app), scope, self.lifespan)
            .await
            .map_err(|error| Error::startup(&error))?;
        let stop = Arc::new(StopSignal::default());
        let dispatcher = Arc::new(BatchDispatcher::new(self.app, publisher));
        let config = Arc::new(config);
        let mut tasks = Vec::with_capacity(queues.len());
        for queue in &queues {
            let consumer = Arc::new(Consumer {
                dispatcher: Arc::clone(&dispatcher),
                queue: Arc::clone(queue),
                config: Arc::clone(&config),
                sqs: Arc::clone(&sqs),
                deletes: Arc::clone(&deletes),
                sends: Arc::clone(&sends),
                state: state.clone(),
                stop: Arc::clone(&stop),
                skips: Mutex::new(HashMap::new()),
            });
            tasks.push(tokio::spawn(consumer.run()));
        }
        let names: Vec<String> = queues
            .iter()
            .map(|q| format!("{}={}", q.address, q.name))
            .collect();
        tracing::info!(endpoint = %sqs.endpoint, queues = ?names, batch_size = config.batch_size,
            in_flight = config.in_flight, max_deliveries = config.retry.max_deliveries,
            "serving on SQS");
        Ok(ServerHandle {
            stop,
            tasks,
            lifespan: Some(lifespan),
            deadlines: config.deadlines,
            deletes,
            sends,
        })
    }

    /// Starts the server, runs until `signal` completes, then shuts down gracefully (see
    /// [`ServerHandle::shutdown`]).
    ///
    /// ```no_run
    /// # async fn f(server: amgi_sqs::Server<amgi_core::BoxApplication>) -> Result<(), amgi_sqs::Error> {
    /// server.run_until(amgi_server::shutdown_signal()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn run_until<F: Future<Output = ()>>(self, signal: F) -> Result<(), Error> {
        let handle = self.start().await?;
        signal.await;
        handle.shutdown().await
    }
}

/// A running [`Server`].
///
/// Call [`ServerHandle::shutdown`] to stop it. Dropping the handle stops it **at once**, like a
/// crash: batches in hand are abandoned (not deleted: SQS delivers them again when their
/// visibility timeout ends), and lifespan shutdown is skipped.
#[must_use = "dropping the handle stops the server at once, without lifespan shutdown"]
pub struct ServerHandle {
    stop: Arc<StopSignal>,
    tasks: Vec<JoinHandle<()>>,
    lifespan: Option<Lifespan>,
    deadlines: amgi_server::Deadlines,
    deletes: Arc<Batcher<Deletes>>,
    sends: Arc<Batcher<Sends>>,
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("queues", &self.tasks.len())
            .field("stopping", &self.stop.is_set())
            .finish_non_exhaustive()
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop.set();
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl ServerHandle {
    /// Graceful shutdown: stops receiving, gives the batches in hand the
    /// [drain deadline](amgi_server::Deadlines::drain) (their acks are deleted), runs lifespan
    /// shutdown, then flushes the pending deletes and sends within the close deadline. Messages
    /// not acked by then are left to their visibility timeout: SQS delivers them again.
    ///
    /// ```no_run
    /// # async fn f(handle: amgi_sqs::ServerHandle) {
    /// handle.shutdown().await.expect("clean shutdown");
    /// # }
    /// ```
    pub async fn shutdown(mut self) -> Result<(), Error> {
        self.stop.set();
        let tasks = std::mem::take(&mut self.tasks);
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        let drain = self.deadlines.drain;
        let joined = tokio::time::timeout(drain, futures_util::future::join_all(tasks)).await;
        let consumed = if let Ok(results) = joined {
            results
                .into_iter()
                .find_map(Result::err)
                .map_or(Ok(()), |error| {
                    Err(Error::new(
                        ErrorKind::Consumer,
                        "a queue's consumer failed",
                        error,
                    ))
                })
        } else {
            tracing::warn!(
                ?drain,
                "drain deadline passed: messages in hand are left to their visibility timeout"
            );
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
            Ok(())
        };
        let lifespan = match self.lifespan.take() {
            Some(lifespan) => lifespan.shutdown().await,
            None => Ok(()),
        };
        let close = async {
            self.deletes.close().await;
            self.sends.close().await;
        };
        if tokio::time::timeout(self.deadlines.close, close)
            .await
            .is_err()
        {
            tracing::warn!(close = ?self.deadlines.close, "pending deletes and sends not flushed in time");
        }
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

/// The loop of one queue and the settlement of its batches.
struct Consumer<A> {
    dispatcher: Arc<BatchDispatcher<A>>,
    queue: Arc<Queue>,
    config: Arc<SqsConfig>,
    sqs: Arc<Sqs>,
    deletes: Arc<Batcher<Deletes>>,
    sends: Arc<Batcher<Sends>>,
    state: StateMap,
    stop: Arc<StopSignal>,
    /// Message id → deliveries that were skips (SQS counts them; AMGI does not).
    skips: Mutex<HashMap<String, u32>>,
}

impl<A: Application> Consumer<A> {
    /// Receives batches until the server stops, with up to `in_flight` of them in hand, then
    /// waits for those (the server's drain deadline bounds the wait).
    async fn run(self: Arc<Self>) {
        let permits = Arc::new(Semaphore::new(self.config.in_flight));
        let mut batches = JoinSet::new();
        loop {
            while let Some(done) = batches.try_join_next() {
                if let Err(error) = done {
                    tracing::error!(queue = %self.queue.name, %error, "a batch task failed");
                }
            }
            let acquire = Arc::clone(&permits).acquire_owned();
            let Some(Ok(permit)) = self.stop.run_until_stopped(acquire).await else {
                break;
            };
            let Some(received) = self.stop.run_until_stopped(self.receive()).await else {
                break;
            };
            let messages = match received {
                Ok(messages) => messages,
                Err(error) => {
                    tracing::warn!(queue = %self.queue.name, %error, "ReceiveMessage failed; receiving again");
                    let wait = tokio::time::sleep(RECEIVE_RETRY);
                    if self.stop.run_until_stopped(wait).await.is_none() {
                        break;
                    }
                    continue;
                }
            };
            if messages.is_empty() {
                continue;
            }
            let permit = Arc::new(permit);
            for (batch, ordered) in self.split(messages) {
                let (consumer, permit) = (Arc::clone(&self), Arc::clone(&permit));
                batches.spawn(async move {
                    consumer.handle(batch, ordered).await;
                    drop(permit);
                });
            }
        }
        while let Some(done) = batches.join_next().await {
            if let Err(error) = done {
                tracing::error!(queue = %self.queue.name, %error, "a batch task failed");
            }
        }
    }

    /// One long-poll `ReceiveMessage`.
    async fn receive(&self) -> Result<Vec<Message>, String> {
        let mut request = self
            .sqs
            .client
            .receive_message()
            .queue_url(&*self.queue.url)
            .max_number_of_messages(i32::try_from(self.config.batch_size).unwrap_or(10))
            .wait_time_seconds(whole_seconds(self.config.wait_time).min(20))
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All");
        if let Some(visibility) = self.config.visibility_timeout {
            request = request.visibility_timeout(whole_seconds(visibility));
        }
        let output = request
            .send()
            .await
            .map_err(|error| DisplayErrorContext(error).to_string())?;
        Ok(output.messages.unwrap_or_default())
    }

    /// The batches of one receive: all of it, unordered, on a standard queue; on a FIFO queue
    /// one ordered batch per message group, in receive order.
    fn split(&self, messages: Vec<Message>) -> Vec<(Vec<Message>, bool)> {
        if !self.queue.fifo {
            return vec![(messages, false)];
        }
        let mut groups: Vec<(Option<String>, Vec<Message>)> = Vec::new();
        for message in messages {
            let group = message::binding(&message).message_group_id;
            match groups.iter_mut().find(|(known, _)| *known == group) {
                Some((_, batch)) => batch.push(message),
                None => groups.push((group, vec![message])),
            }
        }
        groups.into_iter().map(|(_, batch)| (batch, true)).collect()
    }

    /// Runs one batch through the application (extending the messages' visibility while it
    /// runs long), then settles each message.
    async fn handle(&self, messages: Vec<Message>, ordered: bool) {
        let incoming: Vec<IncomingMessage> = messages.iter().map(message::decode).collect();
        let scope = MessageScope::new(self.queue.address.as_str())
            .ordered(ordered)
            .with_state(self.state.clone())
            .with_extension(NackRetrySupport);
        let receipts: Vec<String> = messages
            .iter()
            .filter_map(|m| m.receipt_handle().map(str::to_owned))
            .collect();
        let report = self
            .extending(&receipts, self.dispatcher.dispatch(scope, incoming.clone()))
            .await;
        self.settle(messages, incoming, report).await;
    }

    /// Runs `dispatch`, and every half visibility timeout while it runs, extends the visibility
    /// of `receipts` by a whole timeout, so that SQS does not deliver them again meanwhile.
    async fn extending(
        &self,
        receipts: &[String],
        dispatch: impl Future<Output = BatchReport>,
    ) -> BatchReport {
        let visibility = self.queue.visibility;
        if visibility.is_zero() {
            return dispatch.await;
        }
        let period = visibility / 2;
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tokio::pin!(dispatch);
        loop {
            tokio::select! {
                report = &mut dispatch => return report,
                _ = ticks.tick() => {
                    let seconds = whole_seconds(visibility);
                    let changes: Vec<_> = receipts.iter().map(|r| (r.clone(), seconds)).collect();
                    tracing::debug!(queue = %self.queue.name, messages = changes.len(), seconds,
                        "handler still running: visibility extended");
                    change_visibility(&self.sqs, &self.queue.url, &changes).await;
                }
            }
        }
    }

    /// The retry policy in force: with a `RedrivePolicy`, SQS dead-letters after its
    /// `maxReceiveCount`, so the server never does (except for nacks that ask for no retry).
    fn retry(&self) -> RetryPolicy {
        match &self.queue.redrive {
            Some(_) => self.config.retry.max_deliveries(u32::MAX),
            None => self.config.retry,
        }
    }

    /// Deletes acked messages (coalesced), changes the visibility of nacked (to the retry delay)
    /// and skipped (to 0) ones, and dead-letters the rest.
    async fn settle(
        &self,
        messages: Vec<Message>,
        incoming: Vec<IncomingMessage>,
        report: BatchReport,
    ) {
        let retry = self.retry();
        let mut deletes = Vec::new();
        let mut changes = Vec::new();
        for ((sqs_message, message), outcome) in messages.iter().zip(incoming).zip(report.outcomes)
        {
            let Some(receipt) = sqs_message.receipt_handle() else {
                continue;
            };
            let id = sqs_message.message_id().unwrap_or_default();
            let skipped = outcome.is_skipped();
            let deliveries = self.deliveries(id, message::receive_count(sqs_message));
            match retry.settle(outcome, deliveries) {
                Settlement::Ack => {
                    self.forget(id);
                    deletes.push(receipt.to_owned());
                }
                Settlement::Redeliver { delay, .. } => {
                    if skipped {
                        self.count_skip(id);
                    }
                    changes.push((receipt.to_owned(), whole_seconds(delay)));
                }
                Settlement::DeadLetter(reason) => {
                    if self
                        .dead_letter(sqs_message, message, &reason, deliveries)
                        .await
                    {
                        self.forget(id);
                        deletes.push(receipt.to_owned());
                    }
                }
            }
        }
        if !changes.is_empty() {
            change_visibility(&self.sqs, &self.queue.url, &changes).await;
        }
        let deleting = deletes
            .into_iter()
            .map(|receipt| self.deletes.submit(Arc::clone(&self.queue.url), receipt));
        for result in futures_util::future::join_all(deleting).await {
            if let Err(error) = result {
                tracing::error!(queue = %self.queue.name, %error,
                    "DeleteMessage failed: the message will be delivered again");
            }
        }
    }

    /// Deliveries that count: SQS's receive count less the skips this process saw.
    fn deliveries(&self, id: &str, received: u32) -> u32 {
        let skips = self
            .skips
            .lock()
            .ok()
            .and_then(|skips| skips.get(id).copied())
            .unwrap_or(0);
        received.saturating_sub(skips).max(1)
    }

    fn count_skip(&self, id: &str) {
        if let Ok(mut skips) = self.skips.lock() {
            *skips.entry(id.to_owned()).or_default() += 1;
        }
    }

    fn forget(&self, id: &str) {
        if let Ok(mut skips) = self.skips.lock() {
            skips.remove(id);
        }
    }

    /// Sends `message` to the dead-letter queue with the reason attributes; `true` once SQS
    /// accepted it (the original may then be deleted).
    async fn dead_letter(
        &self,
        sqs_message: &Message,
        message: IncomingMessage,
        reason: &str,
        deliveries: u32,
    ) -> bool {
        let queue = &self.queue;
        let name = queue.dead_letter_name(&self.config.dead_letter_suffix);
        let url = queue
            .dead_letter_url
            .get_or_try_init(|| self.sqs.ensure_queue(&name))
            .await;
        let url = match url {
            Ok(url) => Arc::clone(url),
            Err(error) => {
                tracing::error!(queue = %queue.name, dead_letter_queue = %name, %error,
                    "no dead-letter queue: the message will be delivered again");
                return false;
            }
        };
        let id = sqs_message.message_id().unwrap_or_default().to_owned();
        let origin = DeadLetterOrigin {
            reason,
            deliveries,
            address: &queue.address,
        };
        let headers =
            dead_letter_headers(&message.headers, origin, &[(MESSAGE_ID_HEADER, id.clone())]);
        let binding = message::binding(sqs_message);
        let fifo = is_fifo_name(&name);
        let outgoing = Outgoing {
            encoded: message::encode(&headers, message.payload.as_ref()),
            group_id: fifo.then(|| {
                binding
                    .message_group_id
                    .unwrap_or_else(|| "dead-letter".into())
            }),
            deduplication_id: fifo.then(|| id.clone()),
            delay_seconds: None,
        };
        match self.sends.submit(url, outgoing).await {
            Ok(()) => {
                tracing::warn!(queue = %queue.name, message_id = %id, dead_letter_queue = %name,
                    reason, deliveries, "message dead-lettered");
                true
            }
            Err(error) => {
                tracing::error!(queue = %queue.name, message_id = %id, dead_letter_queue = %name,
                    %error, "dead letter not sent: the message will be delivered again");
                false
            }
        }
    }
}
