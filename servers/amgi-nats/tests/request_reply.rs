//! Request/reply on core NATS: an AsyncFast handler returning `Reply<i64>` answers requests made
//! through the server's native requester (`Publisher::request`, NATS inboxes) and by a plain
//! async-nats client; a timeout and "no responders" are clear errors; and two servers in one
//! queue group answer every request of a stream of them while one is stopped abruptly.

mod common;

use std::time::Duration;

use amgi_nats::{NatsConfig, Server};
use asyncfast::Reply;
use asyncfast::prelude::*;
use asyncfast::request::RequestError;
use common::{WAIT, unique};
use futures_util::StreamExt;

#[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
struct Multiply {
    x: i64,
    y: i64,
}

#[channel("amgi.rr.{run}.multiply")]
async fn multiply(args: Payload<Multiply>, _run: Param<String>) -> Reply<i64> {
    Reply(args.x * args.y)
}

fn app() -> AsyncFast {
    AsyncFast::empty().channel(handler!(multiply))
}

fn subject() -> String {
    format!("amgi.rr.{}.multiply", unique("run"))
}

#[tokio::test(flavor = "multi_thread")]
async fn publisher_request_and_a_plain_client_get_the_reply() {
    let subject = subject();
    let app = app();
    let publisher = app.publisher();
    let config = NatsConfig::new(common::URL).subjects([subject.clone()]);
    let handle = Server::new(app, config).start().await.unwrap();

    // (a) The native path: the server's requester, on a NATS inbox.
    let product: i64 = publisher
        .request(subject.clone(), &Multiply { x: 6, y: 7 })
        .timeout(WAIT)
        .await
        .unwrap();
    assert_eq!(product, 42);

    // (b) Interop: any NATS client's request.
    let client = common::connect().await;
    let reply = tokio::time::timeout(
        WAIT,
        client.request(subject.clone(), r#"{"x":-3,"y":5}"#.into()),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(&reply.payload[..], b"-15");

    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_subject_times_out_and_an_empty_one_has_no_responders() {
    let served = subject();
    let app = app();
    let publisher = app.publisher();
    let config = NatsConfig::new(common::URL).subjects([served]);
    let handle = Server::new(app, config).start().await.unwrap();

    // Someone subscribes but never answers: the request times out.
    let client = common::connect().await;
    let silent = format!("amgi.rr.{}.silent", unique("run"));
    let mut subscription = client.subscribe(silent.clone()).await.unwrap();
    // Registered once a message of this connection comes back through it (`flush` only writes).
    client.publish(silent.clone(), "ping".into()).await.unwrap();
    tokio::time::timeout(WAIT, subscription.next())
        .await
        .unwrap()
        .unwrap();
    let error = publisher
        .request::<i64>(silent, &Multiply { x: 1, y: 1 })
        .timeout(Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(
        matches!(error, RequestError::TimedOut { .. }),
        "expected a timeout, got {error:?}"
    );

    // Nobody subscribes: NATS says so at once.
    let nobody = format!("amgi.rr.{}.nobody", unique("run"));
    let error = publisher
        .request::<i64>(nobody, &Multiply { x: 1, y: 1 })
        .timeout(WAIT)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("no responders"), "{error}");

    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
}

/// Core NATS is at most once: a request that reached the server that stopped is lost, so the
/// requester retries on a timeout (or on "no responders"); the other server of the queue group
/// answers.
#[tokio::test(flavor = "multi_thread")]
async fn two_servers_in_a_queue_group_answer_every_request_while_one_stops_abruptly() {
    const REQUESTS: i64 = 300;
    let subject = subject();
    let group = unique("group");
    let start = || {
        let config = NatsConfig::new(common::URL)
            .subjects([subject.clone()])
            .group(group.clone());
        Server::new(app(), config).start()
    };
    let first = start().await.unwrap();
    let second = start().await.unwrap();
    let client = common::connect().await;
    let mut first = Some(first);
    let mut retries = 0;
    for i in 0..REQUESTS {
        if i == REQUESTS / 3 {
            // Abrupt: no drain, no lifespan shutdown; what it holds is lost.
            drop(first.take());
        }
        let payload = serde_json::to_vec(&Multiply { x: i, y: 2 }).unwrap();
        let mut attempts = 0;
        let reply = loop {
            attempts += 1;
            assert!(attempts <= 10, "request {i} unanswered after 10 attempts");
            let request = async_nats::Request::new()
                .payload(payload.clone().into())
                .timeout(Some(Duration::from_millis(500)));
            match client.send_request(subject.clone(), request).await {
                Ok(reply) => break reply,
                Err(_) => retries += 1,
            }
        };
        let answer: i64 = serde_json::from_slice(&reply.payload).unwrap();
        assert_eq!(answer, i * 2);
    }
    println!("{REQUESTS} requests answered, {retries} retried");
    tokio::time::timeout(WAIT, second.shutdown())
        .await
        .unwrap()
        .unwrap();
}
