//! Throughput of amgi-nats (JetStream) against a hand-written async-nats pull consumer, and
//! request/reply latency against a hand-written async-nats responder, on the same private
//! broker in the same run.
//!
//! ```text
//! CARGO_TARGET_DIR=target/release-bench cargo run --release -p amgi-nats --example bench -- --messages 100000
//! ```
//!
//! Options: `--messages N` (default 100000), `--rounds N` (5), `--batch-size N` (amgi-nats's
//! default, 64, also the raw consumer's pull batch), `--requests N` (1000), `--only c` (only
//! the variants whose name starts with `(c)`).
//!
//! The bench runs a private `nats-server -js` (on the `PATH`) on a free loopback port, storing
//! in a temporary directory. Each round creates a stream, one durable pull consumer per variant
//! (explicit acks, all from the start of the stream), then publishes N messages through
//! JetStream (every publish ack awaited), each with the payload
//! `{"id":12345,"email":"alice@example.com","tags":["new","trial","eu"]}` and a
//! `correlation-id` header; so every variant reads the same N stored messages. Then the
//! variants consume in turn (their order rotates from round to round), so that publishing
//! never competes with consuming for the two cores. A variant's rate is N divided by the time
//! from its start (connect, consumer lookup, lifespan startup) to its last message handled;
//! the median round is reported, with the CPU time this process (not the broker's) spent per
//! message.
//!
//! Variants: (a) a hand-written async-nats pull consumer (`consumer.stream()` with the same
//! batch size), acking each message; (b) a raw AMGI application on amgi-nats; (c) the
//! AsyncFast quickstart handler (`Payload<UserCreated>` + `Header<String>`) on amgi-nats. Each
//! deserialises the JSON payload and reads the `correlation-id` header.
//!
//! Then request/reply: N sequential requests (`--requests`) with a small JSON payload, each
//! awaited before the next, through (r1) a plain async-nats `client.request` answered by a
//! hand-written async-nats responder, and (r2) AsyncFast's `Publisher::request` (amgi-nats's
//! native requester, a NATS inbox) answered by a `Reply<i64>` handler on amgi-nats (core NATS).
//! Reported: p50 and p99 round-trip latency.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use amgi_core::{
    Application, ApplicationError, ReceiveEvent, Receiver, Scope, SendEvent, SharedSender,
};
use amgi_nats::NatsConfig;
use async_nats::jetstream::{self, consumer};
use asyncfast::Reply;
use asyncfast::prelude::*;
use futures_util::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

const PAYLOAD: &str = r#"{"id":12345,"email":"alice@example.com","tags":["new","trial","eu"]}"#;

/// The payload, as every variant decodes it.
#[derive(Debug, Deserialize, JsonSchema)]
#[allow(dead_code)] // read through `black_box` only
struct UserCreated {
    id: u64,
    email: String,
    tags: Vec<String>,
}

#[derive(Debug, Clone)]
struct Options {
    messages: usize,
    rounds: usize,
    batch_size: usize,
    requests: usize,
    only: Option<String>,
    url: String,
}

impl Options {
    fn parse() -> Self {
        let mut options = Self {
            messages: 100_000,
            rounds: 5,
            batch_size: amgi_nats::DEFAULT_BATCH_SIZE,
            requests: 1000,
            only: None,
            url: String::new(),
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
                "--rounds" => options.rounds = number(),
                "--batch-size" => options.batch_size = number(),
                "--requests" => options.requests = number(),
                "--only" => options.only = Some(value),
                other => panic!("unknown option {other}"),
            }
        }
        options
    }
}

