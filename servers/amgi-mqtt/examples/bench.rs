//! Throughput of amgi-mqtt against a hand-written rumqttc consumer, on the same broker and the
//! same messages, in the same run.
//!
//! ```text
//! cargo run --release -p amgi-mqtt --example bench -- --messages 100000
//! ```
//!
//! Options: `--messages N` (default 100000), `--rounds N` (5), `--batch-size N` (amgi-mqtt's
//! default), `--only c` (run the variants whose name starts with `(c)`; for profiling).
//!
//! The bench runs a private Mosquitto (`mosquitto` on the `PATH`) on a free loopback port, with
//! `max_queued_messages 0` (no limit on what an offline session holds; the default, 1000, would
//! drop most of the backlog) and `max_inflight_messages 0` (the broker sends as many unacked
//! QoS 1 messages as the client's receive maximum allows, 65535 for both clients here; with
//! Mosquitto's default of 20, every variant waits for round trips and the bench measures
//! that window instead of the consumers).
//!
//! Each round, every variant gets a persistent session of its own (fixed client id, clean
//! start off, a QoS 1 subscription), left offline; then N messages are published once, QoS 1,
//! each with the payload `{"id":12345,"email":"alice@example.com","tags":["new","trial","eu"]}`
//! and a `correlation-id` user property: the broker queues all N in each session. Then each
//! variant connects in turn and consumes its backlog, so that publishing never competes with
//! consuming for the two cores, and every variant reads the same messages from the same
//! broker. A variant's rate is N divided by the time from the start of its connection to its
//! last message handled: the queued messages start flowing as soon as the broker accepts the
//! connection, while amgi-mqtt still runs lifespan startup and subscribes, so counting from
//! the first message the application sees would leave out what amgi-mqtt received meanwhile.
//! Variants alternate their order from round to round; the median round is reported, with the
//! CPU time this process (not the broker's) spent per message.
//!
//! Variants: (a) a hand-written rumqttc v5 loop with manual acks, (b) a raw AMGI application on
//! amgi-mqtt, (c) the AsyncFast quickstart handler (`Payload<UserCreated>` +
//! `Header<String>`) on amgi-mqtt. Every variant deserialises the JSON payload, reads the
//! `correlation-id` user property and `PUBACK`s each message after handling it, in order.

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
use amgi_mqtt::MqttConfig;
use asyncfast::prelude::*;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
use schemars::JsonSchema;
use serde::Deserialize;
use tokio::sync::{Notify, mpsc};

const PAYLOAD: &str = r#"{"id":12345,"email":"alice@example.com","tags":["new","trial","eu"]}"#;

/// How long the broker keeps a session the bench left offline.
const SESSION_EXPIRY: u32 = 600;

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
    batch_size: Option<usize>,
    only: Option<String>,
    port: u16,
}

