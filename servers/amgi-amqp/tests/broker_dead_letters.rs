//! A queue declared with a dead-letter exchange of its own (classic or quorum): the server
//! rejects its dead letters (`requeue=false`) and RabbitMQ routes them there, with its
//! `x-death` header; no `<queue>.dlq` is declared.

mod support;

use std::time::Duration;

use amgi_amqp::Server;
use asyncfast::prelude::*;
use lapin::options::{QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use serde::Deserialize;
use support::{Outside, config, unique};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[allow(dead_code)]
struct Order {
    id: u64,
}

#[channel("amgi-test.own-dlx.{run}")]
async fn on_order(payload: Payload<Order>, _run: Param<String>) {
    std::hint::black_box(payload);
}

async fn dead_letters_go_to_the_queues_own_exchange(queue_type: &str) {
    let queue = unique("own-dlx");
    let dead = format!("{queue}-dead");
    let outside = Outside::connect().await;
    let text = |value: &str| AMQPValue::LongString(LongString::from(value));
    let mut arguments = FieldTable::default();
    arguments.insert("x-queue-type".into(), text(queue_type));
    arguments.insert("x-dead-letter-exchange".into(), text("amq.direct"));
    arguments.insert("x-dead-letter-routing-key".into(), text(&dead));
    outside
        .channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions::durable(),
            arguments,
        )
        .await
        .unwrap();
    outside.declare(&dead).await;
    outside
        .channel
        .queue_bind(
            dead.as_str().into(),
            "amq.direct".into(),
            dead.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let app = AsyncFast::empty().channel(handler!(on_order));
    let handle = Server::new(app, config(&[&queue])).start().await.unwrap();
    outside.publish(&queue, &[], b"not json").await;
    let letter = outside.next(&dead).await;
    assert_eq!(letter.data, b"not json");
    let headers = letter.properties.headers().clone().unwrap_or_default();
    assert!(headers.inner().contains_key("x-death"), "{headers:?}");
    tokio::time::timeout(Duration::from_secs(10), handle.shutdown())
        .await
        .unwrap()
        .unwrap();
    let dlq_declared = outside
        .connection
        .create_channel()
        .await
        .unwrap()
        .queue_declare(
            format!("{queue}.dlq").as_str().into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .is_ok();
    outside.delete(&[&queue, &dead]).await;
    assert!(
        !dlq_declared,
        "no <queue>.dlq for a queue with its own dead-letter exchange"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_classic_queue_with_its_own_dead_letter_exchange_gets_the_dead_letters_there() {
    dead_letters_go_to_the_queues_own_exchange("classic").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quorum_queue_with_its_own_dead_letter_exchange_gets_the_dead_letters_there() {
    dead_letters_go_to_the_queues_own_exchange("quorum").await;
}
