//! Messages nacked on their last delivery move to the dead-letter address with the reason.

mod support;

use amgi_core::dead_letter::{ADDRESS_HEADER, DELIVERIES_HEADER, REASON_HEADER};
use amgi_core::{Binding, Headers, KafkaBinding, MessageSend, MqttBinding};
use amgi_memory::{Broker, BrokerConfig, PublishErrorKind, Server};
use support::{Scripted, Verdict, start_server, stop_server, within};

fn header<'a>(headers: &'a Headers, name: &str) -> &'a [u8] {
    headers
        .get(name.as_bytes())
        .unwrap_or_else(|| panic!("header `{name}` missing from {headers:?}"))
}

#[tokio::test]
async fn dead_letter_keeps_the_message_and_adds_the_reason_headers() {
    let broker = Broker::default();
    let (app, mut events) = Scripted::nacking("invalid payload: field `id` missing");
    let server = start_server(
        Server::new(app, broker.clone())
            .address("orders")
            .max_deliveries(2),
    )
    .await;
    let message = MessageSend::new("orders")
        .headers(Headers::new().with("trace", "t-1"))
        .payload("{}")
        .binding(KafkaBinding::with_key("order-1"))
        .binding(MqttBinding::new(1, false));
    within("publish", broker.publish(message.clone()))
        .await
        .unwrap();
    events.startup().await;
    events.batch().await;
    events.batch().await;
    stop_server(server).await;

    assert_eq!(broker.depth("orders"), 0);
    assert_eq!(broker.depth("orders.dlq"), 1);
    let dead = broker.dead_letters("orders");
    assert_eq!(dead.len(), 1);
    let letter = &dead[0];
    assert_eq!(letter.address, "orders");
    assert_eq!(letter.reason, "invalid payload: field `id` missing");
    assert_eq!(letter.deliveries, 2);
    assert_eq!(letter.payload, message.payload);
    assert_eq!(letter.bindings, message.bindings);
    assert_eq!(header(&letter.headers, "trace"), b"t-1");
    assert_eq!(
        header(&letter.headers, REASON_HEADER),
        b"invalid payload: field `id` missing"
    );
    assert_eq!(header(&letter.headers, DELIVERIES_HEADER), b"2");
    assert_eq!(header(&letter.headers, ADDRESS_HEADER), b"orders");
}

#[tokio::test]
async fn dead_letter_address_is_consumed_like_any_other() {
    let broker = Broker::default();
    let (app, mut events) = Scripted::nacking_payload(b"bad", "rejected");
    let server = start_server(
        Server::new(app, broker.clone())
            .address("orders")
            .max_deliveries(1),
    )
    .await;
    let (dlq_app, mut dlq_events) = Scripted::acking();
    let dlq_server = dlq_events
        .start(Server::new(dlq_app, broker.clone()).address("orders.dlq"))
        .await;
    within(
        "publish",
        broker.publish(
            MessageSend::new("orders")
                .payload("bad")
                .binding(KafkaBinding::with_key("k")),
        ),
    )
    .await
    .unwrap();
    events.startup().await;
    events.batch().await;

    let batch = dlq_events.batch().await;
    assert_eq!(batch.address, "orders.dlq");
    let received = &batch.messages[0];
    assert_eq!(header(&received.headers, REASON_HEADER), b"rejected");
    assert_eq!(header(&received.headers, ADDRESS_HEADER), b"orders");
    assert_eq!(
        received.binding,
        Some(Binding::Kafka(KafkaBinding::with_key("k")))
    );
    stop_server(server).await;
    stop_server(dlq_server).await;
    assert!(broker.dead_letters("orders").is_empty());
}