/// What one variant measured in one round.
#[derive(Debug, Clone, Copy)]
struct Measurement {
    handling: Duration,
    total: Duration,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Where a variant reads: the stream, its subject, and the variant's durable consumer.
#[derive(Debug, Clone)]
struct Target {
    stream: String,
    subject: String,
    durable: String,
}

struct Variant {
    name: &'static str,
    run: fn(Options, Target) -> BoxFuture<Measurement>,
}

fn variants() -> Vec<Variant> {
    vec![
        Variant {
            name: "(a) raw async-nats JetStream pull consumer, acks",
            run: |o, t| Box::pin(raw_pull(o, t)),
        },
        Variant {
            name: "(b) raw AMGI application on amgi-nats",
            run: |o, t| Box::pin(amgi_raw(o, t)),
        },
        Variant {
            name: "(c) AsyncFast quickstart handler on amgi-nats",
            run: |o, t| Box::pin(asyncfast_app(o, t)),
        },
    ]
}

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// The consumer every variant uses: what amgi-nats creates (explicit acks, 30 s ack wait).
fn consumer_config(options: &Options, durable: &str, subject: &str) -> consumer::pull::Config {
    consumer::pull::Config {
        durable_name: Some(durable.to_owned()),
        filter_subject: subject.to_owned(),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: amgi_nats::DEFAULT_ACK_WAIT,
        max_deliver: -1,
        max_ack_pending: i64::try_from(options.batch_size * 4)
            .unwrap_or(i64::MAX)
            .max(1000),
        ..Default::default()
    }
}

/// Publishes the N messages through JetStream, every ack awaited (up to 1000 outstanding).
async fn publish(context: &jetstream::Context, options: &Options, subject: &str) -> Duration {
    let started = Instant::now();
    let mut acks = Vec::with_capacity(1000);
    for i in 0..options.messages {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("correlation-id", format!("c-{i}"));
        acks.push(
            context
                .publish_with_headers(subject.to_owned(), headers, PAYLOAD.into())
                .await
                .expect("publish"),
        );
        if acks.len() == 1000 {
            for ack in acks.drain(..) {
                ack.await.expect("publish ack");
            }
        }
    }
    for ack in acks {
        ack.await.expect("publish ack");
    }
    started.elapsed()
}

async fn raw_pull(options: Options, target: Target) -> Measurement {
    let started = Instant::now();
    let client = async_nats::connect(&options.url).await.unwrap();
    let context = jetstream::new(client);
    let consumer: consumer::PullConsumer = context
        .get_stream(&target.stream)
        .await
        .unwrap()
        .get_consumer(&target.durable)
        .await
        .unwrap();
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(options.batch_size)
        .messages()
        .await
        .unwrap();
    let mut first = None;
    for handled in 0..options.messages {
        let message = messages.next().await.expect("stream ended").expect("pull");
        if handled == 0 {
            first = Some(Instant::now());
        }
        let user: UserCreated = serde_json::from_slice(&message.payload).expect("valid JSON");
        std::hint::black_box(user);
        std::hint::black_box(
            message
                .headers
                .as_ref()
                .and_then(|h| h.get("correlation-id")),
        );
        message.ack().await.expect("ack");
    }
    let end = Instant::now();
    Measurement {
        handling: end - first.expect("at least one message"),
        total: end - started,
    }
}

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

    fn count_one(&self) {
        if self.handled.fetch_add(1, Ordering::AcqRel) + 1 == self.target {
            self.last.get_or_init(Instant::now);
            self.done.notify_one();
        }
    }
}

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

async fn serve_on_nats<A: Application>(
    app: A,
    progress: &Progress,
    options: &Options,
    target: Target,
    started: Instant,
) -> Measurement {
    let config = NatsConfig::new(&options.url)
        .subjects([target.subject])
        .jetstream(target.stream, target.durable)
        .batch_size(options.batch_size);
    let handle = amgi_nats::Server::new(app, config)
        .start()
        .await
        .expect("start");
    progress.done.notified().await;
    handle.shutdown().await.expect("shutdown");
    let (first, last) = (progress.first.get().unwrap(), progress.last.get().unwrap());
    Measurement {
        handling: *last - *first,
        total: *last - started,
    }
}

