//! Throughput of amgi-kafka against a hand-written rdkafka consumer, on the same broker and
//! the same messages, in the same run.
//!
//! ```text
//! scripts/brokers-up
//! cargo run --release -p amgi-kafka --example bench -- --messages 200000
//! ```
//!
//! Options: `--messages N` (default 200000), `--partitions N` (4), `--rounds N` (7),
//! `--bootstrap-servers HOST:PORT` (127.0.0.1:9092), `--batch-size N` (amgi-kafka's default),
//! `--only c` (run the variants whose name starts with `(c)`; for profiling), `-X key=value`
//! (a librdkafka property for every variant's consumer), `--topic NAME` (consume a topic an
//! earlier run filled with `--messages` messages instead of producing; for profiling).
//!
//! It produces the messages once to a fresh topic, then, for each round, lets every variant
//! consume all of them in a consumer group of its own. A variant's rate is messages divided by
//! the time from its first message to its last (group joins excluded). Every variant
//! deserialises the JSON payload into a struct and reads the `correlation-id` header, and
//! commits at-least-once (offsets stored only after handling, committed by interval and at the
//! end). Variants alternate their order from round to round; the median round is reported,
//! with the CPU time the whole process (librdkafka's threads included) spent per message.
//!
//! Variants: (a) a hand-written rdkafka loop, (b) a raw AMGI application on amgi-kafka, (c) the
//! AsyncFast quickstart handler (`Payload<UserCreated>` + `Header<String>`) on amgi-kafka.
//! Adding one is one more entry in [`variants`].
//!
//! Keyed lanes, a separate comparison (`--only lanes`; [`lanes_comparison`]): one partition,
//! `--lanes-messages N` (20000) messages, each with a distinct key, and a raw AMGI application
//! that awaits `tokio::time::sleep(1 ms)` per message and acks: (d) ordered (amgi-kafka's
//! default) against (e) `lanes = --lanes N` (32), each once, in a group of its own, printing
//! each rate and the ratio.
//!
//! ```text
//! cargo run --release -p amgi-kafka --example bench -- --only lanes
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use amgi_core::{
    Application, ApplicationError, ReceiveEvent, Receiver, Scope, SendEvent, SharedSender,
};
use asyncfast::prelude::*;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Header as KafkaHeader, Headers, Message as _, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use schemars::JsonSchema;
use serde::Deserialize;
use tokio::sync::Notify;

const PAYLOAD: &str = r#"{"id":12345,"email":"alice@example.com","tags":["new","trial","eu"]}"#;

/// The payload, as every variant decodes it.
#[derive(Debug, Deserialize, JsonSchema)]
#[allow(dead_code)] // read through `black_box`
struct UserCreated {
    id: u64,
    email: String,
    tags: Vec<String>,
}

#[derive(Debug, Clone)]
struct Options {
    messages: usize,
    partitions: i32,
    rounds: usize,
    bootstrap: String,
    batch_size: Option<usize>,
    only: Option<String>,
    properties: Vec<(String, String)>,
    topic: Option<String>,
    /// Keyed lanes for amgi-kafka (only the lanes comparison sets it).
    lanes: Option<usize>,
    /// `--lanes N`: the lanes of variant (e).
    lanes_e: usize,
    /// `--lanes-messages N`: messages of the lanes comparison.
    lanes_messages: usize,
}

