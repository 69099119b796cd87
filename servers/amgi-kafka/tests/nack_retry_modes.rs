//! The `nack.retry` extension and ordered batches: deliveries counted per message, a
//! `NackRetry::Never` nack dead-lettered at once, and an application that stops at a nack (as
//! AsyncFast does on an ordered batch) getting the rest again, in order, uncounted.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use amgi_core::extension::NackRetrySupport;
use amgi_core::{
    Application, ApplicationError, NackRetry, ReceiveEvent, Receiver, Scope, SendEvent,
    SharedSender,
};
use amgi_kafka::RetryPolicy;
use amgi_kafka::dead_letter::{DELIVERIES_HEADER, REASON_HEADER};
use common::{
    Out, bounded, committed, create_topic, eventually, fresh_topic, header_text, produce, read,
    read_for, server, unique,
};
use rdkafka::Message as _;

/// Handles each message of a batch in order. A message listed in `nack_first` is nacked (with
/// `retry`) on its first delivery, and the application then stops: the rest of the batch is
/// left unanswered, as AsyncFast leaves an ordered batch after a failed message.
struct StopAtNack {
    nack_first: Vec<&'static str>,
    retry: NackRetry,
    deliveries: Mutex<HashMap<String, u32>>,
    handled: Mutex<Vec<String>>,
    batches: Mutex<Vec<usize>>,
    advertised: Mutex<Vec<bool>>,
}

impl StopAtNack {
    fn new(nack_first: Vec<&'static str>, retry: NackRetry) -> Arc<Self> {
        Arc::new(Self {
            nack_first,
            retry,
            deliveries: Mutex::default(),
            handled: Mutex::default(),
            batches: Mutex::default(),
            advertised: Mutex::default(),
        })
    }

    fn handled(&self) -> Vec<String> {
        self.handled.lock().unwrap().clone()
    }

    fn deliveries(&self, text: &str) -> u32 {
        self.deliveries
            .lock()
            .unwrap()
            .get(text)
            .copied()
            .unwrap_or(0)
    }
}

impl Application for StopAtNack {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        let Scope::Message(scope) = scope else {
            return Err(ApplicationError::unsupported_scope(scope.kind()));
        };
        self.advertised
            .lock()
            .unwrap()
            .push(scope.extensions.get::<NackRetrySupport>().is_some());
        let mut size = 0;
        loop {
            let ReceiveEvent::Message(message) = receive.receive().await? else {
                continue;
            };
            size += 1;
            let text = String::from_utf8_lossy(message.payload.as_deref().unwrap_or_default())
                .into_owned();
            let delivery = {
                let mut deliveries = self.deliveries.lock().unwrap();
                let count = deliveries.entry(text.clone()).or_insert(0);
                *count += 1;
                *count
            };
            if delivery == 1 && self.nack_first.contains(&text.as_str()) {
                send.send(SendEvent::nack_with(
                    message.id,
                    format!("{text} failed"),
                    self.retry,
                ))
                .await?;
                self.batches.lock().unwrap().push(size);
                return Ok(());
            }
            self.handled.lock().unwrap().push(text);
            send.send(SendEvent::ack(message.id)).await?;
            if !message.more_messages {
                self.batches.lock().unwrap().push(size);
                return Ok(());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordered_batch_stopped_at_a_nack_is_redelivered_in_order_and_uncounted() {
    bounded(async {
        let topic = fresh_topic("ordered-stop", 1).await;
        let group = unique("ordered-stop-group");
        // Produced before the server starts, so that one poll round fetches all five.
        produce(&topic, ["1", "2", "3", "4", "5"].map(Out::text)).await;
        // 2 and 4 fail on their first delivery. With deliveries counted per batch, 4's first
        // delivery (in the redelivery of 2..5) would count as a second one and, with
        // max_deliveries 2, dead-letter 4 and the skipped 5.
        let app = StopAtNack::new(vec!["2", "4"], NackRetry::Policy);
        let handle = server(Arc::clone(&app), &[&topic], &group)
            .retry(
                RetryPolicy::new(2).backoff(Duration::from_millis(50), Duration::from_millis(50)),
            )
            .start()
            .await
            .expect("start");
        eventually("all five handled", || app.handled().len() >= 5).await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        handle.shutdown().await.expect("shutdown");

        let batches = app.batches.lock().unwrap().clone();
        assert_eq!(
            app.handled(),
            ["1", "2", "3", "4", "5"],
            "handled in offset order across failures (batch sizes seen: {batches:?})"
        );
        assert_eq!(app.deliveries("2"), 2);
        assert_eq!(app.deliveries("4"), 2);
        assert_eq!(
            app.deliveries("3"),
            1,
            "skipped, not delivered, then delivered once"
        );
        assert_eq!(app.deliveries("5"), 1);
        assert!(
            app.advertised.lock().unwrap().iter().all(|&a| a),
            "every batch scope advertises NackRetrySupport"
        );
        assert_eq!(committed(&group, &topic, 1).await, [5]);
        let dead_letters = format!("{topic}.dlq");
        create_topic(&dead_letters, 1).await;
        let found = read_for(&dead_letters, 1, Duration::from_secs(2)).await;
        assert!(found.is_empty(), "nothing dead-lettered: {found:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_never_nack_is_dead_lettered_after_one_delivery_without_backoff() {
    bounded(async {
        let topic = fresh_topic("never", 1).await;
        let dead_letters = format!("{topic}.dlq");
        create_topic(&dead_letters, 1).await;
        let group = unique("never-group");
        let app = StopAtNack::new(vec!["poison"], NackRetry::Never);
        // A backoff far longer than the test waits: a Never nack must not wait for it.
        let handle = server(Arc::clone(&app), &[&topic], &group)
            .retry(RetryPolicy::new(5).backoff(Duration::from_mins(1), Duration::from_mins(1)))
            .start()
            .await
            .expect("start");
        let started = Instant::now();
        produce(&topic, ["before", "poison", "after"].map(Out::text)).await;

        let dead = read(&dead_letters, 1).await;
        assert_eq!(dead[0].payload(), Some(&b"poison"[..]));
        assert_eq!(
            header_text(&dead[0], DELIVERIES_HEADER).as_deref(),
            Some("1")
        );
        assert_eq!(
            header_text(&dead[0], REASON_HEADER).as_deref(),
            Some("poison failed")
        );
        eventually("the message after the poison", || {
            app.handled().contains(&"after".to_owned())
        })
        .await;
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no backoff: {:?}",
            started.elapsed()
        );
        assert_eq!(app.deliveries("poison"), 1);
        assert_eq!(app.handled(), ["before", "after"]);
        eventually("the stats", || handle.stats().dead_lettered == 1).await;
        handle.shutdown().await.expect("shutdown");
        assert_eq!(committed(&group, &topic, 1).await, [3]);
    })
    .await;
}
