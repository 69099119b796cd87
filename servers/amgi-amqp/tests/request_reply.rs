//! Request/reply on RabbitMQ: an AsyncFast handler returning `Reply<i64>` answers requests made
//! with `Publisher::request` (the server's native requester, direct reply-to) and requests of a
//! plain lapin client (`reply_to` + `correlation_id`); with two servers on the queue, killing
//! one mid-stream loses no request.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use amgi_amqp::Server;
use asyncfast::Reply;
use asyncfast::prelude::*;
use futures_util::StreamExt;
use lapin::BasicProperties;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions};
use lapin::types::FieldTable;
use serde::{Deserialize, Serialize};
use support::{Outside, config, unique};
use tokio::sync::Notify;

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
struct Multiply {
    x: i64,
    y: i64,
}

/// Counts the requests an instance answered; from `stall_from` on, it hangs instead (and says
/// so through `stalled`).
struct Answered {
    count: AtomicU32,
    stall_from: Option<i64>,
    stalled: Notify,
}

#[channel("amgi-test.multiply.{run}")]
async fn multiply(
    args: Payload<Multiply>,
    answered: State<Answered>,
    _run: Param<String>,
) -> Reply<i64> {
    if answered.stall_from.is_some_and(|from| args.x >= from) {
        answered.stalled.notify_one();
        std::future::pending::<()>().await;
    }
    answered.count.fetch_add(1, Ordering::Relaxed);
    Reply(args.x * args.y)
}

fn responder() -> (AsyncFast, Arc<Answered>) {
    responder_stalling_from(None)
}

fn responder_stalling_from(stall_from: Option<i64>) -> (AsyncFast, Arc<Answered>) {
    let answered = Arc::new(Answered {
        count: AtomicU32::new(0),
        stall_from,
        stalled: Notify::new(),
    });
    let app = AsyncFast::empty()
        .state_arc(Arc::clone(&answered))
        .channel(handler!(multiply));
    (app, answered)
}

fn queue() -> String {
    unique("multiply")
}

#[tokio::test(flavor = "multi_thread")]
async fn publisher_request_is_answered_through_direct_reply_to() {
    let queue = queue();
    let (app, answered) = responder();
    let responder = Server::new(app, config(&[&queue])).start().await.unwrap();
    let asker = AsyncFast::empty();
    let publisher = asker.publisher();
    let requester = Server::new(asker, config(&[])).start().await.unwrap();
    for x in 1..=20_i64 {
        let product: i64 = publisher
            .request(queue.as_str(), &Multiply { x, y: 7 })
            .timeout(Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(product, x * 7);
    }
    assert_eq!(answered.count.load(Ordering::Relaxed), 20);
    requester.shutdown().await.unwrap();
    responder.shutdown().await.unwrap();
    Outside::connect().await.delete(&[&queue]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_lapin_client_gets_the_reply_on_its_reply_to_with_its_correlation_id() {
    let queue = queue();
    let (app, _) = responder();
    let responder = Server::new(app, config(&[&queue])).start().await.unwrap();
    let outside = Outside::connect().await;
    let channel = outside.connection.create_channel().await.unwrap();
    let mut replies = channel
        .basic_consume(
            "amq.rabbitmq.reply-to".into(),
            "".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    for (id, x) in [("req-1", 6_i64), ("req-2", 9)] {
        let properties = BasicProperties::default()
            .with_reply_to("amq.rabbitmq.reply-to".into())
            .with_correlation_id(id.into());
        let payload = serde_json::to_vec(&Multiply { x, y: 7 }).unwrap();
        channel
            .basic_publish(
                "".into(),
                queue.as_str().into(),
                BasicPublishOptions::default(),
                &payload,
                properties,
            )
            .await
            .unwrap();
        let reply = tokio::time::timeout(Duration::from_secs(10), replies.next())
            .await
            .expect("no reply within 10 s")
            .unwrap()
            .unwrap();
        let correlation = reply
            .properties
            .correlation_id()
            .as_ref()
            .map(ToString::to_string);
        assert_eq!(correlation.as_deref(), Some(id));
        assert_eq!(serde_json::from_slice::<i64>(&reply.data).unwrap(), x * 7);
    }
    responder.shutdown().await.unwrap();
    outside.delete(&[&queue]).await;
}

/// A responder on a runtime of its own, so that the test can kill it (drop the runtime).
fn responder_on_own_runtime(
    queue: &str,
    stall_from: Option<i64>,
) -> (tokio::runtime::Runtime, Arc<Answered>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (app, answered) = responder_stalling_from(stall_from);
    let config = config(&[queue]);
    let handle = runtime.block_on(async move { Server::new(app, config).start().await.unwrap() });
    // Never shut down gracefully: the runtime is dropped with it.
    std::mem::forget(handle);
    (runtime, answered)
}

/// The first responder hangs on a request from the 20th on, and is killed (its runtime dropped,
/// no graceful shutdown) while it holds that request unacknowledged: RabbitMQ gives the request
/// to the second responder, and every one of the 60 sequential requests is answered, without
/// the requester trying again.
#[test]
fn with_two_responders_killing_one_mid_request_loses_no_request() {
    let queue = queue();
    let main = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // Declares the queue before either responder consumes it.
    let outside = main.block_on(async {
        let outside = Outside::connect().await;
        outside.declare(&queue).await;
        outside
    });
    let (first, first_answered) = responder_on_own_runtime(&queue, Some(20));
    let (second, second_answered) = responder_on_own_runtime(&queue, None);
    let asker = AsyncFast::empty();
    let publisher = asker.publisher();
    let killed = main.block_on(async {
        let requester = Server::new(asker, config(&[])).start().await.unwrap();
        let stalled = Arc::clone(&first_answered);
        let killer = tokio::spawn(async move {
            stalled.stalled.notified().await;
            first.shutdown_background();
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
        for x in 1..=60_i64 {
            let product: i64 = tokio::time::timeout_at(
                deadline,
                publisher
                    .request(queue.as_str(), &Multiply { x, y: 3 })
                    .timeout(Duration::from_secs(15)),
            )
            .await
            .expect("the requests did not finish within 40 s")
            .unwrap_or_else(|error| panic!("request {x}: {error}"));
            assert_eq!(product, x * 3);
        }
        requester.shutdown().await.unwrap();
        outside.delete(&[&queue]).await;
        killer.is_finished()
    });
    second.shutdown_background();
    let (first, second) = (
        first_answered.count.load(Ordering::Relaxed),
        second_answered.count.load(Ordering::Relaxed),
    );
    assert!(killed, "the first responder was killed holding a request");
    assert!(
        first > 0 && second > 0,
        "both answered: {first} and {second}"
    );
    assert_eq!(first + second, 60, "{first} + {second} answers");
}
