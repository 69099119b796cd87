//! Throughput of amgi-amqp against a hand-written lapin consumer, and request round-trip
//! latency of AsyncFast's `Publisher::request` + `Reply` against a hand-written lapin
//! requester and responder, on the same RabbitMQ, in the same run.
//!
//! ```text
//! CARGO_TARGET_DIR=target/release-bench cargo run --release -p amgi-amqp --example bench -- --messages 20000
//! ```
//!
//! Options: `--messages N` (default 20000), `--rounds N` (5), `--requests N` (1000),
//! `--url URL` (`amqp://guest:guest@127.0.0.1:5672/%2f`).
//!
//! Throughput. Each round, every variant gets a queue of its own, and N messages are published
//! to each queue first (confirmed), each with the payload
//! `{"id":12345,"email":"alice@example.com","tags":["new","trial","eu"]}` and a
//! `correlation-id` header; then each variant consumes its backlog in turn, so that
//! publishing never competes with consuming for the cores. A variant's rate is N divided by
//! the time from its start (connecting included) to its last message handled. Variants
//! alternate their order from round to round; the median round is reported, with the CPU
//! time this process (not the broker's) spent per message. Every variant uses a prefetch of 16
//! (amgi-amqp's default batch size), deserialises the payload, reads the header and acks each
//! message (`basic.ack`, one per message) after handling it.
//!
//! Variants: (a) a hand-written lapin consumer with manual acks, (b) a raw AMGI application on
//! amgi-amqp, (c) the AsyncFast quickstart handler (`Payload<UserCreated>` +
//! `Header<String>`) on amgi-amqp.
//!
//! Requests: `--requests` sequential requests `{"x":…,"y":7}` answered with their product,
//! timed one by one from the requester's call to its decoded reply: (r1) a lapin requester on
//! direct reply-to and a lapin responder that publishes the reply (no confirm) and acks the
//! request; (r2) `Publisher::request` on amgi-amqp (direct reply-to) and an AsyncFast handler
//! returning `Reply<i64>` on amgi-amqp, which publishes the reply with a publisher confirm and
//! then acks the request.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use amgi_amqp::{AmqpConfig, AmqpUrl};
use amgi_core::{
    Application, ApplicationError, ReceiveEvent, Receiver, Scope, SendEvent, SharedSender,
};
use asyncfast::Reply;
use asyncfast::prelude::*;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

const PAYLOAD: &str = r#"{"id":12345,"email":"alice@example.com","tags":["new","trial","eu"]}"#;

/// The prefetch of every variant: amgi-amqp's default batch size.
const PREFETCH: u16 = 16;

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
    requests: usize,
    url: String,
}

impl Options {
    fn parse() -> Self {
        let mut options = Self {
            messages: 20_000,
            rounds: 5,
            requests: 1000,
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let value = args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
            match arg.as_str() {
                "--messages" => options.messages = value.parse().expect("--messages N"),
                "--rounds" => options.rounds = value.parse().expect("--rounds N"),
                "--requests" => options.requests = value.parse().expect("--requests N"),
                "--url" => options.url = value,
                other => panic!("unknown option {other}"),
            }
        }
        options
    }
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

async fn connect(options: &Options) -> Connection {
    Connection::connect(&options.url, ConnectionProperties::default())
        .await
        .expect("no RabbitMQ at --url; start one with scripts/brokers-up")
}

/// Declares `queue` and publishes the backlog to it, confirmed.
async fn publish_backlog(options: &Options, queue: &str) -> Duration {
    let connection = connect(options).await;
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    declare(&channel, queue).await;
    let started = Instant::now();
    let mut headers = FieldTable::default();
    headers.insert(
        "correlation-id".into(),
        AMQPValue::LongString(LongString::from("c-12345")),
    );
    let properties = BasicProperties::default()
        .with_headers(headers)
        .with_delivery_mode(2);
    let mut confirms = Vec::with_capacity(1000);
    for _ in 0..options.messages {
        let confirm = channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                PAYLOAD.as_bytes(),
                properties.clone(),
            )
            .await
            .unwrap();
        confirms.push(confirm);
        if confirms.len() == 1000 {
            for confirm in confirms.drain(..) {
                confirm.await.unwrap();
            }
        }
    }
    for confirm in confirms {
        confirm.await.unwrap();
    }
    let elapsed = started.elapsed();
    let _ = connection.close(200, "published".into()).await;
    elapsed
}

