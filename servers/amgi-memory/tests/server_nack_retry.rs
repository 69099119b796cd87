//! The `nack.retry` extension: advertised in every message scope, `Never` dead-letters at once,
//! `After` and the retry policy's backoff delay the redelivery (holding an ordered queue back),
//! and messages skipped after a nack come back uncounted.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amgi_core::extension::NackRetrySupport;
use amgi_core::{
    Application, ApplicationError, NackRetry, ReceiveEvent, Receiver, Scope, SendEvent,
    SharedSender,
};
use amgi_memory::{Broker, RetryPolicy, Server};
use support::{publish_payloads, start_server, stop_server, within};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How a [`Recorder`] answers one message.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Ack,
    /// Nack, and with `stop` leave the rest of the batch unanswered.
    Nack {
        retry: NackRetry,
        stop: bool,
    },
}

/// What a [`Recorder`] did with one message, in handling order.
#[derive(Debug)]
struct Handled {
    payload: String,
    acked: bool,
    /// Whether the scope advertised `nack.retry`.
    advertised: bool,
    at: Instant,
}

type Decide = dyn Fn(&str, usize) -> Answer + Send + Sync;

/// A raw application answering each message as `decide` says (given the payload and how many
/// times it saw it before), reporting what it did.
struct Recorder {
    decide: Box<Decide>,
    seen: Mutex<Vec<String>>,
    handled: mpsc::UnboundedSender<Handled>,
}

impl Recorder {
    fn new(
        decide: impl Fn(&str, usize) -> Answer + Send + Sync + 'static,
    ) -> (Self, mpsc::UnboundedReceiver<Handled>) {
        let (handled, rx) = mpsc::unbounded_channel();
        let decide = Box::new(decide);
        let seen = Mutex::default();
        (
            Self {
                decide,
                seen,
                handled,
            },
            rx,
        )
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
        let advertised = scope.extensions.get::<NackRetrySupport>().is_some();
        while let Ok(ReceiveEvent::Message(message)) = receive.receive().await {
            let payload = String::from_utf8_lossy(message.payload.as_deref().unwrap_or_default())
                .into_owned();
            let times = {
                let mut seen = self.seen.lock().unwrap();
                seen.push(payload.clone());
                seen.iter().filter(|p| **p == payload).count() - 1
            };
            let answer = (self.decide)(&payload, times);
            let (event, stop) = match answer {
                Answer::Ack => (SendEvent::ack(message.id), false),
                Answer::Nack { retry, stop } => {
                    (SendEvent::nack_with(message.id, "nacked", retry), stop)
                }
            };
            send.send(event).await?;
            let acked = matches!(answer, Answer::Ack);
            let at = Instant::now();
            let _ = self.handled.send(Handled {
                payload,
                acked,
                advertised,
                at,
            });
            if stop || !message.more_messages {
                break;
            }
        }
        Ok(())
    }
}

async fn next(handled: &mut mpsc::UnboundedReceiver<Handled>) -> Handled {
    within("a handled message", handled.recv()).await.unwrap()
}

#[tokio::test]
async fn skipped_messages_come_back_in_order_without_counting_a_delivery() {
    let broker = Broker::default();
    publish_payloads(&broker, "orders", 1..=5);
    // Each of 2..5 is nacked once, on the delivery after the one on which it was skipped; the
    // rest of the batch is left unanswered, which the ordered batch reports as skipped.
    let nacked = Arc::new(Mutex::new(HashSet::new()));
    let (app, mut handled) = Recorder::new(move |payload, _| {
        if payload == "1" || !nacked.lock().unwrap().insert(payload.to_owned()) {
            Answer::Ack
        } else {
            let retry = NackRetry::Policy;
            Answer::Nack { retry, stop: true }
        }
    });
    // Were a skipped delivery counted, 3, 4 and 5 would reach 2 deliveries before their nack
    // and be dead-lettered.
    let server = start_server(
        Server::new(app, broker.clone())
            .address("orders")
            .max_deliveries(2),
    )
    .await;
    let mut acked = Vec::new();
    let mut nacks = Vec::new();
    while acked.len() < 5 {
        let handled = next(&mut handled).await;
        assert!(handled.advertised, "nack.retry is advertised");
        if handled.acked {
            acked.push(handled.payload);
        } else {
            nacks.push(handled.payload);
        }
    }
    stop_server(server).await;
    assert_eq!(acked, ["1", "2", "3", "4", "5"]);
    assert_eq!(nacks, ["2", "3", "4", "5"]);
    assert!(broker.dead_letters("orders").is_empty());
    assert_eq!(broker.depth("orders") + broker.in_flight("orders"), 0);
}

