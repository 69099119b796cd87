//! Throughput and API calls per message of amgi-sqs against a hand-written aws-sdk-sqs
//! receive/delete loop, on the same SQS (moto by default), in the same run.
//!
//! ```text
//! scripts/brokers-up
//! cargo run --release -p amgi-sqs --example bench -- --messages 2000 --rounds 3
//! ```
//!
//! Options: `--messages N` (2000), `--rounds N` (3), `--endpoint-url URL`
//! (`http://127.0.0.1:4566`), `--pollers N` (4: concurrent receive loops of (a), batches in
//! flight of (b) and (c)), `--linger-ms N` (amgi-sqs's delete linger, default 20).
//!
//! For each round and variant, a fresh queue is filled with N messages (`SendMessageBatch`,
//! not measured), each with the payload `{"id":12345,"email":"alice@example.com",…}` and a
//! `correlation-id` String attribute. Then the variant consumes all of them: it decodes the
//! JSON into a struct, reads the correlation id and deletes (acks) the message. A variant's
//! rate is N divided by the time from its first handled message to its last; its API calls are
//! those of its own client (counted by an interceptor) from its start until it stopped, per
//! message. The median round is reported.
//!
//! Variants: (a) a hand-written loop: `ReceiveMessage` (10, long poll), handle each message,
//! one `DeleteMessageBatch` per receive; (b) a raw AMGI application on amgi-sqs; (c) the
//! AsyncFast quickstart handler (`Payload<UserCreated>` + `Header<String>`) on amgi-sqs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use amgi_core::{
    Application, ApplicationError, ReceiveEvent, Receiver, Scope, SendEvent, SharedSender,
};
use amgi_sqs::{Server, SqsConfig};
use asyncfast::prelude::*;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sqs::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageAttributeValue, SendMessageBatchRequestEntry,
};
use schemars::JsonSchema;
use serde::Deserialize;
use tokio::sync::Notify;

const PAYLOAD: &str = r#"{"id":12345,"email":"alice@example.com","tags":["new","trial","eu"]}"#;

/// The payload, as every variant decodes it.
#[derive(Debug, Deserialize, JsonSchema)]
struct UserCreated {
    id: u64,
    email: String,
    tags: Vec<String>,
}

/// Counts the SQS calls of a client by operation.
#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<HashMap<String, usize>>>);

impl Calls {
    fn snapshot(&self) -> HashMap<String, usize> {
        self.0.lock().unwrap().clone()
    }
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "Calls"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_sqs::error::BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        *self.0.lock().unwrap().entry(operation).or_default() += 1;
        Ok(())
    }
}

struct Options {
    messages: usize,
    rounds: usize,
    endpoint: String,
    pollers: usize,
    linger: Duration,
}

fn options() -> Options {
    let mut options = Options {
        messages: 2000,
        rounds: 3,
        endpoint: "http://127.0.0.1:4566".to_owned(),
        pollers: 4,
        linger: amgi_sqs::DEFAULT_LINGER,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--messages" => options.messages = value.parse().expect("--messages N"),
            "--rounds" => options.rounds = value.parse().expect("--rounds N"),
            "--endpoint-url" => options.endpoint = value,
            "--pollers" => options.pollers = value.parse().expect("--pollers N"),
            "--linger-ms" => {
                options.linger = Duration::from_millis(value.parse().expect("--linger-ms N"));
            }
            other => panic!("unknown option {other}"),
        }
    }
    options
}

fn client(endpoint: &str, calls: &Calls) -> Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "bench"))
        .interceptor(calls.clone())
        .build();
    Client::from_conf(config)
}

/// Counts handled messages; the last one stops the clock.
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
        self.first.get_or_init(Instant::now);
        if self.handled.fetch_add(1, Ordering::AcqRel) + 1 == self.target {
            self.last.get_or_init(Instant::now);
            self.done.notify_one();
        }
    }

    async fn wait(&self) {
        while self.handled.load(Ordering::Acquire) < self.target {
            let notified = self.done.notified();
            if self.handled.load(Ordering::Acquire) >= self.target {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
        }
    }

    fn seconds(&self) -> f64 {
        let first = self.first.get().expect("a first message");
        let last = self.last.get().expect("a last message");
        last.duration_since(*first).as_secs_f64()
    }
}