#[tokio::test]
async fn custom_suffix_names_the_dead_letter_address() {
    let broker = Broker::new(BrokerConfig::new().dead_letter_suffix(".failed"));
    assert_eq!(
        broker.dead_letter_address("orders").as_deref(),
        Some("orders.failed")
    );
    let (app, mut events) = Scripted::nacking("no");
    let server = start_server(
        Server::new(app, broker.clone())
            .address("orders")
            .max_deliveries(1),
    )
    .await;
    broker.try_publish(MessageSend::new("orders")).unwrap();
    events.startup().await;
    events.batch().await;
    stop_server(server).await;

    assert_eq!(broker.depth("orders.failed"), 1);
    assert_eq!(broker.depth("orders.dlq"), 0);
    assert_eq!(broker.dead_letters("orders").len(), 1);
}

#[tokio::test]
async fn full_dead_letter_queue_keeps_every_letter_beyond_its_capacity() {
    let broker = Broker::new(BrokerConfig::new().capacity(2));
    let (app, mut events) = Scripted::nacking("no");
    let server = events
        .start(
            Server::new(app, broker.clone())
                .address("orders")
                .batch_size(1)
                .max_deliveries(1),
        )
        .await;
    for payload in ["a", "b", "c", "d"] {
        within(
            "publish",
            broker.publish(MessageSend::new("orders").payload(payload)),
        )
        .await
        .unwrap();
        assert_eq!(events.batch().await.payloads(), [payload]);
    }
    stop_server(server).await;

    // Nothing dropped: the dead-letter queue holds twice its capacity.
    let payloads: Vec<_> = broker
        .dead_letters("orders")
        .into_iter()
        .map(|letter| letter.payload.unwrap())
        .collect();
    assert_eq!(payloads, ["a", "b", "c", "d"]);
    assert_eq!(broker.depth("orders.dlq"), 4);
    // The source queue freed every slot: publishing does not wait.
    broker.try_publish(MessageSend::new("orders")).unwrap();
    broker.try_publish(MessageSend::new("orders")).unwrap();
    // The dead-letter queue takes no new message until it is back under its capacity.
    let full = broker
        .try_publish(MessageSend::new("orders.dlq"))
        .unwrap_err();
    assert_eq!(full.kind(), PublishErrorKind::Full);

    // Consuming the letters frees slots only once the overflow is gone.
    let (dlq_app, mut dlq_events) = Scripted::acking();
    let dlq_server = dlq_events
        .start(
            Server::new(dlq_app, broker.clone())
                .address("orders.dlq")
                .batch_size(3),
        )
        .await;
    assert_eq!(dlq_events.batch().await.payloads(), ["a", "b", "c"]);
    assert_eq!(dlq_events.batch().await.payloads(), ["d"]);
    stop_server(dlq_server).await;
    broker.try_publish(MessageSend::new("orders.dlq")).unwrap();
    broker.try_publish(MessageSend::new("orders.dlq")).unwrap();
    broker
        .try_publish(MessageSend::new("orders.dlq"))
        .expect_err("the capacity holds again once the overflow is gone");
}

#[tokio::test]
async fn dead_lettering_again_replaces_the_dead_letter_headers() {
    let broker = Broker::default();
    let (app, mut events) = Scripted::new(|message| {
        if message.headers.contains(REASON_HEADER.as_bytes()) {
            Verdict::Nack("second")
        } else {
            Verdict::Nack("first")
        }
    });
    let server = start_server(
        Server::new(app, broker.clone())
            .addresses(["orders", "orders.dlq"])
            .max_deliveries(1),
    )
    .await;
    broker.try_publish(MessageSend::new("orders")).unwrap();
    events.startup().await;
    assert_eq!(events.batch().await.address, "orders");
    assert_eq!(events.batch().await.address, "orders.dlq");
    stop_server(server).await;

    let dead = broker.dead_letters("orders.dlq");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, "second");
    assert_eq!(dead[0].address, "orders.dlq");
    assert_eq!(dead[0].deliveries, 1);
    assert_eq!(dead[0].headers.get_all(REASON_HEADER.as_bytes()).count(), 1);
    assert_eq!(dead[0].headers.len(), 3);
}
