//! Throughput of amgi-redis against a hand-written `XREADGROUP` + `XACK` loop, on the same
//! Redis and the same entries, in the same run.
//!
//! ```text
//! scripts/brokers-up
//! cargo run --release -p amgi-redis --example bench -- --messages 100000
//! ```
//!
//! Options: `--messages N` (default 100000), `--rounds N` (5), `--url URL`
//! (`redis://127.0.0.1:6379`), `--batch-size N` (100: the `COUNT` of every variant's reads),
//! `--only c` (run the variants whose name starts with `(c)`; for profiling).
//!
//! It writes the entries once to a fresh stream (`payload` = the JSON below, plus a
//! `correlation-id` field), then, for each round, lets every variant read all of them in a
//! consumer group of its own, created at the start of the stream. A variant's rate is entries
//! divided by the time from its first entry to its last. Every variant deserialises the JSON
//! payload into a struct, reads the `correlation-id` header, and acks (`XACK`) each batch after
//! handling it. Variants alternate their order from round to round; the median round is
//! reported, with the CPU time the whole process spent per entry.
//!
//! Variants: (a) a hand-written loop (`XREADGROUP … COUNT n` then `XACK` of the batch), (b) a
//! raw AMGI application on amgi-redis, (c) the AsyncFast quickstart handler
//! (`Payload<UserCreated>` + `Header<String>`) on amgi-redis.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use amgi_core::{
    Application, ApplicationError, ReceiveEvent, Receiver, Scope, SendEvent, SharedSender,
};
use asyncfast::prelude::*;
use redis::Value;
use redis::aio::MultiplexedConnection;
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
    rounds: usize,
    url: String,
    batch_size: usize,
    only: Option<String>,
}

