//! Keyed lanes (`Server::lanes`): per-key order, concurrency across keys, nacks redelivered in
//! their lane, and nothing lost when the server stops.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amgi_core::{
    Application, ApplicationError, Headers, KafkaBinding, MessageSend, NackRetry, ReceiveEvent,
    Receiver, Scope, SendEvent, SharedSender,
};
use amgi_memory::{Broker, RetryPolicy, Server};
use amgi_server::LANE_KEY_HEADER;
use support::{Event, Scripted, start_server, stop_server, within};
use tokio::sync::mpsc;

/// What the application does with one delivery of a payload: how long it works, then whether
/// it nacks (and with which retry).
type Plan = dyn Fn(&str, u32) -> (Duration, Option<NackRetry>) + Send + Sync;

/// What the application saw, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Start(String),
    Ack(String),
    Nack(String),
}

#[derive(Default)]
struct Running {
    /// Messages running per key (the payload's first character).
    per_key: HashMap<char, usize>,
    total: usize,
    peak: usize,
    /// Set when two messages of one key ran at once.
    overlap: Option<String>,
    /// Deliveries per payload.
    deliveries: HashMap<String, u32>,
    /// Messages per batch, as the application saw them.
    batch_sizes: Vec<usize>,
}

/// Handles each message as `plan` says; the key of payload `a1` is `a`.
struct Lanes {
    plan: Box<Plan>,
    running: Arc<Mutex<Running>>,
    seen: mpsc::UnboundedSender<Seen>,
}

impl Lanes {
    fn new(
        plan: impl Fn(&str, u32) -> (Duration, Option<NackRetry>) + Send + Sync + 'static,
    ) -> (Self, Arc<Mutex<Running>>, mpsc::UnboundedReceiver<Seen>) {
        let running = Arc::new(Mutex::new(Running::default()));
        let (seen, rx) = mpsc::unbounded_channel();
        let app = Self {
            plan: Box::new(plan),
            running: Arc::clone(&running),
            seen,
        };
        (app, running, rx)
    }
}

impl Application for Lanes {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        match scope {
            Scope::Lifespan(_) => loop {
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
            },
            Scope::Message(_) => {
                let mut messages = Vec::new();
                loop {
                    let ReceiveEvent::Message(message) = receive.receive().await? else {
                        continue;
                    };
                    let more = message.more_messages;
                    messages.push(message);
                    if !more {
                        break;
                    }
                }
                self.running
                    .lock()
                    .unwrap()
                    .batch_sizes
                    .push(messages.len());
                for message in messages {
                    let payload = message.payload.as_deref().unwrap_or_default();
                    let payload = String::from_utf8_lossy(payload).into_owned();
                    let key = payload.chars().next().unwrap_or_default();
                    let delivery = {
                        let mut running = self.running.lock().unwrap();
                        let count = running.per_key.entry(key).or_default();
                        *count += 1;
                        if *count > 1 && key != '-' {
                            running.overlap.get_or_insert_with(|| payload.clone());
                        }
                        running.total += 1;
                        running.peak = running.peak.max(running.total);
                        let delivery = running.deliveries.entry(payload.clone()).or_default();
                        *delivery += 1;
                        *delivery
                    };
                    let _ = self.seen.send(Seen::Start(payload.clone()));
                    let (work, nack) = (self.plan)(&payload, delivery);
                    tokio::time::sleep(work).await;
                    {
                        let mut running = self.running.lock().unwrap();
                        *running.per_key.get_mut(&key).unwrap() -= 1;
                        running.total -= 1;
                    }
                    if let Some(retry) = nack {
                        let _ = self.seen.send(Seen::Nack(payload));
                        send.send(SendEvent::nack_with(message.id, "not yet", retry))
                            .await?;
                    } else {
                        let _ = self.seen.send(Seen::Ack(payload));
                        send.send(SendEvent::ack(message.id)).await?;
                    }
                }
                Ok(())
            }
            other => Err(ApplicationError::unsupported_scope(other.kind())),
        }
    }
}

