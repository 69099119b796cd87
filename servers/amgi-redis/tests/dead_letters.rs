//! An AsyncFast application (`Payload<Order>` + `Header<String>`) on Redis Streams: a payload
//! that does not decode, a missing header and a header value that is not UTF-8 each end in
//! `<stream>.dlq` with a reason, and the server keeps handling the entries after them.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use amgi_core::dead_letter::REASON_HEADER;
use amgi_core::{Headers, MessageSend};
use amgi_redis::{RedisConfig, Server};
use amgi_server::RetryPolicy;
use asyncfast::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Deserialize, JsonSchema)]
struct Order {
    id: u64,
}

/// The ids of the orders handled, with their correlation ids.
#[derive(Debug, Default)]
struct Handled(Mutex<Vec<(u64, String)>>);

#[channel("dlapp.{run}")]
async fn handle_order(
    payload: Payload<Order>,
    correlation_id: Header<String>,
    run: Param<String>,
    handled: State<Handled>,
) {
    std::hint::black_box(run);
    handled
        .0
        .0
        .lock()
        .unwrap()
        .push((payload.id, correlation_id.0));
}

fn order(stream: &str, payload: &str, correlation_id: Option<&[u8]>) -> MessageSend {
    let mut headers = Headers::new();
    if let Some(value) = correlation_id {
        headers.append("correlation-id", bytes::Bytes::copy_from_slice(value));
    }
    MessageSend::new(stream)
        .headers(headers)
        .payload(payload.to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_entries_are_dead_lettered_with_a_reason_and_the_server_keeps_going() {
    let mut redis = common::connect().await;
    // The channel's placeholder matches no `.`: a stream name without dots after `dlapp.`.
    let stream = format!("dlapp.{}", common::unique("run").replace('.', "-"));
    let dead_letters = format!("{stream}.dlq");
    let handled = Arc::new(Handled::default());
    let app = AsyncFast::empty()
        .state_arc(Arc::clone(&handled))
        .channel(handler!(handle_order));
    let config = RedisConfig::new(common::URL, common::unique("g"))
        .stream(&stream)
        .consumer("dead-letters")
        .block(Duration::from_millis(100))
        .retry(RetryPolicy::new(2).backoff(Duration::from_millis(10), Duration::from_millis(20)));
    let handle = Server::new(app, config).start().await.unwrap();

    for message in [
        order(&stream, r#"{"id":1}"#, Some(b"c-1")),
        order(&stream, r#"{"id":"#, Some(b"c-2")),
        order(&stream, r#"{"id":3}"#, None),
        order(&stream, r#"{"id":4}"#, Some(b"\xff\xfe")),
        order(&stream, r#"{"id":5}"#, Some(b"c-5")),
    ] {
        common::publish(&mut redis, &message).await;
    }
    common::eventually("three dead letters and two orders", || {
        let (mut redis, dead_letters, handled) =
            (redis.clone(), dead_letters.clone(), Arc::clone(&handled));
        async move {
            common::entries(&mut redis, &dead_letters).await.len() == 3
                && handled.0.lock().unwrap().len() == 2
        }
    })
    .await;
    assert_eq!(
        *handled.0.lock().unwrap(),
        [(1, "c-1".to_owned()), (5, "c-5".to_owned())]
    );
    let letters = common::entries(&mut redis, &dead_letters).await;
    let reasons: Vec<(String, String)> = letters
        .iter()
        .map(|(_, fields)| {
            let text = |name: &str| {
                String::from_utf8_lossy(fields.get(name.as_bytes()).map_or(&b""[..], |v| v))
                    .into_owned()
            };
            (text("payload"), text(REASON_HEADER))
        })
        .collect();
    assert_eq!(reasons[0].0, r#"{"id":"#);
    assert_eq!(reasons[1].0, r#"{"id":3}"#);
    assert_eq!(reasons[2].0, r#"{"id":4}"#);
    for (payload, reason) in &reasons {
        assert!(!reason.is_empty(), "no reason for {payload}");
    }
    assert!(reasons[1].1.contains("correlation-id"), "{}", reasons[1].1);
    assert!(reasons[2].1.contains("correlation-id"), "{}", reasons[2].1);
    // The non-UTF-8 value travels to the dead letter as it was.
    assert_eq!(
        letters[2].1.get(b"correlation-id").map(|v| v.to_vec()),
        Some(b"\xff\xfe".to_vec())
    );
    handle.shutdown().await.unwrap();
    common::delete(&mut redis, &[&stream, &dead_letters]).await;
}
