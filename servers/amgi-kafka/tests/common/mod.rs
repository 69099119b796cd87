//! Helpers shared by the integration tests: the broker check, unique names, topic creation,
//! producing and reading from outside the server, committed offsets, and a recording app.
#![allow(dead_code, unreachable_pub)] // each test file uses a different part

use std::future::Future;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use amgi_core::{
    Application, ApplicationError, Binding, Headers, MessageReceive, ReceiveEvent, Receiver, Scope,
    SendEvent, SharedSender,
};
use amgi_kafka::{RetryPolicy, Server};
use bytes::Bytes;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers as _, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio::sync::Notify;

/// The broker `scripts/brokers-up` starts.
pub const BOOTSTRAP: &str = "127.0.0.1:9092";

/// Upper bound of any one test.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(90);

/// Upper bound of any one wait inside a test.
pub const WAIT: Duration = Duration::from_secs(30);

/// Fails unless a Kafka-protocol broker listens on 127.0.0.1:9092.
pub fn require_broker() {
    let address: SocketAddr = BOOTSTRAP.parse().unwrap();
    if let Err(error) = TcpStream::connect_timeout(&address, Duration::from_secs(2)) {
        panic!(
            "no Kafka-protocol broker on {BOOTSTRAP} ({error}); start one with `scripts/brokers-up`"
        );
    }
}

/// Runs `test` after the broker check, failing if it takes longer than [`TEST_TIMEOUT`].
///
/// A watchdog thread backs the Tokio timeout up: should the runtime itself be blocked (a
/// consumer drop hanging on a runtime thread, say), the process aborts with a message instead of
/// hanging the CI job.
pub async fn bounded<F: Future<Output = ()>>(test: F) {
    require_broker();
    // RUST_LOG=amgi_kafka=debug shows what the server does.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let (finished, watchdog) = std::sync::mpsc::channel::<()>();
    let name = std::thread::current().name().unwrap_or("test").to_owned();
    std::thread::spawn(move || {
        let limit = TEST_TIMEOUT + Duration::from_secs(15);
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = watchdog.recv_timeout(limit) {
            eprintln!(
                "{name}: blocked for {} s; aborting the test process",
                limit.as_secs()
            );
            std::process::abort();
        }
    });
    let outcome = tokio::time::timeout(TEST_TIMEOUT, test).await;
    drop(finished);
    assert!(
        outcome.is_ok(),
        "test did not finish within {} s",
        TEST_TIMEOUT.as_secs()
    );
}

/// Waits until `condition` holds, checking every 20 ms, failing after [`WAIT`].
pub async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A name no other test (or earlier run against the same broker) uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates `topic` with `partitions` partitions (an existing topic is fine).
pub async fn create_topic(topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", BOOTSTRAP)
        .create()
        .unwrap();
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("create_topics request");
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => panic!("cannot create topic {name}: {code}"),
        }
    }
}

/// A fresh topic with `partitions` partitions.
pub async fn fresh_topic(prefix: &str, partitions: i32) -> String {
    let topic = unique(prefix);
    create_topic(&topic, partitions).await;
    topic
}

/// A server with the settings every test uses: the local broker, fast group joins
/// (BROKERS.md: Tansu's `JoinGroup` waits about `session.timeout.ms`/2), frequent commits and
/// quick retries.
pub fn server<A: Application>(app: A, topics: &[&str], group: &str) -> Server<A> {
    Server::new(app, topics.iter().copied())
        .bootstrap_servers(BOOTSTRAP)
        .group_id(group)
        .set("session.timeout.ms", "2000")
        .set("heartbeat.interval.ms", "500")
        .commit_interval(Duration::from_millis(200))
        .retry(RetryPolicy::new(3).backoff(Duration::from_millis(50), Duration::from_millis(200)))
        .connect_timeout(Duration::from_secs(5))
        .join_timeout(Duration::from_secs(20))
        .drain_timeout(Duration::from_secs(10))
        .close_timeout(Duration::from_secs(10))
}

/// A record to produce from outside the server.
#[derive(Debug, Clone, Default)]
pub struct Out {
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub partition: Option<i32>,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Out {
    pub fn text(payload: &str) -> Self {
        Self {
            payload: payload.as_bytes().to_vec(),
            ..Self::default()
        }
    }

    pub fn key(mut self, key: &str) -> Self {
        self.key = Some(key.as_bytes().to_vec());
        self
    }

    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    pub fn header(mut self, name: &str, value: &[u8]) -> Self {
        self.headers.push((name.to_owned(), value.to_vec()));
        self
    }
}

pub fn producer() -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", BOOTSTRAP)
        .set("linger.ms", "1")
        .create()
        .unwrap()
}