/// A message whose lane key is the payload's first character: in the `amgi-lane-key` header,
/// or (for key `k`) as the Kafka binding's key. Payloads starting with `-` have no key.
fn keyed(payload: &str) -> MessageSend {
    let message = MessageSend::new("jobs").payload(payload.to_owned());
    match payload.chars().next() {
        Some('-') | None => message,
        Some('k') => message.binding(KafkaBinding::with_key("k")),
        Some(key) => message.headers(Headers::new().with(LANE_KEY_HEADER, key.to_string())),
    }
}

fn publish(broker: &Broker, payloads: &[&str]) {
    for payload in payloads {
        broker.try_publish(keyed(payload)).unwrap();
    }
}

/// Collects what the application saw until `done` says it has seen enough.
async fn seen_until(
    seen: &mut mpsc::UnboundedReceiver<Seen>,
    done: impl Fn(&[Seen]) -> bool,
) -> Vec<Seen> {
    let mut all = Vec::new();
    while !done(&all) {
        all.push(within("the application", seen.recv()).await.unwrap());
    }
    all
}

fn acks(seen: &[Seen]) -> usize {
    seen.iter().filter(|s| matches!(s, Seen::Ack(_))).count()
}

/// The payloads of key `key` in the order the application acked them.
fn acked_of(seen: &[Seen], key: char) -> Vec<String> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Ack(payload) if payload.starts_with(key) => Some(payload.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn keys_keep_their_order_and_different_keys_run_at_once() {
    let broker = Broker::default();
    // Three keys (one of them a Kafka key), interleaved; later messages are quicker, so running
    // them freely would reorder them. `-` messages have no key.
    let payloads = [
        "a1", "b1", "k1", "-1", "a2", "b2", "k2", "-2", "a3", "b3", "k3", "a4", "b4", "k4",
    ];
    publish(&broker, &payloads);
    let (app, running, mut seen) = Lanes::new(|payload, _| {
        let n: u64 = payload[1..].parse().unwrap();
        (Duration::from_millis(50 - 10 * n), None)
    });
    let server = start_server(Server::new(app, broker.clone()).address("jobs").lanes(8)).await;
    let seen = seen_until(&mut seen, |seen| acks(seen) == payloads.len()).await;
    stop_server(server).await;

    for key in ['a', 'b', 'k'] {
        let expected: Vec<String> = (1..=4).map(|n| format!("{key}{n}")).collect();
        assert_eq!(acked_of(&seen, key), expected, "key {key} kept its order");
    }
    let running = running.lock().unwrap();
    assert_eq!(running.overlap, None, "two messages of one key ran at once");
    assert!(
        running.peak > 1,
        "keys ran one at a time: peak {}",
        running.peak
    );
    assert!(
        running.peak <= 8,
        "more than 8 lanes: peak {}",
        running.peak
    );
    assert!(
        running.batch_sizes.iter().all(|&size| size == 1),
        "each message is its own batch: {:?}",
        running.batch_sizes
    );
    assert_eq!(broker.depth("jobs"), 0);
    assert_eq!(broker.in_flight("jobs"), 0);
}

#[tokio::test(start_paused = true)]
async fn the_lane_count_bounds_concurrency() {
    let broker = Broker::default();
    let payloads: Vec<String> = ('a'..='j').map(|key| format!("{key}1")).collect();
    let payloads: Vec<&str> = payloads.iter().map(String::as_str).collect();
    publish(&broker, &payloads);
    let (app, running, mut seen) = Lanes::new(|_, _| (Duration::from_millis(10), None));
    let server = start_server(Server::new(app, broker.clone()).address("jobs").lanes(3)).await;
    seen_until(&mut seen, |seen| acks(seen) == payloads.len()).await;
    stop_server(server).await;
    assert_eq!(running.lock().unwrap().peak, 3);
}

#[tokio::test(start_paused = true)]
async fn a_nacked_message_is_redelivered_in_its_lane_before_the_next_of_its_key() {
    let broker = Broker::default();
    publish(&broker, &["a1", "b1", "a2", "p1", "p2"]);
    // `a1` fails once; `p1` always (dead-lettered after its second delivery).
    let (app, _, mut seen) = Lanes::new(|payload, delivery| match payload {
        "a1" if delivery == 1 => (Duration::ZERO, Some(NackRetry::Policy)),
        "p1" => (Duration::ZERO, Some(NackRetry::Policy)),
        _ => (Duration::from_millis(10), None),
    });
    let retry = RetryPolicy::new(2).backoff(Duration::from_millis(100), Duration::from_millis(100));
    let server = start_server(
        Server::new(app, broker.clone())
            .address("jobs")
            .retry(retry)
            .lanes(4),
    )
    .await;
    let seen = seen_until(&mut seen, |seen| acks(seen) == 4).await;
    stop_server(server).await;

    let of_key = |key: char| -> Vec<Seen> {
        seen.iter()
            .filter(|s| match s {
                Seen::Start(p) | Seen::Ack(p) | Seen::Nack(p) => p.starts_with(key),
            })
            .cloned()
            .collect()
    };
    let s = |payload: &str| Seen::Start(payload.into());
    let ack = |payload: &str| Seen::Ack(payload.into());
    let nack = |payload: &str| Seen::Nack(payload.into());
    assert_eq!(
        of_key('a'),
        [s("a1"), nack("a1"), s("a1"), ack("a1"), s("a2"), ack("a2")],
        "a1 was redelivered before a2 started"
    );
    assert_eq!(
        of_key('p'),
        [s("p1"), nack("p1"), s("p1"), nack("p1"), s("p2"), ack("p2")],
        "p1 was dead-lettered before p2 started"
    );
    // `b1` did not wait for `a1`'s retry.
    let position = |event: &Seen| seen.iter().position(|s| s == event).unwrap();
    assert!(position(&ack("b1")) < position(&ack("a1")), "{seen:?}");

    let dead = broker.dead_letters("jobs");
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].payload.as_deref(), Some(&b"p1"[..]));
    assert_eq!(dead[0].deliveries, 2);
    assert_eq!(broker.depth("jobs"), 0);
    assert_eq!(broker.in_flight("jobs"), 0);
}