impl Options {
    fn parse() -> Self {
        let mut options = Self {
            messages: 100_000,
            rounds: 5,
            url: "redis://127.0.0.1:6379".to_owned(),
            batch_size: 100,
            only: None,
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
                "--url" => options.url = value,
                "--batch-size" => options.batch_size = number(),
                "--only" => options.only = Some(value),
                other => panic!("unknown option {other}"),
            }
        }
        options
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// One way of consuming the stream: returns the time from the first entry to the last.
struct Variant {
    name: &'static str,
    run: fn(Options, String, String) -> BoxFuture<Duration>,
}

/// The variants, in the order of the first round.
fn variants() -> Vec<Variant> {
    vec![
        Variant {
            name: "(a) raw redis XREADGROUP + XACK loop",
            run: |o, stream, group| Box::pin(raw_redis(o, stream, group)),
        },
        Variant {
            name: "(b) raw AMGI application on amgi-redis",
            run: |o, stream, group| Box::pin(amgi_raw(o, stream, group)),
        },
        Variant {
            name: "(c) AsyncFast quickstart handler on amgi-redis",
            run: |o, stream, group| Box::pin(asyncfast_app(o, stream, group)),
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

async fn connect(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|error| panic!("no Redis at {url} ({error}): run scripts/brokers-up"))
}

/// `XGROUP CREATE stream group 0`: every variant reads the whole stream.
async fn create_group(connection: &mut MultiplexedConnection, stream: &str, group: &str) {
    let () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(stream)
        .arg(group)
        .arg("0")
        .query_async(connection)
        .await
        .unwrap();
}

/// (a) A hand-written at-least-once loop: read a batch, decode each payload and read its
/// header, then `XACK` the batch.
async fn raw_redis(options: Options, stream: String, group: String) -> Duration {
    let mut connection = connect(&options.url).await;
    create_group(&mut connection, &stream, &group).await;
    let mut handled = 0;
    let mut first = None;
    while handled < options.messages {
        let reply: Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(&group)
            .arg("raw")
            .arg("COUNT")
            .arg(options.batch_size)
            .arg("BLOCK")
            .arg(1000)
            .arg("STREAMS")
            .arg(&stream)
            .arg(">")
            .query_async(&mut connection)
            .await
            .unwrap();
        first.get_or_insert_with(Instant::now);
        let mut ids = Vec::with_capacity(options.batch_size);
        for (id, fields) in entries(reply) {
            let mut payload = None;
            let mut correlation_id = None;
            for pair in fields.chunks_exact(2) {
                match (&pair[0], &pair[1]) {
                    (Value::BulkString(name), Value::BulkString(value)) if name == b"payload" => {
                        payload = Some(value);
                    }
                    (Value::BulkString(name), Value::BulkString(value))
                        if name == b"correlation-id" =>
                    {
                        correlation_id = Some(value);
                    }
                    _ => {}
                }
            }
            let user: UserCreated =
                serde_json::from_slice(payload.expect("a payload")).expect("valid JSON");
            std::hint::black_box(user);
            std::hint::black_box(correlation_id);
            ids.push(id);
        }
        handled += ids.len();
        if !ids.is_empty() {
            let _: i64 = redis::cmd("XACK")
                .arg(&stream)
                .arg(&group)
                .arg(&ids)
                .query_async(&mut connection)
                .await
                .unwrap();
        }
    }
    first.expect("read something").elapsed()
}

/// The entries of an `XREADGROUP` reply of one stream: id and field list.
fn entries(reply: Value) -> Vec<(Vec<u8>, Vec<Value>)> {
    let Value::Array(mut streams) = reply else {
        return Vec::new();
    };
    let Some(Value::Array(mut stream)) = streams.pop() else {
        return Vec::new();
    };
    let Some(Value::Array(entries)) = stream.pop() else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|entry| match entry {
            Value::Array(mut entry) if entry.len() == 2 => match (entry.pop(), entry.pop()) {
                (Some(Value::Array(fields)), Some(Value::BulkString(id))) => Some((id, fields)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// What the applications of (b) and (c) count: when the first entry arrived, when the last
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

    /// Counts one handled entry; the last one stops the clock and wakes the bench.
    fn count_one(&self) {
        if self.handled.fetch_add(1, Ordering::AcqRel) + 1 == self.target {
            self.last.get_or_init(Instant::now);
            self.done.notify_one();
        }
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

/// (b) The same work as a raw AMGI application run by amgi-redis.
async fn amgi_raw(options: Options, stream: String, group: String) -> Duration {
    let progress = Progress::new(options.messages);
    let app = DecodeAndAck {
        progress: Arc::clone(&progress),
    };
    serve_on_redis(app, &progress, &options, stream, group).await
}

/// Runs `app` on amgi-redis, configured the same way for (b) and (c), until `progress` has
/// counted every entry; then shuts down and reports the time from the first to the last.
async fn serve_on_redis<A: Application>(
    app: A,
    progress: &Progress,
    options: &Options,
    stream: String,
    group: String,
) -> Duration {
    let config = amgi_redis::RedisConfig::new(&options.url, group)
        .stream(stream)
        .consumer("amgi")
        .batch_size(options.batch_size);
    let handle = amgi_redis::Server::new(app, config)
        .start()
        .await
        .expect("start");
    progress.done.notified().await;
    handle.shutdown().await.expect("shutdown");
    let (first, last) = (progress.first.get().unwrap(), progress.last.get().unwrap());
    *last - *first
}

/// The `{run}` of the stream's name (`bench-…`, a new stream for each run): required by the
/// channel's address template, and not read, so not parsed either.
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

/// (c) The AsyncFast application (only the handler above) on amgi-redis, configured as (b).
async fn asyncfast_app(options: Options, stream: String, group: String) -> Duration {
    let progress = Progress::new(options.messages);
    let app = AsyncFast::empty()
        .state_arc(Arc::clone(&progress))
        .channel(handler!(handle_user_created));
    serve_on_redis(app, &progress, &options, stream, group).await
}

/// Writes the entries, 1 000 per pipeline.
async fn produce(options: &Options, stream: &str) -> Duration {
    let mut connection = connect(&options.url).await;
    let started = Instant::now();
    let mut written = 0;
    while written < options.messages {
        let chunk = (options.messages - written).min(1000);
        let mut pipe = redis::pipe();
        for i in written..written + chunk {
            pipe.cmd("XADD")
                .arg(stream)
                .arg("*")
                .arg("payload")
                .arg(PAYLOAD)
                .arg("correlation-id")
                .arg(format!("c-{i}"))
                .ignore();
        }
        let () = pipe.query_async(&mut connection).await.unwrap();
        written += chunk;
    }
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
    // RUST_LOG=amgi_redis=debug shows what the server does.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    println!(
        "amgi-redis bench: {} entries, {} rounds, COUNT {}, Redis {}",
        options.messages, options.rounds, options.batch_size, options.url
    );
    let stream = unique("bench");
    let produced = produce(&options, &stream).await;
    println!(
        "wrote {stream} in {:.2} s ({:.0} entries/s)",
        produced.as_secs_f64(),
        rate(options.messages, produced)
    );

    let mut variants = variants();
    if let Some(only) = &options.only {
        variants.retain(|v| v.name.starts_with(&format!("({only})")));
    }
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    let mut cpus: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    let mut admin = connect(&options.url).await;
    for round in 0..options.rounds {
        let mut order: Vec<usize> = (0..variants.len()).collect();
        order.rotate_left(round % variants.len());
        for index in order {
            let variant = &variants[index];
            let group = unique("bench-group");
            let cpu_before = cpu_time();
            let handling = (variant.run)(options.clone(), stream.clone(), group.clone()).await;
            let cpu = cpu_time()
                .zip(cpu_before)
                .map(|(after, before)| after.saturating_sub(before));
            let _: i64 = redis::cmd("XGROUP")
                .arg("DESTROY")
                .arg(&stream)
                .arg(&group)
                .query_async(&mut admin)
                .await
                .unwrap();
            let per_second = rate(options.messages, handling);
            #[allow(clippy::cast_precision_loss)] // message counts are far below 2^52
            let cpu_per_message = cpu.map_or(f64::NAN, |cpu| {
                cpu.as_secs_f64() * 1e6 / options.messages as f64
            });
            println!(
                "round {round}: {:<47} {:>10.0} msg/s  {:>5.2} µs CPU/msg  (handling {:.2} s)",
                variant.name,
                per_second,
                cpu_per_message,
                handling.as_secs_f64(),
            );
            rates[index].push(per_second);
            cpus[index].push(cpu_per_message);
        }
    }
    let _: i64 = redis::cmd("DEL")
        .arg(&stream)
        .query_async(&mut admin)
        .await
        .unwrap();

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
}