/// Produces `records` to `topic`, each delivery awaited; returns their (partition, offset).
pub async fn produce(topic: &str, records: impl IntoIterator<Item = Out>) -> Vec<(i32, i64)> {
    let producer = producer();
    let records: Vec<Out> = records.into_iter().collect();
    let mut deliveries = Vec::new();
    for out in &records {
        let mut headers = OwnedHeaders::new();
        for (name, value) in &out.headers {
            headers = headers.insert(Header {
                key: name,
                value: Some(value),
            });
        }
        let mut record = FutureRecord::<[u8], [u8]>::to(topic)
            .payload(&out.payload)
            .headers(headers);
        if let Some(key) = &out.key {
            record = record.key(key);
        }
        if let Some(partition) = out.partition {
            record = record.partition(partition);
        }
        deliveries.push(producer.send_result(record).expect("enqueue"));
    }
    let mut positions = Vec::new();
    for delivery in deliveries {
        let delivery = delivery.await.unwrap().expect("delivery");
        positions.push((delivery.partition, delivery.offset));
    }
    producer.flush(Duration::from_secs(5)).unwrap();
    positions
}

/// The committed offsets of `group` on partitions `0..partitions` of `topic` (-1 = none).
pub async fn committed(group: &str, topic: &str, partitions: i32) -> Vec<i64> {
    let group = group.to_owned();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", BOOTSTRAP)
            .set("group.id", &group)
            .create()
            .unwrap();
        let mut list = TopicPartitionList::new();
        list.add_partition_range(&topic, 0, partitions - 1);
        let offsets = consumer
            .committed_offsets(list, Duration::from_secs(10))
            .expect("committed offsets");
        // BROKERS.md: dropping a consumer with a group.id can hang; not on this thread.
        std::thread::spawn(move || drop(consumer));
        let mut result = vec![-1; usize::try_from(partitions).unwrap()];
        for element in offsets.elements() {
            if let Offset::Offset(offset) = element.offset() {
                result[usize::try_from(element.partition()).unwrap()] = offset;
            }
        }
        result
    })
    .await
    .unwrap()
}

/// The offset after the last delivered record of each partition `0..partitions` (0 for a
/// partition that got none): what a group that handled everything has committed.
///
/// (Computed from delivery reports: Tansu's `ListOffsets` answers are not usable as watermarks.)
pub fn ends(deliveries: &[(i32, i64)], partitions: i32) -> Vec<i64> {
    let mut ends = vec![0; usize::try_from(partitions).unwrap()];
    for &(partition, offset) in deliveries {
        let end = &mut ends[usize::try_from(partition).unwrap()];
        *end = (*end).max(offset + 1);
    }
    ends
}

/// Reads `count` messages from every partition of `topic` from the beginning (assigned
/// directly, nothing committed), failing after [`WAIT`].
pub async fn read(topic: &str, count: usize) -> Vec<OwnedMessage> {
    let messages = read_for(topic, count, WAIT).await;
    assert_eq!(
        messages.len(),
        count,
        "read {} of {count} messages from {topic} within {} s",
        messages.len(),
        WAIT.as_secs()
    );
    messages
}

/// Reads up to `count` messages of `topic` from the beginning, for at most `wait`.
pub async fn read_for(topic: &str, count: usize, wait: Duration) -> Vec<OwnedMessage> {
    let topic = topic.to_owned();
    let group = unique("reader");
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", BOOTSTRAP)
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let deadline = Instant::now() + wait;
        let partitions = loop {
            let metadata = consumer
                .fetch_metadata(Some(&topic), Duration::from_secs(5))
                .expect("metadata");
            let count = metadata
                .topics()
                .first()
                .map_or(0, |t| t.partitions().len());
            if count > 0 {
                break i32::try_from(count).unwrap();
            }
            assert!(Instant::now() < deadline, "topic {topic} never appeared");
            std::thread::sleep(Duration::from_millis(100));
        };
        let mut list = TopicPartitionList::new();
        for partition in 0..partitions {
            list.add_partition_offset(&topic, partition, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&list).unwrap();
        let mut messages = Vec::new();
        while messages.len() < count && Instant::now() < deadline {
            if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                messages.push(message.expect("consume").detach());
            }
        }
        // BROKERS.md: dropping a consumer with a group.id can hang; not on this thread.
        std::thread::spawn(move || drop(consumer));
        messages
    })
    .await
    .unwrap()
}

