//! `app run kafka [TOPIC…] --group-id GROUP …`: the command line serving an application on a real
//! Kafka-protocol broker (127.0.0.1:9092; `scripts/brokers-up` starts one), and its errors.
//!
//! Run with `cargo test -p asyncfast --features kafka --test cli_kafka` (a workspace build
//! enables the feature through `amgi-kafka`'s dev-dependency).
#![cfg(feature = "kafka")]

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use amgi_kafka::rdkafka::ClientConfig;
use amgi_kafka::rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use amgi_kafka::rdkafka::client::DefaultClientContext;
use amgi_kafka::rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use amgi_kafka::rdkafka::producer::{FutureProducer, FutureRecord};
use asyncfast::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;

const BROKER: &str = "127.0.0.1:9092";
/// Bound of every wait on the broker: a group join on Tansu takes about a second.
const WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize, JsonSchema)]
struct UserCreated {
    id: u64,
    email: String,
}

/// What the handler saw of one message: its topic's `{run}`, the user and the correlation id.
type Seen = (String, u64, String, String);

/// The quickstart's handler, on this test's topics (`asyncfast-cli.<unique>`), reporting what it
/// handles.
#[channel("asyncfast-cli.{run}")]
async fn on_user_created(
    run: Param<String>,
    payload: Payload<UserCreated>,
    correlation_id: Header<String>,
    seen: State<mpsc::UnboundedSender<Seen>>,
) {
    let UserCreated { id, email } = payload.0;
    let _ = seen.send((run.0, id, email, correlation_id.0));
}

fn unique() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}

/// Fails (never skips) when no broker listens, naming the command that starts one.
fn require_broker() {
    let address: SocketAddr = BROKER.parse().unwrap();
    if let Err(error) = TcpStream::connect_timeout(&address, Duration::from_secs(2)) {
        panic!("no Kafka broker on {BROKER} ({error}): start one with `scripts/brokers-up`");
    }
}

