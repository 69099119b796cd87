//! A server stopped abruptly mid-stream (its handle dropped, nothing acked): a restart under
//! the same consumer name re-reads its pending entries, another consumer claims them after the
//! claim-idle time, and an entry that stops the consumer every time reaches the dead letters
//! after max-deliveries, counted by Redis across restarts.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use amgi_core::MessageSend;
use amgi_core::dead_letter::{DELIVERIES_HEADER, REASON_HEADER};
use amgi_redis::{RedisConfig, Server};
use amgi_server::{Deadlines, RetryPolicy};
use common::app::{Action, Received, TestApp};
use tokio::sync::mpsc::UnboundedReceiver;

fn config(group: &str, stream: &str, consumer: &str) -> RedisConfig {
    RedisConfig::new(common::URL, group)
        .stream(stream)
        .consumer(consumer)
        .block(Duration::from_millis(100))
        .claim_idle(None)
        .retry(RetryPolicy::new(2).backoff(Duration::from_millis(10), Duration::from_millis(20)))
        .deadlines(Deadlines::default().drain(Duration::from_millis(300)))
}

async fn next(received: &mut UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(common::WAIT, received.recv())
        .await
        .expect("no message within the wait")
        .expect("the application is gone")
}

/// Publishes `m0`…`m{n-1}` to `stream`.
async fn publish_numbered(redis: &mut redis::aio::MultiplexedConnection, stream: &str, n: usize) {
    for i in 0..n {
        common::publish(redis, &MessageSend::new(stream).payload(format!("m{i}"))).await;
    }
}

/// Starts a server whose application acks nothing and hangs on the first message, waits for
/// that message, then drops the handle: the server stops without acking anything.
async fn crash_on_first(group: &str, stream: &str, consumer: &str) -> Received {
    let (app, mut received) = TestApp::new(|_, _| Action::Hang);
    let handle = Server::new(app, config(group, stream, consumer))
        .start()
        .await
        .unwrap();
    let first = next(&mut received).await;
    drop(handle);
    first
}

/// Receives until every payload of `expected` was seen (at least once).
async fn receive_all(received: &mut UnboundedReceiver<Received>, expected: &BTreeSet<String>) {
    let mut seen = BTreeSet::new();
    while !expected.is_subset(&seen) {
        let (_, message) = next(received).await;
        seen.insert(common::text(&message));
    }
}

async fn no_pending(redis: &redis::aio::MultiplexedConnection, stream: &str, group: &str) {
    common::eventually("no pending entries", || {
        let (mut redis, stream, group) = (redis.clone(), stream.to_owned(), group.to_owned());
        async move { common::pending(&mut redis, &stream, &group).await == 0 }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_under_the_same_name_handles_every_entry_left_pending() {
    let mut redis = common::connect().await;
    let (stream, group) = (common::unique("abrupt"), common::unique("g"));
    publish_numbered(&mut redis, &stream, 10).await;
    let first = crash_on_first(&group, &stream, "same-name").await;
    assert_eq!(common::text(&first.1), "m0");
    assert_eq!(common::pending(&mut redis, &stream, &group).await, 10);

    let (app, mut received) = TestApp::new(|_, _| Action::Ack);
    let handle = Server::new(app, config(&group, &stream, "same-name"))
        .start()
        .await
        .unwrap();
    let all: BTreeSet<String> = (0..10).map(|i| format!("m{i}")).collect();
    receive_all(&mut received, &all).await;
    no_pending(&redis, &stream, &group).await;
    handle.shutdown().await.unwrap();
    common::delete(&mut redis, &[&stream]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn another_consumer_claims_what_a_dead_one_left_pending() {
    let mut redis = common::connect().await;
    let (stream, group) = (common::unique("claim"), common::unique("g"));
    publish_numbered(&mut redis, &stream, 5).await;
    crash_on_first(&group, &stream, "dead").await;

    let (app, mut received) = TestApp::new(|_, _| Action::Ack);
    let config = config(&group, &stream, "alive").claim_idle(Some(Duration::from_millis(300)));
    let handle = Server::new(app, config).start().await.unwrap();
    let all: BTreeSet<String> = (0..5).map(|i| format!("m{i}")).collect();
    receive_all(&mut received, &all).await;
    no_pending(&redis, &stream, &group).await;
    // New entries still arrive after the claim.
    publish_numbered(&mut redis, &stream, 1).await;
    let (_, again) = next(&mut received).await;
    assert_eq!(common::text(&again), "m0");
    handle.shutdown().await.unwrap();
    common::delete(&mut redis, &[&stream]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_entry_that_stops_the_consumer_every_time_is_dead_lettered_after_max_deliveries() {
    let mut redis = common::connect().await;
    let (stream, group) = (common::unique("crashy"), common::unique("g"));
    let dead_letters = format!("{stream}.dlq");
    publish_numbered(&mut redis, &stream, 1).await;
    // Two deliveries (max-deliveries is 2), each ending with the consumer gone.
    crash_on_first(&group, &stream, "crashy").await;
    crash_on_first(&group, &stream, "crashy").await;

    let (app, mut received) = TestApp::new(|_, _| Action::Ack);
    let handle = Server::new(app, config(&group, &stream, "crashy"))
        .start()
        .await
        .unwrap();
    common::eventually("the dead letter", || {
        let (mut redis, dead_letters) = (redis.clone(), dead_letters.clone());
        async move { !common::entries(&mut redis, &dead_letters).await.is_empty() }
    })
    .await;
    let (_, letter) = common::entries(&mut redis, &dead_letters).await.remove(0);
    let field = |name: &str| letter.get(name.as_bytes()).cloned().unwrap_or_default();
    assert_eq!(field("payload"), "m0");
    assert_eq!(field(DELIVERIES_HEADER), "2");
    let reason = String::from_utf8_lossy(&field(REASON_HEADER)).into_owned();
    assert!(reason.contains("without being settled"), "{reason}");
    no_pending(&redis, &stream, &group).await;
    handle.shutdown().await.unwrap();
    assert!(
        received.try_recv().is_err(),
        "delivered a third time instead of dead-lettered"
    );
    common::delete(&mut redis, &[&stream, &dead_letters]).await;
}