impl Options {
    fn parse() -> Self {
        let mut options = Self {
            messages: 100_000,
            rounds: 5,
            batch_size: None,
            only: None,
            port: 0,
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
                "--batch-size" => options.batch_size = Some(number()),
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
    /// From the first message handled to the last.
    handling: Duration,
    /// From connecting to the last message handled.
    total: Duration,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// One way of consuming the backlog of a session.
struct Variant {
    name: &'static str,
    run: fn(Options, String, String) -> BoxFuture<Measurement>,
}

/// The variants, in the order of the first round.
fn variants() -> Vec<Variant> {
    vec![
        Variant {
            name: "(a) raw rumqttc v5 QoS 1 manual-ack loop",
            run: |o, topic, id| Box::pin(raw_rumqttc(o, topic, id)),
        },
        Variant {
            name: "(b) raw AMGI application on amgi-mqtt",
            run: |o, topic, id| Box::pin(amgi_raw(o, topic, id)),
        },
        Variant {
            name: "(c) AsyncFast quickstart handler on amgi-mqtt",
            run: |o, topic, id| Box::pin(asyncfast_app(o, topic, id)),
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

/// Options of a persistent session as `client_id` on the bench's broker.
fn session_options(options: &Options, client_id: &str) -> MqttOptions {
    let mut mqtt = MqttOptions::new(client_id, "127.0.0.1", options.port);
    mqtt.set_clean_start(false)
        .set_session_expiry_interval(Some(SESSION_EXPIRY))
        .set_manual_acks(true)
        .set_keep_alive(Duration::from_secs(30));
    mqtt
}

/// Polls `eventloop` until `done` says so.
async fn poll_until(eventloop: &mut EventLoop, mut done: impl FnMut(&Packet) -> bool) {
    loop {
        match eventloop.poll().await.expect("bench connection") {
            Event::Incoming(packet) if done(&packet) => return,
            _ => {}
        }
    }
}

/// Creates the session `client_id` with a QoS 1 subscription to `topic`, and leaves it
/// offline.
async fn create_session(options: &Options, client_id: &str, topic: &str) {
    let (client, mut eventloop) = AsyncClient::new(session_options(options, client_id), 16);
    poll_until(&mut eventloop, |p| matches!(p, Packet::ConnAck(_))).await;
    client.subscribe(topic, QoS::AtLeastOnce).await.unwrap();
    poll_until(&mut eventloop, |p| matches!(p, Packet::SubAck(_))).await;
    client.disconnect().await.unwrap();
    while eventloop.poll().await.is_ok() {}
}

/// Publishes the N messages with QoS 1 and waits for every `PUBACK`.
async fn publish(options: &Options, topic: &str) -> Duration {
    let mut mqtt = MqttOptions::new(unique("bench-producer"), "127.0.0.1", options.port);
    mqtt.set_outgoing_inflight_upper_limit(1000);
    let (client, mut eventloop) = AsyncClient::new(mqtt, 1000);
    let started = Instant::now();
    let messages = options.messages;
    let topic = topic.to_owned();
    let producer = tokio::spawn(async move {
        for i in 0..messages {
            let properties = PublishProperties {
                user_properties: vec![("correlation-id".into(), format!("c-{i}"))],
                ..PublishProperties::default()
            };
            client
                .publish_with_properties(
                    topic.as_str(),
                    QoS::AtLeastOnce,
                    false,
                    PAYLOAD,
                    properties,
                )
                .await
                .unwrap();
        }
        client
    });
    let mut acked = 0;
    while acked < messages {
        if let Event::Incoming(Packet::PubAck(_)) = eventloop.poll().await.expect("producer") {
            acked += 1;
        }
    }
    let client = producer.await.unwrap();
    let elapsed = started.elapsed();
    client.disconnect().await.unwrap();
    while eventloop.poll().await.is_ok() {}
    elapsed
}

fn correlation_id(properties: Option<&PublishProperties>) -> Option<&str> {
    properties?
        .user_properties
        .iter()
        .find(|(name, _)| name == "correlation-id")
        .map(|(_, value)| value.as_str())
}

/// (a) A hand-written loop: one task polls the event loop and hands each `PUBLISH` to a
/// second, which decodes it, reads the user property and `PUBACK`s it (`client.ack`, in
/// order) — the shape rumqttc's documentation recommends for manual acks.
async fn raw_rumqttc(options: Options, _topic: String, client_id: String) -> Measurement {
    let started = Instant::now();
    let (client, mut eventloop) = AsyncClient::new(session_options(&options, &client_id), 256);
    let (publishes_tx, mut publishes) = mpsc::unbounded_channel();
    let poller = tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    if publishes_tx.send(publish).is_err() {
                        return eventloop;
                    }
                }
                Ok(_) => {}
                Err(error) => panic!("raw consumer: {error}"),
            }
        }
    });
    let mut first = None;
    for handled in 0..options.messages {
        let publish = publishes.recv().await.expect("poller gone");
        if handled == 0 {
            first = Some(Instant::now());
        }
        let user: UserCreated = serde_json::from_slice(&publish.payload).expect("valid JSON");
        std::hint::black_box(user);
        std::hint::black_box(correlation_id(publish.properties.as_ref()));
        client.ack(&publish).await.expect("ack");
    }
    let end = Instant::now();
    drop(publishes);
    client.disconnect().await.unwrap();
    poller.abort();
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

/// (b) The same work as a raw AMGI application run by amgi-mqtt with its defaults.
async fn amgi_raw(options: Options, topic: String, client_id: String) -> Measurement {
    let started = Instant::now();
    let progress = Progress::new(options.messages);
    let app = DecodeAndAck {
        progress: Arc::clone(&progress),
    };
    serve_on_mqtt(app, &progress, &options, topic, client_id, started).await
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

/// Runs `app` on amgi-mqtt, configured the same way for (b) and (c), until `progress` has
/// counted every message; then shuts down and reports the times.
async fn serve_on_mqtt<A: Application>(
    app: A,
    progress: &Progress,
    options: &Options,
    topic: String,
    client_id: String,
    started: Instant,
) -> Measurement {
    let mut config = MqttConfig::new("127.0.0.1", options.port, client_id)
        .topics([topic])
        .session_expiry(Duration::from_secs(SESSION_EXPIRY.into()));
    if let Some(size) = options.batch_size {
        config = config.batch_size(size);
    }
    let handle = amgi_mqtt::Server::new(app, config)
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

/// The `{run}` of the topic's name (`bench/…`, a new topic for each run): required by the
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
#[channel("bench/{run}")]
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

/// (c) The AsyncFast application (only the handler above) on amgi-mqtt, configured as (b).
async fn asyncfast_app(options: Options, topic: String, client_id: String) -> Measurement {
    let started = Instant::now();
    let progress = Progress::new(options.messages);
    let app = AsyncFast::empty()
        .state_arc(Arc::clone(&progress))
        .channel(handler!(handle_user_created));
    serve_on_mqtt(app, &progress, &options, topic, client_id, started).await
}

/// The bench's private Mosquitto; killed when dropped.
struct Broker {
    child: tokio::process::Child,
    dir: PathBuf,
}

impl Broker {
    async fn start() -> (Self, u16) {
        let dir = std::env::temp_dir().join(unique("amgi-mqtt-bench"));
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\nuser root\n\
                 max_queued_messages 0\nmax_inflight_messages 0\n"
            ),
        )
        .unwrap();
        let child = tokio::process::Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the bench runs `mosquitto` (Debian: apt-get install mosquitto)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "mosquitto did not start");
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

#[tokio::main]
async fn main() {
    let mut options = Options::parse();
    let (broker, port) = Broker::start().await;
    options.port = port;
    println!(
        "amgi-mqtt bench: {} messages, {} rounds, private mosquitto on 127.0.0.1:{port}",
        options.messages, options.rounds
    );
    let mut variants = variants();
    if let Some(only) = &options.only {
        variants.retain(|v| v.name.starts_with(&format!("({only})")));
    }
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    let mut cpus: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for round in 0..options.rounds {
        let topic = format!("bench/{}", unique("run"));
        let sessions: Vec<String> = (0..variants.len())
            .map(|index| unique(&format!("bench-{round}-{index}")))
            .collect();
        for session in &sessions {
            create_session(&options, session, &topic).await;
        }
        let published = publish(&options, &topic).await;
        println!(
            "round {round}: published to {topic} in {:.2} s ({:.0} msg/s)",
            published.as_secs_f64(),
            rate(options.messages, published)
        );
        let mut order: Vec<usize> = (0..variants.len()).collect();
        order.rotate_left(round % variants.len());
        for index in order {
            let variant = &variants[index];
            let cpu_before = cpu_time();
            let measured =
                (variant.run)(options.clone(), topic.clone(), sessions[index].clone()).await;
            let cpu = cpu_time()
                .zip(cpu_before)
                .map(|(after, before)| after.saturating_sub(before));
            let per_second = rate(options.messages, measured.total);
            #[allow(clippy::cast_precision_loss)] // message counts are far below 2^52
            let cpu_per_message = cpu.map_or(f64::NAN, |cpu| {
                cpu.as_secs_f64() * 1e6 / options.messages as f64
            });
            println!(
                "round {round}: {:<47} {:>10.0} msg/s  {:>5.2} µs CPU/msg  (connect to last {:.3} s, first to last {:.3} s)",
                variant.name,
                per_second,
                cpu_per_message,
                measured.total.as_secs_f64(),
                measured.handling.as_secs_f64()
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
    drop(broker);
}