async fn amgi_raw(options: Options, target: Target) -> Measurement {
    let started = Instant::now();
    let progress = Progress::new(options.messages);
    let app = DecodeAndAck {
        progress: Arc::clone(&progress),
    };
    serve_on_nats(app, &progress, &options, target, started).await
}

#[channel("bench.{run}")]
async fn handle_user_created(
    payload: Payload<UserCreated>,
    correlation_id: Header<String>,
    progress: State<Progress>,
    run: Param<String>,
) {
    std::hint::black_box(run);
    progress.first.get_or_init(Instant::now);
    std::hint::black_box(payload);
    std::hint::black_box(correlation_id);
    progress.count_one();
}

async fn asyncfast_app(options: Options, target: Target) -> Measurement {
    let started = Instant::now();
    let progress = Progress::new(options.messages);
    let app = AsyncFast::empty()
        .state_arc(Arc::clone(&progress))
        .channel(handler!(handle_user_created));
    serve_on_nats(app, &progress, &options, target, started).await
}

#[derive(Serialize, Deserialize, JsonSchema)]
struct Multiply {
    x: i64,
    y: i64,
}

#[channel("rr.{run}.multiply")]
async fn multiply(args: Payload<Multiply>, _run: Param<String>) -> Reply<i64> {
    Reply(args.x * args.y)
}

/// p50 and p99 of `samples`.
fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
    (at(50), at(99))
}

/// (r1): a plain async-nats responder and `client.request`.
async fn raw_requests(options: &Options) -> (Duration, Duration) {
    let subject = format!("rr.{}.raw", unique("run"));
    let responder = async_nats::connect(&options.url).await.unwrap();
    let mut subscription = responder.subscribe(subject.clone()).await.unwrap();
    responder.flush().await.unwrap();
    let answering = tokio::spawn(async move {
        while let Some(request) = subscription.next().await {
            let args: Multiply = serde_json::from_slice(&request.payload).unwrap();
            let product = serde_json::to_vec(&(args.x * args.y)).unwrap();
            if let Some(reply) = request.reply {
                responder.publish(reply, product.into()).await.unwrap();
            }
        }
    });
    let client = async_nats::connect(&options.url).await.unwrap();
    // One request first, so that the subscription is in place and connections are warm.
    let warm = serde_json::to_vec(&Multiply { x: 1, y: 1 }).unwrap();
    client
        .request(subject.clone(), warm.into())
        .await
        .expect("warm-up");
    let mut samples = Vec::with_capacity(options.requests);
    for i in 0..options.requests {
        let payload = serde_json::to_vec(&Multiply {
            x: i64::try_from(i).unwrap(),
            y: 2,
        })
        .unwrap();
        let started = Instant::now();
        let reply = client
            .request(subject.clone(), payload.into())
            .await
            .unwrap();
        samples.push(started.elapsed());
        std::hint::black_box(reply);
    }
    answering.abort();
    percentiles(samples)
}

/// (r2): `Publisher::request` (amgi-nats's requester) and a `Reply<i64>` handler.
async fn asyncfast_requests(options: &Options) -> (Duration, Duration) {
    let subject = format!("rr.{}.multiply", unique("run"));
    let app = AsyncFast::empty().channel(handler!(multiply));
    let publisher = app.publisher();
    let config = NatsConfig::new(&options.url).subjects([subject.clone()]);
    let handle = amgi_nats::Server::new(app, config)
        .start()
        .await
        .expect("start");
    let _: i64 = publisher
        .request(subject.clone(), &Multiply { x: 1, y: 1 })
        .await
        .expect("warm-up");
    let mut samples = Vec::with_capacity(options.requests);
    for i in 0..options.requests {
        let args = Multiply {
            x: i64::try_from(i).unwrap(),
            y: 2,
        };
        let started = Instant::now();
        let product: i64 = publisher
            .request(subject.clone(), &args)
            .await
            .expect("reply");
        samples.push(started.elapsed());
        std::hint::black_box(product);
    }
    handle.shutdown().await.expect("shutdown");
    percentiles(samples)
}

struct Broker {
    child: tokio::process::Child,
    dir: PathBuf,
}