/// The headers of a read message as `(name, value)` pairs.
pub fn headers_of(message: &OwnedMessage) -> Vec<(String, Vec<u8>)> {
    message.headers().map_or_else(Vec::new, |headers| {
        headers
            .iter()
            .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
            .collect()
    })
}

/// The value of the first header called `name`, as text.
pub fn header_text(message: &OwnedMessage, name: &str) -> Option<String> {
    headers_of(message)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| String::from_utf8(v).unwrap())
}

/// One delivery, as a [`Recorder`] saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Bytes>,
    pub payload: Option<Bytes>,
    pub headers: Headers,
    pub batch_size: usize,
}

impl Seen {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.payload.as_deref().unwrap_or_default()).into_owned()
    }
}

type Decide = dyn Fn(&Seen, &[Seen]) -> Option<String> + Send + Sync;

/// A raw AMGI application that records every delivery and acks it, or nacks it with the
/// reason `decide` returns (given the delivery and every earlier one).
pub struct Recorder {
    seen: Mutex<Vec<Seen>>,
    changed: Notify,
    decide: Box<Decide>,
    delay: Box<dyn Fn(i32) -> Duration + Send + Sync>,
}

impl Recorder {
    pub fn acking() -> Arc<Self> {
        Self::deciding(|_, _| None)
    }

    pub fn deciding(
        decide: impl Fn(&Seen, &[Seen]) -> Option<String> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            seen: Mutex::new(Vec::new()),
            changed: Notify::new(),
            decide: Box::new(decide),
            delay: Box::new(|_| Duration::ZERO),
        })
    }

    /// Acks every message after sleeping `delay`.
    pub fn slow(delay: Duration) -> Arc<Self> {
        Self::slow_on(move |_| delay)
    }

    /// Acks every message after sleeping `delay(partition)`.
    pub fn slow_on(delay: impl Fn(i32) -> Duration + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            seen: Mutex::new(Vec::new()),
            changed: Notify::new(),
            decide: Box::new(|_, _| None),
            delay: Box::new(delay),
        })
    }

    pub fn seen(&self) -> MutexGuard<'_, Vec<Seen>> {
        self.seen.lock().unwrap()
    }

    /// Waits until `condition` holds on the deliveries so far, failing after [`WAIT`].
    pub async fn wait_for(&self, what: &str, condition: impl Fn(&[Seen]) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if condition(&self.seen()) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let seen: Vec<_> = self
                    .seen()
                    .iter()
                    .map(|s| format!("{}[{}]@{}={}", s.topic, s.partition, s.offset, s.text()))
                    .collect();
                panic!("timed out waiting for {what}; seen: {seen:?}");
            }
        }
    }
}

impl Application for Recorder {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        let Scope::Message(scope) = scope else {
            return Err(ApplicationError::unsupported_scope(scope.kind()));
        };
        assert!(scope.ordered, "Kafka batches are ordered");
        let mut batch: Vec<MessageReceive> = Vec::new();
        loop {
            let ReceiveEvent::Message(message) = receive.receive().await? else {
                continue;
            };
            let more = message.more_messages;
            batch.push(message);
            if !more {
                break;
            }
        }
        let size = batch.len();
        for message in batch {
            let Some(Binding::Kafka(binding)) = &message.binding else {
                panic!("every message carries a Kafka binding");
            };
            let delay = (self.delay)(binding.partition.unwrap());
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let seen = Seen {
                topic: scope.address.to_string(),
                partition: binding.partition.unwrap(),
                offset: binding.offset.unwrap(),
                key: binding.key.clone(),
                payload: message.payload.clone(),
                headers: message.headers.clone(),
                batch_size: size,
            };
            let verdict = {
                let mut all = self.seen();
                let verdict = (self.decide)(&seen, &all);
                all.push(seen);
                verdict
            };
            self.changed.notify_waiters();
            match verdict {
                None => send.send(SendEvent::ack(message.id)).await?,
                Some(reason) => send.send(SendEvent::nack(message.id, reason)).await?,
            }
        }
        Ok(())
    }
}
