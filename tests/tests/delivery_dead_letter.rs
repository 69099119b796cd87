//! A handler that keeps failing: its message is redelivered up to `max_deliveries`, then
//! dead-lettered with the framework's nack reason in the `amgi-dead-letter-reason` header, and
//! its headers and payload kept.

use std::sync::atomic::{AtomicU32, Ordering};

use amgi_core::MessageSend;
use amgi_core::dead_letter::{ADDRESS_HEADER, DELIVERIES_HEADER, REASON_HEADER};
use asyncfast::prelude::*;
use bytes::Bytes;
use integration_tests::{Events, within};

#[derive(Debug)]
struct Declined(u32);

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "card declined (attempt {})", self.0)
    }
}

#[derive(Default)]
struct Attempts {
    count: AtomicU32,
}

/// Always fails.
#[channel("payments")]
async fn on_payment(
    amount: Payload<u64>,
    attempts: State<Attempts>,
    events: State<Events>,
) -> Result<(), Declined> {
    let attempt = attempts.count.fetch_add(1, Ordering::SeqCst) + 1;
    events.report(format!("attempt {attempt} for {}", *amount));
    Err(Declined(attempt))
}

/// Reads the dead letters, as an operator's tool would.
#[channel("payments.dlq")]
async fn on_dead_payment(
    #[header(alias = "amgi-dead-letter-reason")] reason: Header<String>,
    #[header(alias = "amgi-dead-letter-deliveries")] deliveries: Header<u32>,
    #[header(alias = "amgi-dead-letter-address")] address: Header<String>,
    trace: Header<String>,
    amount: Payload<Bytes>,
    events: State<Events>,
) {
    events.report(format!(
        "dead letter from {} after {} deliveries: {} (trace {}, payload {})",
        *address,
        *deliveries,
        *reason,
        *trace,
        String::from_utf8_lossy(&amount)
    ));
}

#[tokio::test]
async fn failing_handler_is_redelivered_then_dead_lettered_with_the_nack_reason() {
    let broker = amgi_memory::Broker::default();
    let (events, mut log) = Events::channel();
    let app = AsyncFast::empty()
        .state(events)
        .state(Attempts::default())
        .channel(handler!(on_payment))
        .channel(handler!(on_dead_payment));
    let server = within(
        "server start",
        amgi_memory::Server::new(app, broker.clone())
            .address("payments")
            .address("payments.dlq")
            .max_deliveries(3)
            .start(),
    )
    .await
    .unwrap();

    let headers = amgi_core::Headers::new().with("trace", "t-1");
    within(
        "publish",
        broker.publish(MessageSend::new("payments").headers(headers).payload("250")),
    )
    .await
    .unwrap();

    assert_eq!(log.next().await, "attempt 1 for 250");
    assert_eq!(log.next().await, "attempt 2 for 250");
    assert_eq!(log.next().await, "attempt 3 for 250");
    assert_eq!(
        log.next().await,
        "dead letter from payments after 3 deliveries: card declined (attempt 3) (trace t-1, \
         payload 250)"
    );
    within("graceful shutdown", server.shutdown())
        .await
        .unwrap();

    // Delivered exactly `max_deliveries` times; nothing left behind.
    assert_eq!(log.next_within(integration_tests::WAIT / 100).await, None);
    assert_eq!(broker.depth("payments"), 0);
    assert_eq!(broker.in_flight("payments"), 0);
    assert_eq!(
        broker.depth("payments.dlq"),
        0,
        "the dead letter was consumed"
    );
}

#[tokio::test]
async fn dead_letter_headers_carry_the_reason_for_any_consumer() {
    let broker = amgi_memory::Broker::default();
    let (events, mut log) = Events::channel();
    let app = AsyncFast::empty()
        .state(events)
        .state(Attempts::default())
        .channel(handler!(on_payment));
    // Only `payments` is consumed: the dead letter stays on `payments.dlq`.
    let server = within(
        "server start",
        amgi_memory::Server::new(app, broker.clone())
            .address("payments")
            .max_deliveries(2)
            .start(),
    )
    .await
    .unwrap();
    within(
        "publish",
        broker.publish(MessageSend::new("payments").payload("99")),
    )
    .await
    .unwrap();
    assert_eq!(log.next().await, "attempt 1 for 99");
    assert_eq!(log.next().await, "attempt 2 for 99");
    // Shutdown waits for the batch in flight and applies its outcome: the dead-lettering.
    within("graceful shutdown", server.shutdown())
        .await
        .unwrap();

    let dead = broker.dead_letters("payments");
    assert_eq!(dead.len(), 1, "{dead:?}");
    let headers = &dead[0].headers;
    assert_eq!(
        headers.get(REASON_HEADER.as_bytes()).unwrap(),
        "card declined (attempt 2)"
    );
    assert_eq!(headers.get(DELIVERIES_HEADER.as_bytes()).unwrap(), "2");
    assert_eq!(headers.get(ADDRESS_HEADER.as_bytes()).unwrap(), "payments");
    assert_eq!(dead[0].payload.as_deref(), Some(&b"99"[..]));
}
