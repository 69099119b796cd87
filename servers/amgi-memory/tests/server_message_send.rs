//! `message.send` from an application publishes into the same broker.

mod support;

use std::time::Duration;

use amgi_core::{Binding, Headers, KafkaBinding, MessageSend, SendErrorKind, SqsBinding};
use amgi_memory::{Broker, BrokerConfig, Server};
use support::{Event, Scripted, Verdict, publish_payloads, start_server, stop_server};

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

// Before the bounded send this hung: the four messages filled the queue while in flight, and each
// handler's send waited for a slot that only its own ack would free. On a paused clock the send
// timeout passes as soon as everything waits.
#[tokio::test(start_paused = true)]
async fn sending_to_the_own_full_queue_fails_retryably_instead_of_deadlocking() {
    let broker = Broker::new(BrokerConfig::new().capacity(4));
    publish_payloads(&broker, "loop", ["1", "2", "3", "4"]);
    let (app, mut events) = Scripted::new(|message| {
        if message.payload.as_deref() == Some(b"child") {
            Verdict::Ack
        } else {
            Verdict::ForwardOrNack(MessageSend::new("loop").payload("child"))
        }
    });
    let server = events
        .start(
            Server::new(app, broker.clone())
                .address("loop")
                .max_deliveries(2),
        )
        .await;
    // Each of the four handlers fails its send on both deliveries (8 × the 1 s default timeout).
    let mut failed = 0;
    let mut acked_children = 0;
    let all_settled = async {
        while failed < 8 {
            match events.next().await {
                Event::SendFailed(kind) => {
                    assert_eq!(kind, SendErrorKind::Transport, "a retryable failure");
                    failed += 1;
                }
                Event::Batch(batch) => {
                    acked_children += batch.payloads().iter().filter(|p| *p == "child").count();
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_mins(1), all_settled)
        .await
        .expect("the handlers' sends hang");
    stop_server(server).await;

    // Nothing lost: every message was acked or dead-lettered.
    let dead = broker.dead_letters("loop");
    assert_eq!(dead.len() + acked_children, 4);
    assert!(
        dead[0].reason.contains("`loop`") && dead[0].reason.contains("capacity 4"),
        "{}",
        dead[0].reason
    );
    assert_eq!(broker.depth("loop") + broker.in_flight("loop"), 0);
}
