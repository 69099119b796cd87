//! Nacked and unanswered messages are redelivered, exactly up to `max_deliveries`.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use amgi_core::MessageSend;
use amgi_core::batch::NOT_ACKNOWLEDGED;
use amgi_memory::{Broker, Server};
use support::{Event, Scripted, Verdict, publish_payloads, start_server, stop_server, within};

#[tokio::test]
async fn nacked_message_is_delivered_exactly_max_deliveries_times() {
    let broker = Broker::default();
    let (app, mut events) = Scripted::nacking("boom");
    let server = events
        .start(
            Server::new(app, broker.clone())
                .address("orders")
                .max_deliveries(3),
        )
        .await;

    within(
        "publish",
        broker.publish(MessageSend::new("orders").payload("m")),
    )
    .await
    .unwrap();
    for delivery in 1..=3 {
        let batch = events.batch().await;
        assert_eq!(batch.payloads(), ["m"], "delivery {delivery}");
    }
    stop_server(server).await;

    // Shutdown waited for the third batch to be applied; a fourth delivery would show up here.
    assert!(matches!(events.try_next(), Some(Event::Shutdown)));
    assert!(events.try_next().is_none());
    let dead = broker.dead_letters("orders");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].deliveries, 3);
    assert_eq!(broker.depth("orders"), 0);
    assert_eq!(broker.in_flight("orders"), 0);
}

#[tokio::test]
async fn redelivered_message_goes_to_the_front_of_the_queue() {
    let broker = Broker::default();
    publish_payloads(&broker, "orders", ["a", "b", "c"]);
    let nacked_once = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&nacked_once);
    let (app, mut events) = Scripted::new(move |message| {
        if message.payload.as_deref() == Some(b"a") && seen.fetch_add(1, Ordering::SeqCst) == 0 {
            Verdict::Nack("try again")
        } else {
            Verdict::Ack
        }
    });
    let server = events
        .start(
            Server::new(app, broker.clone())
                .address("orders")
                .batch_size(1),
        )
        .await;

    let mut order = Vec::new();
    for _ in 0..4 {
        order.extend(events.batch().await.payloads());
    }
    // Requeued at the back, the order would be a, b, c, a.
    assert_eq!(order, ["a", "a", "b", "c"]);
    stop_server(server).await;
    assert_eq!(broker.depth("orders"), 0);
    assert!(broker.dead_letters("orders").is_empty());
}

#[tokio::test]
async fn unanswered_message_is_redelivered_then_dead_lettered_as_not_acknowledged() {
    let broker = Broker::default();
    let (app, mut events) = Scripted::new(|_| Verdict::Ignore);
    let server = start_server(
        Server::new(app, broker.clone())
            .address("orders")
            .max_deliveries(2),
    )
    .await;
    broker
        .try_publish(MessageSend::new("orders").payload("x"))
        .unwrap();
    events.startup().await;
    assert_eq!(events.batch().await.payloads(), ["x"]);
    assert_eq!(events.batch().await.payloads(), ["x"]);
    stop_server(server).await;

    let dead = broker.dead_letters("orders");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, NOT_ACKNOWLEDGED);
    assert_eq!(dead[0].deliveries, 2);
}

#[tokio::test]
async fn only_the_nacked_messages_of_a_batch_come_back() {
    let broker = Broker::default();
    publish_payloads(&broker, "orders", ["1", "2", "3", "4"]);
    let (app, mut events) = Scripted::new(|message| match message.payload.as_deref() {
        Some(b"2" | b"4") => Verdict::Nack("even"),
        _ => Verdict::Ack,
    });
    let server = events
        .start(
            Server::new(app, broker.clone())
                .address("orders")
                .batch_size(4)
                .max_deliveries(2),
        )
        .await;
    assert_eq!(events.batch().await.payloads(), ["1", "2", "3", "4"]);
    // Both nacked messages come back together, in their order.
    assert_eq!(events.batch().await.payloads(), ["2", "4"]);
    stop_server(server).await;

    let reasons: Vec<_> = broker
        .dead_letters("orders")
        .into_iter()
        .map(|letter| (letter.payload.unwrap(), letter.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            ("2".into(), "even".to_owned()),
            ("4".into(), "even".to_owned())
        ]
    );
}

#[tokio::test]
async fn max_deliveries_zero_still_delivers_once() {
    let broker = Broker::default();
    let (app, mut events) = Scripted::nacking("no");
    let server = start_server(
        Server::new(app, broker.clone())
            .address("orders")
            .max_deliveries(0),
    )
    .await;
    broker.try_publish(MessageSend::new("orders")).unwrap();
    events.startup().await;
    events.batch().await;
    stop_server(server).await;
    assert!(matches!(events.try_next(), Some(Event::Shutdown)));
    assert_eq!(broker.dead_letters("orders").len(), 1);
    assert_eq!(broker.dead_letters("orders")[0].deliveries, 1);
}