impl Options {
    fn parse() -> Self {
        let mut options = Self {
            messages: 200_000,
            partitions: 4,
            rounds: 7,
            bootstrap: "127.0.0.1:9092".into(),
            batch_size: None,
            only: None,
            properties: Vec::new(),
            topic: None,
            lanes: None,
            lanes_e: 32,
            lanes_messages: 20_000,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let value = args
                .next()
                .unwrap_or_else(|| panic!("{flag} needs a value"));
            let number = || {
                value
                    .parse::<usize>()
                    .unwrap_or_else(|_| panic!("{flag} takes a number"))
            };
            match flag.as_str() {
                "--messages" => options.messages = number(),
                "--partitions" => options.partitions = i32::try_from(number()).unwrap(),
                "--rounds" => options.rounds = number(),
                "--bootstrap-servers" => options.bootstrap = value,
                "--batch-size" => options.batch_size = Some(number()),
                "--only" => options.only = Some(value),
                "--topic" => options.topic = Some(value),
                "--lanes" => options.lanes_e = number(),
                "--lanes-messages" => options.lanes_messages = number(),
                "-X" => {
                    let (key, value) = value
                        .split_once('=')
                        .unwrap_or_else(|| panic!("-X takes key=value"));
                    options.properties.push((key.into(), value.into()));
                }
                other => panic!("unknown option {other}"),
            }
        }
        options
    }
}

/// What one variant measured in one round.
#[derive(Debug, Clone, Copy)]
struct Measurement {
    /// From the first message handled to the last.
    handling: Duration,
    /// From creating the consumer to the last message handled (group join included).
    total: Duration,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// One way of consuming the topic.
struct Variant {
    name: &'static str,
    run: fn(Options, String, String) -> BoxFuture<Measurement>,
}

/// The variants, in the order of the first round.
fn variants() -> Vec<Variant> {
    vec![
        Variant {
            name: "(a) raw rdkafka StreamConsumer loop",
            run: |o, topic, group| Box::pin(raw_rdkafka(o, topic, group)),
        },
        Variant {
            name: "(b) raw AMGI application on amgi-kafka",
            run: |o, topic, group| Box::pin(amgi_raw(o, topic, group)),
        },
        Variant {
            name: "(c) AsyncFast quickstart handler on amgi-kafka",
            run: |o, topic, group| Box::pin(asyncfast_app(o, topic, group)),
        },
    ]
}

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// librdkafka settings both consumers share: the local broker's fast group joins (BROKERS.md),
/// and a prefetch queue that holds the whole backlog. With librdkafka's default
/// (`queued.min.messages=100000` for the whole consumer) fetching stops for
/// `fetch.queue.backoff.ms` (1 s) whenever more than 100 000 messages wait, and whether that
/// happens during a 200 000-message run is a race between threads: the rates then jumped
/// between ~160 000 and ~600 000 msg/s for either variant, from round to round.
const CONSUMER_SETTINGS: [(&str, &str); 3] = [
    ("session.timeout.ms", "2000"),
    ("heartbeat.interval.ms", "500"),
    ("queued.min.messages", "10000000"),
];

fn correlation_id<H: Headers>(headers: Option<&H>) -> Option<&[u8]> {
    headers?
        .iter()
        .find(|h| h.key == "correlation-id")
        .and_then(|h| h.value)
}

/// (a) A hand-written at-least-once loop: decode, read the header, store the offset; librdkafka
/// commits stored offsets every 5 s and once more at the end.
async fn raw_rdkafka(options: Options, topic: String, group: String) -> Measurement {
    let started = Instant::now();
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &options.bootstrap)
        .set("group.id", &group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false");
    for (key, value) in CONSUMER_SETTINGS {
        config.set(key, value);
    }
    for (key, value) in &options.properties {
        config.set(key, value);
    }
    let consumer: StreamConsumer = config.create().expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    let mut first = None;
    for handled in 0..options.messages {
        let message = consumer.recv().await.expect("consume");
        if handled == 0 {
            first = Some(Instant::now());
        }
        let user: UserCreated =
            serde_json::from_slice(message.payload().unwrap_or_default()).expect("valid JSON");
        std::hint::black_box(user);
        std::hint::black_box(correlation_id(message.headers()));
        consumer
            .store_offset_from_message(&message)
            .expect("store offset");
    }
    let end = Instant::now();
    consumer
        .commit_consumer_state(CommitMode::Sync)
        .expect("final commit");
    // BROKERS.md: dropping a consumer with a group.id can hang; not on this task.
    std::thread::spawn(move || drop(consumer));
    Measurement {
        handling: end - first.expect("at least one message"),
        total: end - started,
    }
}

/// The application of (b): decode, read the header, ack.
struct DecodeAndAck {
    progress: Arc<Progress>,
}

impl Application for DecodeAndAck {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        let Scope::Message(_) = scope else {
            return Err(ApplicationError::unsupported_scope(scope.kind()));
        };
        self.progress.first.get_or_init(Instant::now);
        loop {
            let ReceiveEvent::Message(message) = receive.receive().await? else {
                continue;
            };
            let payload = message.payload.as_deref().unwrap_or_default();
            match serde_json::from_slice::<UserCreated>(payload) {
                Ok(user) => {
                    std::hint::black_box(user);
                    std::hint::black_box(message.headers.get(b"correlation-id"));
                    send.send(SendEvent::ack(message.id)).await?;
                }
                Err(error) => {
                    send.send(SendEvent::nack(
                        message.id,
                        format!("invalid JSON: {error}"),
                    ))
                    .await?;
                }
            }
            self.progress.count_one();
            if !message.more_messages {
                return Ok(());
            }
        }
    }
}