/// A fresh queue holding `count` messages.
async fn fill(endpoint: &str, count: usize) -> String {
    let client = client(endpoint, &Calls::default());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000_000;
    let name = format!("bench-{}-{nanos}", std::process::id());
    let url = client
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("CreateQueue (is SQS up? scripts/brokers-up)")
        .queue_url()
        .unwrap()
        .to_owned();
    let correlation = MessageAttributeValue::builder()
        .data_type("String")
        .string_value("c-1")
        .build()
        .unwrap();
    let mut sends = tokio::task::JoinSet::new();
    for chunk in 0..count.div_ceil(10) {
        let entries: Vec<_> = (chunk * 10..count.min(chunk * 10 + 10))
            .map(|i| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(PAYLOAD)
                    .message_attributes("correlation-id", correlation.clone())
                    .build()
                    .unwrap()
            })
            .collect();
        let (client, url) = (client.clone(), url.clone());
        sends.spawn(async move {
            client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .expect("SendMessageBatch")
        });
        if sends.len() >= 8 {
            sends.join_next().await;
        }
    }
    while sends.join_next().await.is_some() {}
    name
}

/// (a) `ReceiveMessage`, handle, one `DeleteMessageBatch` per receive, in `pollers` loops.
async fn raw_loop(client: Client, url: String, progress: Arc<Progress>, pollers: usize) {
    let mut loops = tokio::task::JoinSet::new();
    for _ in 0..pollers {
        let (client, url, progress) = (client.clone(), url.clone(), Arc::clone(&progress));
        loops.spawn(async move {
            while progress.handled.load(Ordering::Acquire) < progress.target {
                let received = client
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(10)
                    .wait_time_seconds(1)
                    .message_attribute_names("All")
                    .send()
                    .await
                    .expect("ReceiveMessage");
                let messages = received.messages.unwrap_or_default();
                if messages.is_empty() {
                    continue;
                }
                let mut entries = Vec::with_capacity(messages.len());
                for (i, message) in messages.iter().enumerate() {
                    let user: UserCreated =
                        serde_json::from_str(message.body().unwrap()).expect("JSON");
                    let correlation = message
                        .message_attributes()
                        .and_then(|a| a.get("correlation-id"))
                        .and_then(MessageAttributeValue::string_value);
                    std::hint::black_box((user.id, user.email.len(), user.tags.len(), correlation));
                    entries.push(
                        DeleteMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .receipt_handle(message.receipt_handle().unwrap())
                            .build()
                            .unwrap(),
                    );
                }
                client
                    .delete_message_batch()
                    .queue_url(&url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .expect("DeleteMessageBatch");
                for _ in &messages {
                    progress.count_one();
                }
            }
        });
    }
    while loops.join_next().await.is_some() {}
}

/// (b) A raw AMGI application: decode, read the header, ack.
struct RawApp(Arc<Progress>);

impl Application for RawApp {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        if let Scope::Lifespan(_) = scope {
            loop {
                match receive.receive().await? {
                    ReceiveEvent::LifespanStartup => {
                        send.send(SendEvent::LifespanStartupComplete).await?;
                    }
                    ReceiveEvent::LifespanShutdown => {
                        send.send(SendEvent::LifespanShutdownComplete).await?;
                        return Ok(());
                    }
                    _ => {}
                }
            }
        }
        loop {
            let ReceiveEvent::Message(message) = receive.receive().await? else {
                continue;
            };
            let payload = message.payload.as_deref().unwrap_or_default();
            let user: UserCreated = serde_json::from_slice(payload)
                .map_err(|error| ApplicationError::msg(error.to_string()))?;
            let correlation = message.headers.get(b"correlation-id");
            std::hint::black_box((user.id, user.email.len(), user.tags.len(), correlation));
            send.send(SendEvent::ack(message.id)).await?;
            self.0.count_one();
            if !message.more_messages {
                return Ok(());
            }
        }
    }
}