async fn declare(channel: &Channel, queue: &str) {
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await
        .unwrap();
}

async fn delete(options: &Options, queues: &[String]) {
    let connection = connect(options).await;
    let channel = connection.create_channel().await.unwrap();
    for queue in queues {
        for name in [queue.clone(), format!("{queue}.dlq")] {
            let _ = channel
                .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
    }
    let _ = connection.close(200, "deleted".into()).await;
}

/// (a) A hand-written lapin consumer: prefetch 16, decode, read the header, ack.
async fn raw_lapin(options: Options, queue: String) -> Duration {
    let started = Instant::now();
    let connection = connect(&options).await;
    let channel = connection.create_channel().await.unwrap();
    channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await
        .unwrap();
    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    for _ in 0..options.messages {
        let delivery = consumer.next().await.unwrap().unwrap();
        let user: UserCreated = serde_json::from_slice(&delivery.data).unwrap();
        std::hint::black_box(user);
        let header = (delivery.properties.headers().as_ref())
            .and_then(|headers| headers.inner().get("correlation-id"))
            .and_then(|value| match value {
                AMQPValue::LongString(text) => std::str::from_utf8(text.as_bytes()).ok(),
                _ => None,
            });
        std::hint::black_box(header);
        delivery.ack(BasicAckOptions::default()).await.unwrap();
    }
    let elapsed = started.elapsed();
    let _ = connection.close(200, "done".into()).await;
    elapsed
}

/// What the applications of (b) and (c) count.
#[derive(Debug)]
struct Progress {
    target: usize,
    handled: AtomicUsize,
    last: OnceLock<Instant>,
    done: Notify,
}

impl Progress {
    fn new(target: usize) -> Arc<Self> {
        Arc::new(Self {
            target,
            handled: AtomicUsize::new(0),
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

fn config(options: &Options, queues: &[&str]) -> AmqpConfig {
    AmqpConfig::new(AmqpUrl::new(&options.url))
        .queues(queues.iter().copied())
        .batch_size(usize::from(PREFETCH))
}

/// Runs `app` on amgi-amqp until `progress` counted every message.
async fn serve<A: Application>(
    app: A,
    progress: &Progress,
    options: &Options,
    queue: &str,
    started: Instant,
) -> Duration {
    let handle = amgi_amqp::Server::new(app, config(options, &[queue]))
        .start()
        .await
        .expect("start");
    progress.done.notified().await;
    let elapsed = *progress.last.get().unwrap() - started;
    handle.shutdown().await.expect("shutdown");
    elapsed
}

/// (b) The same work as a raw AMGI application run by amgi-amqp.
async fn amgi_raw(options: Options, queue: String) -> Duration {
    let started = Instant::now();
    let progress = Progress::new(options.messages);
    let app = DecodeAndAck {
        progress: Arc::clone(&progress),
    };
    serve(app, &progress, &options, &queue, started).await
}

/// The `{run}` of the queue's name: required by the channel's address template, not read.
#[derive(Debug)]
struct RunId;

impl std::str::FromStr for RunId {
    type Err = std::convert::Infallible;

    fn from_str(_: &str) -> Result<Self, Self::Err> {
        Ok(Self)
    }
}

/// The quickstart's handler, minus the `println!`.
#[channel("bench.{run}")]
async fn handle_user_created(
    payload: Payload<UserCreated>,
    correlation_id: Header<String>,
    progress: State<Progress>,
    run: Param<RunId>,
) {
    std::hint::black_box(run);
    std::hint::black_box(payload);
    std::hint::black_box(correlation_id);
    progress.count_one();
}

/// (c) The AsyncFast application on amgi-amqp, configured as (b).
async fn asyncfast_app(options: Options, queue: String) -> Duration {
    let started = Instant::now();
    let progress = Progress::new(options.messages);
    let app = AsyncFast::empty()
        .state_arc(Arc::clone(&progress))
        .channel(handler!(handle_user_created));
    serve(app, &progress, &options, &queue, started).await
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
struct Multiply {
    x: i64,
    y: i64,
}

/// (r1) A lapin responder and a lapin requester on direct reply-to.
async fn raw_requests(options: &Options, queue: &str) -> Vec<Duration> {
    let connection = connect(options).await;
    let responder = connection.create_channel().await.unwrap();
    declare(&responder, queue).await;
    responder
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await
        .unwrap();
    let mut requests = responder
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let answering = tokio::spawn(async move {
        while let Some(Ok(request)) = requests.next().await {
            let args: Multiply = serde_json::from_slice(&request.data).unwrap();
            let reply = serde_json::to_vec(&(args.x * args.y)).unwrap();
            let properties = &request.properties;
            let mut reply_properties = BasicProperties::default();
            if let Some(id) = properties.correlation_id() {
                reply_properties = reply_properties.with_correlation_id(id.clone());
            }
            let reply_to = properties.reply_to().clone().unwrap();
            responder
                .basic_publish(
                    "".into(),
                    reply_to,
                    BasicPublishOptions::default(),
                    &reply,
                    reply_properties,
                )
                .await
                .unwrap();
            request.ack(BasicAckOptions::default()).await.unwrap();
        }
    });
    let requester = connection.create_channel().await.unwrap();
    let mut replies = requester
        .basic_consume(
            "amq.rabbitmq.reply-to".into(),
            "".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut latencies = Vec::with_capacity(options.requests);
    for x in 0..options.requests {
        let started = Instant::now();
        let id = x.to_string();
        let payload = serde_json::to_vec(&Multiply {
            x: i64::try_from(x).unwrap(),
            y: 7,
        })
        .unwrap();
        let properties = BasicProperties::default()
            .with_reply_to("amq.rabbitmq.reply-to".into())
            .with_correlation_id(id.as_str().into());
        requester
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                &payload,
                properties,
            )
            .await
            .unwrap();
        let reply = replies.next().await.unwrap().unwrap();
        let product: i64 = serde_json::from_slice(&reply.data).unwrap();
        assert_eq!(product, i64::try_from(x).unwrap() * 7);
        latencies.push(started.elapsed());
    }
    answering.abort();
    let _ = connection.close(200, "done".into()).await;
    latencies
}

#[channel("bench.multiply.{run}")]
async fn multiply(args: Payload<Multiply>, run: Param<RunId>) -> Reply<i64> {
    std::hint::black_box(run);
    Reply(args.x * args.y)
}

/// (r2) `Publisher::request` on amgi-amqp and an AsyncFast `Reply<i64>` handler on amgi-amqp.
async fn asyncfast_requests(options: &Options, queue: &str) -> Vec<Duration> {
    let responder = amgi_amqp::Server::new(
        AsyncFast::empty().channel(handler!(multiply)),
        config(options, &[queue]),
    )
    .start()
    .await
    .expect("start the responder");
    let asker = AsyncFast::empty();
    let publisher = asker.publisher();
    let requester = amgi_amqp::Server::new(asker, config(options, &[]))
        .start()
        .await
        .expect("start the requester");
    let mut latencies = Vec::with_capacity(options.requests);
    for x in 0..options.requests {
        let x = i64::try_from(x).unwrap();
        let started = Instant::now();
        let product: i64 = publisher
            .request(queue, &Multiply { x, y: 7 })
            .timeout(Duration::from_secs(10))
            .await
            .expect("a reply");
        assert_eq!(product, x * 7);
        latencies.push(started.elapsed());
    }
    requester.shutdown().await.unwrap();
    responder.shutdown().await.unwrap();
    latencies
}

fn percentile(latencies: &mut [Duration], percent: usize) -> Duration {
    latencies.sort_unstable();
    let index = (latencies.len() * percent / 100).min(latencies.len() - 1);
    latencies[index]
}

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

type Run = fn(Options, String) -> std::pin::Pin<Box<dyn Future<Output = Duration> + Send>>;

#[tokio::main]
async fn main() {
    let options = Options::parse();
    println!(
        "amgi-amqp bench: {} messages, {} rounds, {} requests, RabbitMQ at {}",
        options.messages,
        options.rounds,
        options.requests,
        AmqpUrl::new(&options.url)
    );
    let variants: [(&str, Run); 3] = [
        ("(a) raw lapin, manual acks", |o, q| {
            Box::pin(raw_lapin(o, q))
        }),
        ("(b) raw AMGI app on amgi-amqp", |o, q| {
            Box::pin(amgi_raw(o, q))
        }),
        ("(c) AsyncFast quickstart handler on amgi-amqp", |o, q| {
            Box::pin(asyncfast_app(o, q))
        }),
    ];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    let mut cpus: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for round in 0..options.rounds {
        let queues: Vec<String> = (0..variants.len())
            .map(|index| unique(&format!("bench.{round}{index}")))
            .collect();
        for queue in &queues {
            let published = publish_backlog(&options, queue).await;
            println!(
                "round {round}: published to {queue} in {:.2} s ({:.0} msg/s)",
                published.as_secs_f64(),
                rate(options.messages, published)
            );
        }
        let mut order: Vec<usize> = (0..variants.len()).collect();
        order.rotate_left(round % variants.len());
        for index in order {
            let (name, run) = variants[index];
            let cpu_before = cpu_time();
            let elapsed = run(options.clone(), queues[index].clone()).await;
            let cpu = cpu_time()
                .zip(cpu_before)
                .map(|(after, before)| after.saturating_sub(before));
            let per_second = rate(options.messages, elapsed);
            #[allow(clippy::cast_precision_loss)] // message counts are far below 2^52
            let cpu_per_message = cpu.map_or(f64::NAN, |cpu| {
                cpu.as_secs_f64() * 1e6 / options.messages as f64
            });
            println!(
                "round {round}: {name:<47} {per_second:>10.0} msg/s  {cpu_per_message:>5.2} µs CPU/msg  ({:.3} s)",
                elapsed.as_secs_f64()
            );
            rates[index].push(per_second);
            cpus[index].push(cpu_per_message);
        }
        delete(&options, &queues).await;
    }
    println!();
    println!("| variant | median msg/s | best msg/s | vs (a) | median CPU µs/msg |");
    println!("|---|---:|---:|---:|---:|");
    let baseline = median(rates[0].clone());
    for (((name, _), rates), cpus) in variants.iter().zip(&rates).zip(&cpus) {
        let median_rate = median(rates.clone());
        let best = rates.iter().copied().fold(f64::MIN, f64::max);
        println!(
            "| {name} | {median_rate:.0} | {best:.0} | {:.1} % | {:.2} |",
            100.0 * median_rate / baseline,
            median(cpus.clone())
        );
    }

    println!();
    let queues = [unique("bench.multiply.raw"), unique("bench.multiply.af")];
    let mut raw = raw_requests(&options, &queues[0]).await;
    let mut asyncfast = asyncfast_requests(&options, &queues[1]).await;
    delete(&options, &queues).await;
    println!("| requests ({} sequential) | p50 | p99 |", options.requests);
    println!("|---|---:|---:|");
    for (name, latencies) in [
        ("(r1) raw lapin requester + responder", &mut raw),
        (
            "(r2) Publisher::request + Reply<i64> on amgi-amqp",
            &mut asyncfast,
        ),
    ] {
        let (p50, p99) = (percentile(latencies, 50), percentile(latencies, 99));
        println!(
            "| {name} | {:.0} µs | {:.0} µs |",
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
    }
}
