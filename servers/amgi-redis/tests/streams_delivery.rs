//! Delivery on Redis Streams: fields ⇄ headers and payload, nack → redelivery → dead letter,
//! and at least once across a restart.

mod common;

use std::time::Duration;

use amgi_core::dead_letter::{ADDRESS_HEADER, DELIVERIES_HEADER, REASON_HEADER};
use amgi_core::{Binding, BoxApplication, Headers, MessageSend};
use amgi_redis::{RedisConfig, STREAM_ID_HEADER, Server};
use amgi_server::{Deadlines, RetryPolicy};
use common::app::{Action, Received, TestApp};
use tokio::sync::mpsc::UnboundedReceiver;

fn config(group: &str, streams: &[&str]) -> RedisConfig {
    RedisConfig::new(common::URL, group)
        .streams(streams.iter().copied())
        .consumer("delivery-test")
        .block(Duration::from_millis(200))
        .retry(RetryPolicy::new(2).backoff(Duration::from_millis(10), Duration::from_millis(20)))
        .deadlines(Deadlines::default().drain(Duration::from_millis(300)))
}

async fn next(received: &mut UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(common::WAIT, received.recv())
        .await
        .expect("no message within the wait")
        .expect("the application is gone")
}

#[tokio::test(flavor = "multi_thread")]
async fn headers_and_payload_round_trip_through_message_send() {
    let mut redis = common::connect().await;
    let (inbound, outbound) = (common::unique("send.in"), common::unique("send.out"));
    let out = outbound.clone();
    let (app, mut received) = TestApp::new(move |address, _| {
        if address == out {
            return Action::Ack;
        }
        let headers = Headers::new()
            .with("h1", "v1")
            .with("h2", &b"\x00\xffbinary"[..])
            .with("h1", "v3");
        Action::SendThenAck(
            MessageSend::new(out.as_str())
                .headers(headers)
                .payload("the payload"),
        )
    });
    let server = Server::new(app, config(&common::unique("g"), &[&inbound, &outbound]));
    let handle = server.start().await.unwrap();
    common::publish(
        &mut redis,
        &MessageSend::new(inbound.as_str()).payload("go"),
    )
    .await;

    let (address, first) = next(&mut received).await;
    assert_eq!(
        (address.as_str(), first.payload.as_deref()),
        (inbound.as_str(), Some(&b"go"[..]))
    );
    let (address, sent) = next(&mut received).await;
    assert_eq!(address, outbound);
    assert_eq!(sent.payload.as_deref(), Some(&b"the payload"[..]));
    let headers: Vec<_> = sent.headers.iter().cloned().collect();
    assert_eq!(
        headers,
        [
            ("h1".into(), "v1".into()),
            ("h2".into(), (&b"\x00\xffbinary"[..]).into()),
            ("h1".into(), "v3".into())
        ]
    );
    let Some(Binding::Redis(binding)) = &sent.binding else {
        panic!("no Redis binding: {:?}", sent.binding)
    };
    // In the stream: `payload` first, then the headers in order; the binding has its id.
    let entries = common::entries(&mut redis, &outbound).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(binding.stream_id.as_deref(), Some(entries[0].0.as_str()));
    let names: Vec<_> = entries[0].1.iter().map(|(name, _)| name.clone()).collect();
    assert_eq!(names, ["payload", "h1", "h2", "h1"]);
    handle.shutdown().await.unwrap();
    common::delete(&mut redis, &[&inbound, &outbound]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nacked_entry_is_redelivered_then_dead_lettered_and_acked() {
    let mut redis = common::connect().await;
    let (stream, group) = (common::unique("nack"), common::unique("g"));
    let (app, mut received) = TestApp::new(|_, _| Action::Nack("cannot parse"));
    let handle = Server::new(app, config(&group, &[&stream]))
        .start()
        .await
        .unwrap();
    let message = MessageSend::new(stream.as_str())
        .headers(Headers::new().with("correlation-id", "c-1"))
        .payload("poison");
    common::publish(&mut redis, &message).await;

    for _ in 0..2 {
        let (_, delivery) = next(&mut received).await;
        assert_eq!(delivery.payload.as_deref(), Some(&b"poison"[..]));
    }
    let dead_letter_stream = format!("{stream}.dlq");
    common::eventually("the dead letter", || {
        let mut redis = redis.clone();
        let dead_letter_stream = dead_letter_stream.clone();
        async move {
            !common::entries(&mut redis, &dead_letter_stream)
                .await
                .is_empty()
        }
    })
    .await;
    let original_id = common::entries(&mut redis, &stream).await[0].0.clone();
    let (_, letter) = common::entries(&mut redis, &dead_letter_stream)
        .await
        .remove(0);
    let field = |name: &str| letter.get(name.as_bytes()).cloned().unwrap_or_default();
    assert_eq!(field("payload"), "poison");
    assert_eq!(field("correlation-id"), "c-1");
    assert_eq!(field(REASON_HEADER), "cannot parse");
    assert_eq!(field(DELIVERIES_HEADER), "2");
    assert_eq!(field(ADDRESS_HEADER), stream.as_str());
    assert_eq!(field(STREAM_ID_HEADER), original_id.as_str());
    common::eventually("the XACK", || {
        let (mut redis, stream, group) = (redis.clone(), stream.clone(), group.clone());
        async move { common::pending(&mut redis, &stream, &group).await == 0 }
    })
    .await;
    handle.shutdown().await.unwrap();
    assert!(received.try_recv().is_err(), "delivered more than twice");
    common::delete(&mut redis, &[&stream, &dead_letter_stream]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_entry_unacked_at_stop_is_redelivered_on_restart() {
    let mut redis = common::connect().await;
    let (stream, group) = (common::unique("restart"), common::unique("g"));
    let (app, mut received) = TestApp::new(|_, _| Action::Hang);
    let handle = Server::new(app, config(&group, &[&stream]))
        .start()
        .await
        .unwrap();
    common::publish(
        &mut redis,
        &MessageSend::new(stream.as_str()).payload("once"),
    )
    .await;
    let (_, first) = next(&mut received).await;
    assert_eq!(first.payload.as_deref(), Some(&b"once"[..]));
    // The drain deadline cuts the hanging batch off: the entry is not acked.
    tokio::time::timeout(common::WAIT, handle.shutdown())
        .await
        .expect("shutdown within the drain deadline")
        .unwrap();
    assert_eq!(common::pending(&mut redis, &stream, &group).await, 1);

    // Same group, same consumer name: its pending entry comes first.
    let (app, mut received) = TestApp::new(|_, _| Action::Ack);
    let handle = Server::new(BoxApplication::new(app), config(&group, &[&stream]))
        .start()
        .await
        .unwrap();
    let (_, again) = next(&mut received).await;
    assert_eq!(again.payload.as_deref(), Some(&b"once"[..]));
    let Some(Binding::Redis(binding)) = &again.binding else {
        panic!("no Redis binding")
    };
    let Some(Binding::Redis(before)) = &first.binding else {
        panic!("no Redis binding")
    };
    assert_eq!(binding.stream_id, before.stream_id, "the same entry");
    common::eventually("the XACK", || {
        let (mut redis, stream, group) = (redis.clone(), stream.clone(), group.clone());
        async move { common::pending(&mut redis, &stream, &group).await == 0 }
    })
    .await;
    handle.shutdown().await.unwrap();
    common::delete(&mut redis, &[&stream]).await;
}