/// (b) The same work as a raw AMGI application run by amgi-kafka with its defaults.
async fn amgi_raw(options: Options, topic: String, group: String) -> Measurement {
    let started = Instant::now();
    let progress = Progress::new(options.messages);
    let app = DecodeAndAck {
        progress: Arc::clone(&progress),
    };
    serve_on_kafka(app, &progress, &options, topic, group, started).await
}

/// What the applications of (b) and (c) count: when the first message arrived, when the last
/// one was handled.
#[derive(Debug)]
struct Progress {
    target: usize,
    handled: AtomicUsize,
    first: OnceLock<Instant>,
    last: OnceLock<Instant>,
    done: Notify,
}

impl Progress {
    fn new(target: usize) -> Arc<Self> {
        Arc::new(Self {
            target,
            handled: AtomicUsize::new(0),
            first: OnceLock::new(),
            last: OnceLock::new(),
            done: Notify::new(),
        })
    }

    /// Counts one handled message; the last one stops the clock and wakes the bench.
    fn count_one(&self) {
        if self.handled.fetch_add(1, Ordering::AcqRel) + 1 == self.target {
            self.last.get_or_init(Instant::now);
            self.done.notify_one();
        }
    }
}

/// Runs `app` on amgi-kafka, configured the same way for (b) and (c), until `progress` has
/// counted every message; then shuts down and reports the times.
async fn serve_on_kafka<A: Application>(
    app: A,
    progress: &Progress,
    options: &Options,
    topic: String,
    group: String,
    started: Instant,
) -> Measurement {
    let mut server = amgi_kafka::Server::new(app, [topic])
        .bootstrap_servers(&options.bootstrap)
        .group_id(group);
    for (key, value) in CONSUMER_SETTINGS {
        server = server.set(format!("consumer.{key}"), value);
    }
    if let Some(size) = options.batch_size {
        server = server.batch_size(size);
    }
    if let Some(lanes) = options.lanes {
        server = server.lanes(lanes);
    }
    for (key, value) in &options.properties {
        server = server.set(format!("consumer.{key}"), value);
    }
    let handle = server.start().await.expect("start");
    progress.done.notified().await;
    handle.shutdown().await.expect("shutdown");
    let (first, last) = (progress.first.get().unwrap(), progress.last.get().unwrap());
    Measurement {
        handling: *last - *first,
        total: *last - started,
    }
}

/// The `{run}` of the topic's name (`bench-…`, a new topic for each run): required by the
/// channel's address template, and not read, so not parsed either (no cost per message beyond
/// the extractor call).
#[derive(Debug)]
struct RunId;

impl std::str::FromStr for RunId {
    type Err = std::convert::Infallible;

    fn from_str(_: &str) -> Result<Self, Self::Err> {
        Ok(Self)
    }
}