impl Broker {
    async fn start() -> (Self, u16) {
        let dir = std::env::temp_dir().join(unique("amgi-nats-bench"));
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the bench runs `nats-server` (Debian: apt-get install nats-server)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "nats-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (Self { child, dir }, port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// CPU time (user + system) this process used so far, from `/proc/self/stat` (Linux; clock
/// ticks assumed to be 100 per second, the Linux default).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
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

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

/// Runs and prints the request/reply latencies.
async fn report_requests(options: &Options) {
    let (raw50, raw99) = raw_requests(options).await;
    let (af50, af99) = asyncfast_requests(options).await;
    println!();
    println!(
        "| request/reply, {} sequential requests | p50 µs | p99 µs |",
        options.requests
    );
    println!("|---|---:|---:|");
    println!(
        "| (r1) async-nats client.request → async-nats responder | {:.0} | {:.0} |",
        micros(raw50),
        micros(raw99)
    );
    println!(
        "| (r2) AsyncFast Publisher::request → Reply<i64> handler on amgi-nats | {:.0} | {:.0} |",
        micros(af50),
        micros(af99)
    );
}

#[tokio::main]
async fn main() {
    let mut options = Options::parse();
    let (broker, port) = Broker::start().await;
    options.url = format!("nats://127.0.0.1:{port}");
    println!(
        "amgi-nats bench: {} messages, {} rounds, batch size {}, private nats-server -js on 127.0.0.1:{port}",
        options.messages, options.rounds, options.batch_size
    );
    let client = async_nats::connect(&options.url).await.unwrap();
    let context = jetstream::new(client);
    let mut variants = variants();
    if let Some(only) = &options.only {
        variants.retain(|v| v.name.starts_with(&format!("({only})")));
    }
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    let mut cpus: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for round in 0..options.rounds {
        let stream_name = unique("BENCH");
        let subject = format!("bench.{}", unique("run"));
        let stream = context
            .create_stream(jetstream::stream::Config {
                name: stream_name.clone(),
                subjects: vec![subject.clone()],
                ..Default::default()
            })
            .await
            .unwrap();
        let targets: Vec<Target> = (0..variants.len())
            .map(|index| Target {
                stream: stream_name.clone(),
                subject: subject.clone(),
                durable: unique(&format!("bench_{round}_{index}")),
            })
            .collect();
        for target in &targets {
            stream
                .create_consumer(consumer_config(&options, &target.durable, &subject))
                .await
                .unwrap();
        }
        let published = publish(&context, &options, &subject).await;
        println!(
            "round {round}: published to {subject} in {:.2} s ({:.0} msg/s)",
            published.as_secs_f64(),
            rate(options.messages, published)
        );
        let mut order: Vec<usize> = (0..variants.len()).collect();
        order.rotate_left(round % variants.len());
        for index in order {
            let variant = &variants[index];
            let cpu_before = cpu_time();
            let measured = (variant.run)(options.clone(), targets[index].clone()).await;
            let cpu = cpu_time()
                .zip(cpu_before)
                .map(|(after, before)| after.saturating_sub(before));
            let per_second = rate(options.messages, measured.total);
            #[allow(clippy::cast_precision_loss)] // message counts are far below 2^52
            let cpu_per_message = cpu.map_or(f64::NAN, |cpu| {
                cpu.as_secs_f64() * 1e6 / options.messages as f64
            });
            println!(
                "round {round}: {:<50} {:>10.0} msg/s  {:>5.2} µs CPU/msg  (start to last {:.3} s, first to last {:.3} s)",
                variant.name,
                per_second,
                cpu_per_message,
                measured.total.as_secs_f64(),
                measured.handling.as_secs_f64()
            );
            rates[index].push(per_second);
            cpus[index].push(cpu_per_message);
        }
        context.delete_stream(&stream_name).await.unwrap();
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

    if options.requests > 0 {
        report_requests(&options).await;
    }
    drop(broker);
}