async fn create_topic(topic: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", BROKER)
        .create()
        .expect("admin client");
    let results = timeout(
        WAIT,
        admin.create_topics(
            &[NewTopic::new(topic, 2, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        ),
    )
    .await
    .expect("topic created in time")
    .expect("create topic");
    for result in results {
        result.expect("topic created");
    }
}

fn producer() -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", BROKER)
        .create()
        .expect("producer")
}

async fn produce(producer: &FutureProducer, topic: &str, id: u64) {
    let payload = format!(r#"{{"id":{id},"email":"user{id}@example.com"}}"#);
    let correlation = format!("c-{id}");
    let headers = OwnedHeaders::new().insert(KafkaHeader {
        key: "correlation-id",
        value: Some(&correlation),
    });
    let record = FutureRecord::to(topic)
        .key("k")
        .payload(&payload)
        .headers(headers);
    producer
        .send(record, WAIT)
        .await
        .map_err(|(error, _)| error)
        .expect("produced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_kafka_serves_the_app_until_stopped() {
    require_broker();
    let run = unique();
    let topic = format!("asyncfast-cli.{run}");
    let group = format!("asyncfast-cli-{run}");
    create_topic(&topic).await;
    let producer = producer();
    // Before the group exists: read from the start (`--auto-offset-reset earliest`).
    for id in 1..=3 {
        produce(&producer, &topic, id).await;
    }

    let (seen, mut handled) = mpsc::unbounded_channel::<Seen>();
    let app = AsyncFast::empty()
        .state(seen)
        .channel(handler!(on_user_created));
    let args = [
        "app",
        "run",
        "kafka",
        topic.as_str(),
        "--group-id",
        group.as_str(),
        "--bootstrap-servers",
        BROKER,
        "-X",
        "session.timeout.ms=2000",
        "-X",
        "heartbeat.interval.ms=500",
        "--auto-offset-reset",
        "earliest",
        "--batch-size",
        "10",
        "--max-deliveries",
        "2",
    ]
    .map(String::from);
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(app.run_with_args_until(args, || async {
        let _ = stopped.await;
    }));

    let mut next = async || -> Seen {
        timeout(WAIT, handled.recv())
            .await
            .expect("handled in time (is the broker up? `scripts/brokers-up`)")
            .expect("the application holds the sender")
    };
    let mut users = Vec::new();
    for _ in 1..=3 {
        users.push(next().await);
    }
    // Produced while it serves.
    produce(&producer, &topic, 4).await;
    users.push(next().await);

    // Two partitions: order across them is not fixed.
    users.sort();
    let expected: Vec<Seen> = (1..=4)
        .map(|id| {
            (
                run.clone(),
                id,
                format!("user{id}@example.com"),
                format!("c-{id}"),
            )
        })
        .collect();
    assert_eq!(users, expected);

    stop.send(()).unwrap();
    timeout(WAIT, serving)
        .await
        .expect("graceful shutdown in time")
        .expect("not cancelled")
        .expect("served without error");
}

/// The error `run kafka ARGS…` ends with.
async fn run_kafka_error(args: &[&str]) -> amgi_kafka::Error {
    let app = AsyncFast::empty().channel(handler!(on_user_created));
    let args = ["app", "run", "kafka"].iter().chain(args).copied();
    let result = timeout(WAIT, app.run_with_args_until(args, std::future::pending))
        .await
        .expect("fails in time");
    match result {
        Err(asyncfast::Error::Server(error)) => {
            let kafka = error.get_ref().downcast_ref::<amgi_kafka::Error>();
            match kafka {
                Some(kafka) => amgi_kafka::Error::new(kafka.kind(), kafka.detail().to_owned()),
                None => panic!("expected a Kafka error as the source, got {error}"),
            }
        }
        other => panic!("expected a server error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_malformed_property_is_an_error_naming_the_fix() {
    let error = run_kafka_error(&[
        "asyncfast-cli.x",
        "--group-id",
        "g",
        "-X",
        "session.timeout.ms",
    ])
    .await;
    assert_eq!(error.kind(), amgi_kafka::ErrorKind::Config);
    assert_eq!(
        error.to_string(),
        "invalid Kafka server configuration: property `session.timeout.ms` is not of the form \
         key=value; write each property as -X key=value, for example -X session.timeout.ms=6000"
    );
}

#[tokio::test]
async fn an_unknown_property_is_an_error_naming_it() {
    let error =
        run_kafka_error(&["asyncfast-cli.x", "--group-id", "g", "-X", "no.such.key=1"]).await;
    assert_eq!(error.kind(), amgi_kafka::ErrorKind::Config);
    let message = error.to_string();
    assert!(message.contains("no.such.key"), "{message}");
    assert!(message.contains("check the -X properties"), "{message}");
}

#[tokio::test]
async fn an_unreachable_broker_is_an_error_naming_the_option() {
    // Nothing listens on port 1; `--connect-timeout 1` keeps the test short.
    let error = run_kafka_error(&[
        "asyncfast-cli.x",
        "--group-id",
        "g",
        "--bootstrap-servers",
        "127.0.0.1:1",
        "--connect-timeout",
        "1",
    ])
    .await;
    assert_eq!(error.kind(), amgi_kafka::ErrorKind::Unreachable);
    assert!(error.is_retryable());
    let message = error.to_string();
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(
        message.contains("--bootstrap-servers HOST:PORT"),
        "{message}"
    );
}

/// Fails user 2 once (the first time it sees it), reporting every attempt.
#[channel("asyncfast-order.{run}")]
async fn on_user_in_order(
    _run: Param<String>,
    payload: Payload<UserCreated>,
    failed_once: State<std::sync::atomic::AtomicBool>,
    seen: State<mpsc::UnboundedSender<String>>,
) -> Result<(), asyncfast::Nack> {
    use std::sync::atomic::Ordering;
    let id = payload.id;
    if id == 2 && !failed_once.swap(true, Ordering::SeqCst) {
        let _ = seen.send("2 failed".to_owned());
        return Err(asyncfast::Nack::error("ledger busy"));
    }
    let _ = seen.send(id.to_string());
    Ok(())
}

/// Order across failures on Kafka: one partition, `1..5` where `2` fails once, ends handled
/// `1, 2, 3, 4, 5` — the framework stops the ordered batch at the nack and the server redelivers
/// the rest after it, uncounted (`--max-deliveries 2` would dead-letter 3..5 otherwise).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_message_is_handled_again_before_the_next_ones() {
    require_broker();
    let run = unique();
    let topic = format!("asyncfast-order.{run}");
    let group = format!("asyncfast-order-{run}");
    create_topic(&topic).await;
    let producer = producer();
    // One key: one partition, in this order.
    for id in 1..=5 {
        produce(&producer, &topic, id).await;
    }
    let (seen, mut handled) = mpsc::unbounded_channel::<String>();
    let app = AsyncFast::empty()
        .state(seen)
        .state(std::sync::atomic::AtomicBool::new(false))
        .channel(handler!(on_user_in_order));
    let args = [
        "app",
        "run",
        "kafka",
        "--group-id",
        group.as_str(),
        "--bootstrap-servers",
        BROKER,
        "-X",
        "session.timeout.ms=2000",
        "-X",
        "heartbeat.interval.ms=500",
        "--max-deliveries",
        "2",
    ]
    .map(String::from);
    let (stop, stopped) = oneshot::channel::<()>();
    // No topic named: the app's channel template becomes a regex subscription.
    let serving = tokio::spawn(app.run_with_args_until(args, || async {
        let _ = stopped.await;
    }));
    // At least once: a rebalance may deliver an already handled message again, so the check is
    // that no message is handled before every earlier one was, and 2 only after its failure.
    let mut order = Vec::new();
    let mut done = 0;
    while done < 5 {
        let next = timeout(WAIT, handled.recv())
            .await
            .expect("handled in time (is the broker up? `scripts/brokers-up`)")
            .expect("the application holds the sender");
        if let Ok(n) = next.parse::<u32>() {
            assert!(n <= done + 1, "{n} handled before {}: {order:?}", done + 1);
            if n == 2 {
                assert!(order.iter().any(|e| e == "2 failed"), "{order:?}");
            }
            done = done.max(n);
        }
        order.push(next);
    }
    let first_failure = order.iter().position(|e| e == "2 failed");
    let first_three = order.iter().position(|e| e == "3");
    assert!(first_failure < first_three, "{order:?}");
    stop.send(()).unwrap();
    timeout(WAIT, serving)
        .await
        .expect("graceful shutdown in time")
        .expect("not cancelled")
        .expect("served without error");
}