/// The quickstart's handler, minus the `println!`: the payload decoded from JSON into
/// `UserCreated` and the `correlation-id` header, both by extractors; returning `()` acks. It
/// also counts what it handled, in state.
#[channel("bench-{run}")]
async fn handle_user_created(
    payload: Payload<UserCreated>,
    correlation_id: Header<String>,
    progress: State<Progress>,
    run: Param<RunId>,
) {
    std::hint::black_box(run);
    progress.first.get_or_init(Instant::now);
    std::hint::black_box(payload);
    std::hint::black_box(correlation_id);
    progress.count_one();
}

/// (c) The AsyncFast application (only the handler above) on amgi-kafka with its defaults,
/// configured as (b).
async fn asyncfast_app(options: Options, topic: String, group: String) -> Measurement {
    assert!(
        topic.starts_with("bench-"),
        "(c) consumes topics named `bench-…` (its channel is `bench-{{run}}`), not `{topic}`"
    );
    let started = Instant::now();
    let progress = Progress::new(options.messages);
    let app = AsyncFast::empty()
        .state_arc(Arc::clone(&progress))
        .channel(handler!(handle_user_created));
    serve_on_kafka(app, &progress, &options, topic, group, started).await
}

/// The application of (d) and (e): waits 1 ms per message (a call to a slow service), acks.
struct SleepAndAck {
    progress: Arc<Progress>,
}

impl Application for SleepAndAck {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        let Scope::Message(_) = scope else {
            return Err(ApplicationError::unsupported_scope(scope.kind()));
        };
        self.progress.first.get_or_init(Instant::now);
        loop {
            let ReceiveEvent::Message(message) = receive.receive().await? else {
                continue;
            };
            tokio::time::sleep(Duration::from_millis(1)).await;
            send.send(SendEvent::ack(message.id)).await?;
            self.progress.count_one();
            if !message.more_messages {
                return Ok(());
            }
        }
    }
}

/// (d) ordered against (e) keyed lanes: one partition, a distinct key per message, a handler
/// that sleeps 1 ms. Prints both rates and their ratio.
async fn lanes_comparison(options: &Options) {
    let options = Options {
        messages: options.lanes_messages,
        partitions: 1,
        ..options.clone()
    };
    let topic = unique("bench-lanes");
    let produced = produce(&options, &topic).await;
    println!(
        "keyed lanes: {} messages with distinct keys, 1 partition, handler sleeps 1 ms; produced to {topic} in {:.2} s",
        options.messages,
        produced.as_secs_f64()
    );
    let mut rates = Vec::new();
    for (name, lanes) in [
        ("(d) ordered (default)".to_owned(), None),
        (
            format!("(e) lanes = {}", options.lanes_e),
            Some(options.lanes_e),
        ),
    ] {
        let started = Instant::now();
        let progress = Progress::new(options.messages);
        let app = SleepAndAck {
            progress: Arc::clone(&progress),
        };
        let options = Options {
            lanes,
            ..options.clone()
        };
        let group = unique("bench-lanes-group");
        let measured =
            serve_on_kafka(app, &progress, &options, topic.clone(), group, started).await;
        let per_second = rate(options.messages, measured.handling);
        println!(
            "{name:<24} {per_second:>10.0} msg/s  (handling {:.2} s, with group join {:.2} s)",
            measured.handling.as_secs_f64(),
            measured.total.as_secs_f64()
        );
        rates.push(per_second);
    }
    println!("lanes / ordered: {:.1}x", rates[1] / rates[0]);
}

