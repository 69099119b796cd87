//! Which addresses a server consumes.

mod support;

use amgi_core::MessageSend;
use amgi_memory::{Broker, BrokerConfig, Server};
use support::{Scripted, stop_server};

// These tests run on a paused clock: `next_if_any` returning `None` then means the runtime went
// idle with nothing more delivered.

#[tokio::test(start_paused = true)]
async fn all_addresses_takes_existing_and_later_addresses_but_not_dead_letter_ones() {
    let broker = Broker::default();
    broker
        .try_publish(MessageSend::new("before").payload("b"))
        .unwrap();
    broker
        .try_publish(MessageSend::new("parked.dlq").payload("p"))
        .unwrap();
    let (app, mut events) = Scripted::nacking_payload(b"reject", "rejected");
    let server = events
        .start(
            Server::new(app, broker.clone())
                .all_addresses()
                .max_deliveries(1),
        )
        .await;
    assert_eq!(events.batch().await.address, "before");

    // Created after start.
    broker
        .try_publish(MessageSend::new("after").payload("a"))
        .unwrap();
    assert_eq!(events.batch().await.address, "after");
    broker
        .try_publish(MessageSend::new("later.dlq").payload("l"))
        .unwrap();
    broker
        .try_publish(MessageSend::new("after").payload("reject"))
        .unwrap();
    assert_eq!(events.batch().await.payloads(), ["reject"]);

    // Neither the dead-letter address created by dead-lettering nor the ones published to
    // directly are consumed.
    assert!(events.next_if_any().await.is_none());
    stop_server(server).await;
    assert_eq!(broker.depth("after.dlq"), 1);
    assert_eq!(broker.depth("parked.dlq"), 1);
    assert_eq!(broker.depth("later.dlq"), 1);
    assert_eq!(broker.depth("before") + broker.depth("after"), 0);
}

#[tokio::test(start_paused = true)]
async fn all_addresses_honours_a_custom_dead_letter_suffix() {
    let broker = Broker::new(BrokerConfig::new().dead_letter_suffix("-failed"));
    broker.try_publish(MessageSend::new("orders.dlq")).unwrap();
    broker
        .try_publish(MessageSend::new("orders-failed"))
        .unwrap();
    let (app, mut events) = Scripted::acking();
    let server = events
        .start(Server::new(app, broker.clone()).all_addresses())
        .await;
    assert_eq!(events.batch().await.address, "orders.dlq");
    assert!(events.next_if_any().await.is_none());
    stop_server(server).await;
    assert_eq!(broker.depth("orders-failed"), 1);
}

#[tokio::test(start_paused = true)]
async fn named_addresses_only_are_consumed() {
    let broker = Broker::default();
    let (app, mut events) = Scripted::acking();
    let server = events
        .start(Server::new(app, broker.clone()).addresses(["a", "b"]))
        .await;
    broker.try_publish(MessageSend::new("c")).unwrap();
    broker.try_publish(MessageSend::new("b")).unwrap();
    assert_eq!(events.batch().await.address, "b");
    assert!(events.next_if_any().await.is_none());
    stop_server(server).await;
    assert_eq!(broker.depth("c"), 1);
}

#[tokio::test(start_paused = true)]
async fn an_address_named_twice_is_consumed_once() {
    let broker = Broker::default();
    broker
        .try_publish(MessageSend::new("a").payload("1"))
        .unwrap();
    broker
        .try_publish(MessageSend::new("a").payload("2"))
        .unwrap();
    let (app, mut events, gate) = Scripted::gated();
    let server = events
        .start(
            Server::new(app, broker.clone())
                .address("a")
                .address(String::from("a"))
                .all_addresses()
                .batch_size(1),
        )
        .await;
    assert_eq!(events.batch().await.payloads(), ["1"]);
    // A second consumer loop would take "2" while "1" is held.
    assert!(events.next_if_any().await.is_none());
    assert_eq!(broker.in_flight("a"), 1);
    gate.add_permits(2);
    assert_eq!(events.batch().await.payloads(), ["2"]);
    stop_server(server).await;
}
