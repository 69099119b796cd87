//! Order across failures: on an ordered server (the embedded one with one consumer per address,
//! its default) a message that fails once is handled again **before** the messages after it, so
//! `1..5` where `2` fails once ends handled `[1, 2, 3, 4, 5]`, and the messages after the failure
//! are not charged a delivery.

use std::sync::atomic::{AtomicBool, Ordering};

use amgi_core::MessageSend;
use asyncfast::Nack;
use asyncfast::prelude::*;
use integration_tests::{Events, within};

/// Whether message 2 already failed its one time.
struct FailedOnce(AtomicBool);

impl std::ops::Deref for FailedOnce {
    type Target = AtomicBool;
    fn deref(&self) -> &AtomicBool {
        &self.0
    }
}

#[channel("account.credited")]
async fn credit(
    n: Payload<u32>,
    failed: State<FailedOnce>,
    events: State<Events>,
) -> Result<(), Nack> {
    if *n == 2 && !failed.swap(true, Ordering::SeqCst) {
        events.report("2 failed");
        return Err(Nack::error("ledger busy"));
    }
    events.report(n.to_string());
    Ok(())
}

#[tokio::test]
async fn a_failed_message_is_handled_again_before_the_next_ones() {
    let broker = amgi_memory::Broker::default();
    for n in 1..=5 {
        broker
            .try_publish(MessageSend::new("account.credited").payload(n.to_string()))
            .unwrap();
    }
    let (events, mut log) = Events::channel();
    let app = AsyncFast::empty()
        .state(events)
        .state(FailedOnce(AtomicBool::new(false)))
        .channel(handler!(credit));
    // Two deliveries at most: were 3..5 charged for the batch that stopped at 2, they would
    // reach the limit too early.
    let server = within(
        "server start",
        amgi_memory::Server::new(app, broker.clone())
            .address("account.credited")
            .max_deliveries(2)
            .start(),
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    while seen.len() < 6 {
        seen.push(log.next().await);
    }
    within("graceful shutdown", server.shutdown())
        .await
        .unwrap();
    assert_eq!(seen, ["1", "2 failed", "2", "3", "4", "5"]);
    assert!(broker.dead_letters("account.credited").is_empty());
    assert_eq!(broker.depth("account.credited"), 0);
}