/// (c) The quickstart's handler.
#[channel("bench.users")]
async fn handle_user_created(
    payload: Payload<UserCreated>,
    correlation_id: Header<String>,
    progress: State<Arc<Progress>>,
) {
    let UserCreated { id, email, tags } = payload.0;
    std::hint::black_box((id, email.len(), tags.len(), correlation_id.0));
    progress.count_one();
}

/// Runs `app` on amgi-sqs until `progress` counted every message.
async fn on_amgi_sqs<A: Application>(
    app: A,
    client: Client,
    queue: &str,
    progress: &Progress,
    options: &Options,
) {
    let config = SqsConfig::new()
        .client(client)
        .map("bench.users", queue)
        .wait_time(Duration::from_secs(1))
        .in_flight(options.pollers)
        .linger(options.linger);
    let handle = Server::new(app, config)
        .start()
        .await
        .expect("start amgi-sqs");
    progress.wait().await;
    handle.shutdown().await.expect("shutdown");
}

struct Measurement {
    rate: f64,
    calls: HashMap<String, usize>,
}

async fn run(variant: char, options: &Options) -> Measurement {
    let queue = fill(&options.endpoint, options.messages).await;
    let calls = Calls::default();
    let client = client(&options.endpoint, &calls);
    let progress = Progress::new(options.messages);
    match variant {
        'a' => {
            let url = client
                .get_queue_url()
                .queue_name(&queue)
                .send()
                .await
                .unwrap();
            let url = url.queue_url().unwrap().to_owned();
            raw_loop(client, url, Arc::clone(&progress), options.pollers).await;
        }
        'b' => {
            on_amgi_sqs(
                RawApp(Arc::clone(&progress)),
                client,
                &queue,
                &progress,
                options,
            )
            .await;
        }
        _ => {
            let app = AsyncFast::empty()
                .state(Arc::clone(&progress))
                .channel(handler!(handle_user_created));
            on_amgi_sqs(app, client, &queue, &progress, options).await;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = options.messages as f64 / progress.seconds();
    Measurement {
        rate,
        calls: calls.snapshot(),
    }
}

#[tokio::main]
async fn main() {
    let options = options();
    let names = [
        ('a', "(a) raw aws-sdk-sqs receive/delete loop"),
        ('b', "(b) raw AMGI application on amgi-sqs"),
        ('c', "(c) AsyncFast quickstart handler on amgi-sqs"),
    ];
    let mut results: HashMap<char, Vec<Measurement>> = HashMap::new();
    for round in 0..options.rounds {
        // Alternate the order from round to round.
        let mut order: Vec<char> = names.iter().map(|(v, _)| *v).collect();
        let variants = order.len();
        order.rotate_left(round % variants);
        for variant in order {
            let measurement = run(variant, &options).await;
            eprintln!("round {round} {variant}: {:.0} msg/s", measurement.rate);
            results.entry(variant).or_default().push(measurement);
        }
    }
    println!(
        "{} messages, {} rounds, {} pollers / batches in flight, linger {:?}, endpoint {}",
        options.messages, options.rounds, options.pollers, options.linger, options.endpoint
    );
    println!(
        "| variant | msg/s (median) | API calls per message | ReceiveMessage | DeleteMessageBatch | other |"
    );
    println!("|---|---|---|---|---|---|");
    for (variant, name) in names {
        let mut measurements = results.remove(&variant).unwrap_or_default();
        measurements.sort_by(|a, b| a.rate.total_cmp(&b.rate));
        let median = &measurements[measurements.len() / 2];
        let get = |op: &str| median.calls.get(op).copied().unwrap_or(0);
        let total: usize = median.calls.values().sum();
        let other = total - get("ReceiveMessage") - get("DeleteMessageBatch");
        #[allow(clippy::cast_precision_loss)]
        let per_message = total as f64 / options.messages as f64;
        println!(
            "| {name} | {:.0} | {per_message:.3} | {} | {} | {other} |",
            median.rate,
            get("ReceiveMessage"),
            get("DeleteMessageBatch"),
        );
    }
}
