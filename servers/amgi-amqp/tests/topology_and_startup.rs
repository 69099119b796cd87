//! Queues and their bindings: a headers-exchange binding delivers only matching messages, a
//! routing-key binding to a topic exchange only matching keys; `message.send` reaches an
//! exchange named by its binding, with its properties; a missing queue with `--no-declare`, and
//! a broker that is down, are clear errors that never show the password.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use amgi_amqp::{AmqpConfig, AmqpErrorKind, AmqpUrl, HeadersMatch, Server};
use amgi_core::{AmqpBinding, Binding, Headers, MessageSend};
use asyncfast::prelude::*;
use lapin::BasicProperties;
use lapin::options::{QueueBindOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use support::{Outside, config, unique};
use tokio::sync::mpsc;

/// Where the handler reports the payloads it got.
struct Seen(Mutex<mpsc::UnboundedSender<String>>);

#[channel("amgi-test.bound.{run}")]
async fn on_bound(payload: Payload<String>, seen: State<Seen>, _run: Param<String>) {
    let Seen(sender) = &*seen;
    let _ = sender.lock().unwrap().send(payload.0);
}

async fn next(seen: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(10), seen.recv())
        .await
        .expect("nothing handled within 10 s")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn headers_and_topic_bindings_deliver_only_matching_messages() {
    let queue = unique("bound");
    let outside = Outside::connect().await;
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let app = AsyncFast::empty()
        .state(Seen(Mutex::new(seen_tx)))
        .channel(handler!(on_bound));
    let topic_key = format!("{queue}.*.created");
    let config = config(&[&queue])
        .bind_headers(
            "amq.headers",
            [("region", "eu"), ("kind", "user")],
            HeadersMatch::All,
        )
        .bind("amq.topic", &topic_key);
    let handle = Server::new(app, config).start().await.unwrap();

    let publish = |exchange: &'static str,
                   key: String,
                   headers: Vec<(&'static str, &'static [u8])>,
                   body: &'static str| {
        let outside = &outside;
        async move {
            let payload = body.as_bytes();
            outside
                .publish_to(
                    exchange,
                    &key,
                    &headers,
                    payload,
                    BasicProperties::default(),
                )
                .await;
        }
    };
    publish(
        "amq.headers",
        String::new(),
        vec![("region", b"us"), ("kind", b"user")],
        "us",
    )
    .await;
    publish(
        "amq.headers",
        String::new(),
        vec![("region", b"eu")],
        "eu only",
    )
    .await;
    publish(
        "amq.headers",
        String::new(),
        vec![("region", b"eu"), ("kind", b"user")],
        "eu user",
    )
    .await;
    publish(
        "amq.topic",
        format!("{queue}.eu.deleted"),
        vec![],
        "deleted",
    )
    .await;
    publish(
        "amq.topic",
        format!("{queue}.eu.created"),
        vec![],
        "created",
    )
    .await;

    assert_eq!(next(&mut seen).await, "eu user");
    assert_eq!(next(&mut seen).await, "created");
    handle.shutdown().await.unwrap();
    assert!(seen.try_recv().is_err(), "only the matching messages");
    outside.delete(&[&queue]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_send_goes_to_the_exchange_of_its_binding_with_its_properties_and_headers() {
    let queue = unique("sent");
    let outside = Outside::connect().await;
    outside.declare(&queue).await;
    outside
        .channel
        .queue_bind(
            queue.as_str().into(),
            "amq.direct".into(),
            queue.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let app = AsyncFast::empty();
    let publisher = app.publisher();
    let handle = Server::new(app, config(&[])).start().await.unwrap();
    let mut binding = AmqpBinding::default();
    binding.exchange = Some("amq.direct".into());
    binding.routing_key = Some(queue.clone());
    binding.correlation_id = Some("c-7".into());
    binding.message_id = Some("m-7".into());
    binding.content_type = Some("application/json".into());
    binding.priority = Some(3);
    let message = MessageSend::new("ignored-address")
        .headers(Headers::new().with("b", "2").with("a", "1"))
        .payload(&b"{}"[..])
        .binding(Binding::from(binding));
    publisher.send(message).await.unwrap();
    let arrived = outside.next(&queue).await;
    let properties = &arrived.properties;
    assert_eq!(arrived.exchange.as_str(), "amq.direct");
    assert_eq!(
        properties.correlation_id().as_ref().unwrap().as_str(),
        "c-7"
    );
    assert_eq!(properties.message_id().as_ref().unwrap().as_str(), "m-7");
    assert_eq!(
        properties.content_type().as_ref().unwrap().as_str(),
        "application/json"
    );
    assert_eq!(*properties.priority(), Some(3));
    // Persistent unless the binding says otherwise.
    assert_eq!(*properties.delivery_mode(), Some(2));
    let headers = properties.headers().clone().unwrap();
    assert!(headers.inner().contains_key("a") && headers.inner().contains_key("b"));
    assert!(headers.inner().contains_key(amgi_amqp::HEADER_ORDER));
    handle.shutdown().await.unwrap();
    outside.delete(&[&queue]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_queue_with_no_declare_is_a_clear_error() {
    let queue = unique("missing");
    let config = config(&[&queue]).declare(false);
    let error = Server::new(AsyncFast::empty(), config)
        .start()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), AmqpErrorKind::Topology);
    let message = error.to_string();
    assert!(message.contains(&queue), "{message}");
    assert!(message.contains("--no-declare"), "{message}");
    assert!(!message.contains("guest:guest"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_that_is_down_is_a_clear_error_naming_the_redacted_url() {
    // Port 1: nothing listens there.
    let url = AmqpUrl::new("amqp://app:s3cret@127.0.0.1:1/%2f");
    let config = AmqpConfig::new(url)
        .queues(["orders"])
        .connect_timeout(Duration::from_secs(3));
    let started = tokio::time::Instant::now();
    let error = Server::new(AsyncFast::empty(), config)
        .start()
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(error.kind(), AmqpErrorKind::Unreachable);
    assert!(error.is_retryable());
    let message = error.to_string();
    assert!(
        message.contains("amqp://app:***@127.0.0.1:1/%2f"),
        "{message}"
    );
    assert!(message.contains("scripts/brokers-up"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queue_deleted_under_the_server_is_consumed_again_once_it_is_back() {
    let queue = unique("bound");
    let outside = Outside::connect().await;
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let app = AsyncFast::empty()
        .state(Seen(Mutex::new(seen_tx)))
        .channel(handler!(on_bound));
    let handle = Server::new(app, config(&[&queue])).start().await.unwrap();
    outside.publish(&queue, &[], b"before").await;
    assert_eq!(next(&mut seen).await, "before");

    // RabbitMQ cancels the server's consumer; the connection stays up.
    outside
        .channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    outside.declare(&queue).await;
    outside.publish(&queue, &[], b"after").await;
    assert_eq!(next(&mut seen).await, "after");
    handle.shutdown().await.unwrap();
    outside.delete(&[&queue]).await;
}
