//! `message.send` from an application publishes into the same broker.

mod support;

use amgi_core::{Binding, Headers, KafkaBinding, MessageSend, SqsBinding};
use amgi_memory::{Broker, Server};
use support::{Scripted, Verdict, start_server, stop_server};

#[tokio::test]
async fn message_send_round_trip_keeps_headers_payload_and_binding() {
    let broker = Broker::default();
    let sent = MessageSend::new("order.processed")
        .headers(
            Headers::new()
                .with("correlation-id", "c-1")
                .with("tag", "x"),
        )
        .payload(&b"{\"id\":1}"[..])
        .binding(KafkaBinding::with_key("order-1"))
        .binding(SqsBinding::with_group("g"));
    let forward = sent.clone();
    let (app, mut events) = Scripted::new(move |message| {
        if message.payload.as_deref() == Some(b"in") {
            Verdict::Forward(forward.clone())
        } else {
            Verdict::Ack
        }
    });
    let server = start_server(
        Server::new(app, broker.clone()).addresses(["order.created", "order.processed"]),
    )
    .await;
    broker
        .try_publish(MessageSend::new("order.created").payload("in"))
        .unwrap();
    events.startup().await;
    assert_eq!(events.batch().await.address, "order.created");

    let batch = events.batch().await;
    assert_eq!(batch.address, "order.processed");
    let received = &batch.messages[0];
    assert_eq!(received.headers, sent.headers);
    assert_eq!(received.payload, sent.payload);
    assert_eq!(
        received.binding,
        Some(Binding::Kafka(KafkaBinding::with_key("order-1")))
    );
    stop_server(server).await;
    assert_eq!(
        broker.depth("order.created") + broker.depth("order.processed"),
        0
    );
}