#[tokio::test(start_paused = true)]
async fn stopping_puts_every_unfinished_message_back_in_order() {
    let broker = Broker::default();
    // `s1` never finishes within the drain deadline, `s2` waits behind it, `r1` waits out a
    // long retry delay, the `f`s finish.
    publish(&broker, &["s1", "f1", "r1", "f2", "s2", "f3"]);
    let (app, _, mut seen) = Lanes::new(|payload, _| match payload {
        "s1" => (Duration::from_hours(1), None),
        "r1" => (
            Duration::ZERO,
            Some(NackRetry::After(Duration::from_hours(1))),
        ),
        _ => (Duration::from_millis(10), None),
    });
    let server = start_server(
        Server::new(app, broker.clone())
            .address("jobs")
            .drain_timeout(Duration::from_secs(1))
            .lanes(4),
    )
    .await;
    seen_until(&mut seen, |seen| {
        acks(seen) == 3 && seen.contains(&Seen::Nack("r1".into()))
    })
    .await;
    stop_server(server).await;

    // Three acked, three back in the queue, none in flight: nothing lost.
    assert_eq!(broker.depth("jobs"), 3);
    assert_eq!(broker.in_flight("jobs"), 0);
    assert!(broker.dead_letters("jobs").is_empty());

    // The next server gets them in their order.
    let (app, mut events) = Scripted::acking();
    let server = events
        .start(Server::new(app, broker.clone()).address("jobs"))
        .await;
    let Event::Batch(batch) = events.next().await else {
        panic!("expected a batch");
    };
    assert_eq!(batch.payloads(), ["s1", "r1", "s2"]);
    stop_server(server).await;
    assert_eq!(broker.depth("jobs"), 0);
}