async fn produce(options: &Options, topic: &str) -> Duration {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &options.bootstrap)
        .create()
        .expect("admin client");
    admin
        .create_topics(
            &[NewTopic::new(
                topic,
                options.partitions,
                TopicReplication::Fixed(1),
            )],
            &AdminOptions::new(),
        )
        .await
        .expect("create topic")
        .into_iter()
        .for_each(|r| {
            r.expect("topic created");
        });
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &options.bootstrap)
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer");
    let started = Instant::now();
    let mut pending = Vec::with_capacity(options.messages);
    for i in 0..options.messages {
        let key = i.to_string();
        let correlation = format!("c-{i}");
        let headers = OwnedHeaders::new().insert(KafkaHeader {
            key: "correlation-id",
            value: Some(&correlation),
        });
        let record = FutureRecord::to(topic)
            .key(&key)
            .payload(PAYLOAD)
            .headers(headers);
        pending.push(
            producer
                .send_result(record)
                .map_err(|(e, _)| e)
                .expect("enqueue"),
        );
    }
    for delivery in pending {
        delivery.await.expect("delivery").expect("delivered");
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
    started.elapsed()
}

/// CPU time (user + system) this process used so far, from `/proc/self/stat` (Linux; clock
/// ticks assumed to be 100 per second, the Linux default).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may contain spaces).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn rate(messages: usize, elapsed: Duration) -> f64 {
    #[allow(clippy::cast_precision_loss)] // message counts are far below 2^52
    let messages = messages as f64;
    messages / elapsed.as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    // RUST_LOG=amgi_kafka=debug shows what the server does.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    if options.only.as_deref() == Some("lanes") {
        lanes_comparison(&options).await;
        std::process::exit(0);
    }
    println!(
        "amgi-kafka bench: {} messages, {} partitions, {} rounds, broker {}",
        options.messages, options.partitions, options.rounds, options.bootstrap
    );
    let topic = if let Some(topic) = options.topic.clone() {
        topic
    } else {
        let topic = unique("bench");
        let produced = produce(&options, &topic).await;
        println!(
            "produced to {topic} in {:.2} s ({:.0} msg/s)",
            produced.as_secs_f64(),
            rate(options.messages, produced)
        );
        topic
    };

    let mut variants = variants();
    if let Some(only) = &options.only {
        variants.retain(|v| v.name.starts_with(&format!("({only})")));
    }
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    let mut cpus: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for round in 0..options.rounds {
        let mut order: Vec<usize> = (0..variants.len()).collect();
        order.rotate_left(round % variants.len());
        for index in order {
            let variant = &variants[index];
            let group = unique("bench-group");
            let cpu_before = cpu_time();
            let measured = (variant.run)(options.clone(), topic.clone(), group).await;
            let cpu = cpu_time()
                .zip(cpu_before)
                .map(|(after, before)| after.saturating_sub(before));
            let per_second = rate(options.messages, measured.handling);
            #[allow(clippy::cast_precision_loss)] // message counts are far below 2^52
            let cpu_per_message = cpu.map_or(f64::NAN, |cpu| {
                cpu.as_secs_f64() * 1e6 / options.messages as f64
            });
            println!(
                "round {round}: {:<47} {:>10.0} msg/s  {:>5.2} µs CPU/msg  (handling {:.2} s, with group join {:.2} s)",
                variant.name,
                per_second,
                cpu_per_message,
                measured.handling.as_secs_f64(),
                measured.total.as_secs_f64()
            );
            rates[index].push(per_second);
            cpus[index].push(cpu_per_message);
        }
    }

    println!();
    println!("| variant | median msg/s | best msg/s | vs (a) | median CPU µs/msg |");
    println!("|---|---:|---:|---:|---:|");
    let baseline = median(rates[0].clone());
    for ((variant, rates), cpus) in variants.iter().zip(&rates).zip(&cpus) {
        let median_rate = median(rates.clone());
        let best = rates.iter().copied().fold(f64::MIN, f64::max);
        println!(
            "| {} | {median_rate:.0} | {best:.0} | {:.1} % | {:.2} |",
            variant.name,
            100.0 * median_rate / baseline,
            median(cpus.clone())
        );
    }
    // Consumers dropped on detached threads may still be closing; do not wait for them.
    std::process::exit(0);
}
