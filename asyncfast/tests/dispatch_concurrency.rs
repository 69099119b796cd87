//! Messages of a batch run concurrently up to the limit, or one at a time when ordered.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asyncfast::prelude::*;
use asyncfast::testing::{TestClient, TestMessage};

#[derive(Default)]
struct Tracker {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    finished: Mutex<Vec<u64>>,
}

/// Sleeps longer for earlier messages, so that concurrent handling finishes out of order.
#[channel("work")]
async fn work(index: Payload<u64>, tracker: State<Tracker>) {
    let now = tracker.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    tracker.max_in_flight.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(5 * (6 - *index))).await;
    tracker.finished.lock().unwrap().push(*index);
    tracker.in_flight.fetch_sub(1, Ordering::SeqCst);
}

fn batch() -> Vec<TestMessage> {
    (0..6).map(|i| TestMessage::new().json(&i)).collect()
}

async fn run(concurrency: usize, ordered: bool) -> (usize, Vec<u64>) {
    let app = AsyncFast::empty()
        .state(Tracker::default())
        .concurrency(concurrency)
        .channel(handler!(work));
    let client = TestClient::new(app).await;
    client
        .batch("work")
        .messages(batch())
        .ordered(ordered)
        .await
        .assert_all_acked();
    let tracker: Arc<Tracker> = client.state().get().unwrap();
    let finished = tracker.finished.lock().unwrap().clone();
    (tracker.max_in_flight.load(Ordering::SeqCst), finished)
}

#[tokio::test]
async fn unordered_batches_run_concurrently_up_to_the_limit() {
    let (max, finished) = run(3, false).await;
    assert_eq!(max, 3);
    assert_ne!(finished, [0, 1, 2, 3, 4, 5], "finished out of order");
    let (max, _) = run(64, false).await;
    assert_eq!(max, 6);
}

#[tokio::test]
async fn ordered_batches_run_one_at_a_time_in_order() {
    let (max, finished) = run(64, true).await;
    assert_eq!(max, 1);
    assert_eq!(finished, [0, 1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn every_message_of_a_batch_gets_its_own_outcome() {
    #[channel("even")]
    async fn even(value: Payload<u64>) -> Result<(), String> {
        if value.is_multiple_of(2) {
            Ok(())
        } else {
            Err(format!("{} is odd", *value))
        }
    }
    let client = TestClient::new(AsyncFast::empty().channel(handler!(even))).await;
    let outcome = client.batch("even").messages(batch()).await;
    let reasons: Vec<Option<&str>> = outcome.outcomes().iter().map(|o| o.nack_reason()).collect();
    assert_eq!(
        reasons,
        [
            None,
            Some("1 is odd"),
            None,
            Some("3 is odd"),
            None,
            Some("5 is odd")
        ]
    );
    assert_eq!(outcome.acked(), 3);
}