#[tokio::test]
async fn nack_retry_never_dead_letters_at_once() {
    let broker = Broker::default();
    let (app, mut handled) = Recorder::new(|_, _| Answer::Nack {
        retry: NackRetry::Never,
        stop: false,
    });
    let server = start_server(Server::new(app, broker.clone()).address("orders")).await;
    publish_payloads(&broker, "orders", ["bad"]);
    assert!(!next(&mut handled).await.acked);
    stop_server(server).await;
    let dead = broker.dead_letters("orders");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].deliveries, 1, "not redelivered");
}

#[tokio::test(start_paused = true)]
async fn nack_retry_after_holds_back_an_ordered_queue() {
    // Shorter than `support::WAIT`, which bounds each wait on the same paused clock.
    const DELAY: Duration = Duration::from_secs(3);
    let broker = Broker::default();
    publish_payloads(&broker, "orders", ["1", "2", "3"]);
    let (app, mut handled) = Recorder::new(|payload, times| {
        if payload == "1" && times == 0 {
            let retry = NackRetry::After(DELAY);
            Answer::Nack { retry, stop: false }
        } else {
            Answer::Ack
        }
    });
    let server = start_server(
        Server::new(app, broker.clone())
            .address("orders")
            .batch_size(1),
    )
    .await;
    let first = next(&mut handled).await;
    assert!(!first.acked);
    let mut order = Vec::new();
    for _ in 0..3 {
        let handled = next(&mut handled).await;
        assert!(handled.acked);
        if handled.payload == "1" {
            assert!(handled.at - first.at >= DELAY, "redelivered too early");
        }
        order.push(handled.payload);
    }
    // Without the hold, 2 and 3 would be handled while 1 waits.
    assert_eq!(order, ["1", "2", "3"]);
    stop_server(server).await;
}

#[tokio::test(start_paused = true)]
async fn nack_retry_after_lets_an_unordered_queue_go_on() {
    // Shorter than `support::WAIT`, which bounds each wait on the same paused clock.
    const DELAY: Duration = Duration::from_secs(3);
    let broker = Broker::default();
    publish_payloads(&broker, "orders", ["slow", "a", "b"]);
    let (app, mut handled) = Recorder::new(|payload, times| {
        if payload == "slow" && times == 0 {
            let retry = NackRetry::After(DELAY);
            Answer::Nack { retry, stop: false }
        } else {
            Answer::Ack
        }
    });
    let server = start_server(
        Server::new(app, broker.clone())
            .address("orders")
            .batch_size(1)
            .concurrency(2),
    )
    .await;
    let mut events = Vec::new();
    for _ in 0..4 {
        events.push(next(&mut handled).await);
    }
    let nacked = events.iter().find(|h| !h.acked).unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.payload, "slow", "{events:?}");
    assert!(last.acked);
    assert!(last.at - nacked.at >= DELAY);
    assert!(events[..3].iter().all(|h| h.at - nacked.at < DELAY));
    stop_server(server).await;
    assert_eq!(broker.depth("orders") + broker.in_flight("orders"), 0);
}

#[tokio::test(start_paused = true)]
async fn retry_policy_backoff_spaces_the_deliveries() {
    let broker = Broker::default();
    let (app, mut handled) = Recorder::new(|_, _| Answer::Nack {
        retry: NackRetry::Policy,
        stop: false,
    });
    // Shorter than `support::WAIT`, which bounds each wait on the same paused clock.
    let retry = RetryPolicy::new(3).backoff(Duration::from_secs(2), Duration::from_secs(3));
    let server = start_server(
        Server::new(app, broker.clone())
            .address("jobs")
            .retry(retry),
    )
    .await;
    publish_payloads(&broker, "jobs", ["x"]);
    let mut at = Vec::new();
    for _ in 0..3 {
        at.push(next(&mut handled).await.at);
    }
    stop_server(server).await;
    assert!(at[1] - at[0] >= Duration::from_secs(2));
    // 2 s doubled, capped at the 3 s max_backoff.
    assert!(at[2] - at[1] >= Duration::from_secs(3));
    assert!(at[2] - at[1] < Duration::from_secs(4));
    let dead = broker.dead_letters("jobs");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].deliveries, 3);
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_a_redelivery_delay_and_keeps_the_message() {
    let broker = Broker::default();
    let (app, mut handled) = Recorder::new(|_, _| Answer::Nack {
        retry: NackRetry::After(Duration::from_hours(1)),
        stop: false,
    });
    let server = start_server(Server::new(app, broker.clone()).address("jobs")).await;
    publish_payloads(&broker, "jobs", ["x"]);
    let nacked = next(&mut handled).await;
    stop_server(server).await;
    assert!(Instant::now() - nacked.at < Duration::from_hours(1));
    assert_eq!(broker.depth("jobs"), 1);
    assert_eq!(broker.in_flight("jobs"), 0);
}
