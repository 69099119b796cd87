//! An AsyncFast application (`Payload<T>` + `Header<String>`) on the server: a payload that
//! does not decode, a missing header and a header value that is not UTF-8 each end in
//! `<queue>.dlq` with a reason saying what was wrong, and the server keeps going.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use amgi_amqp::Server;
use amgi_core::dead_letter::REASON_HEADER;
use asyncfast::prelude::*;
use serde::Deserialize;
use support::{Outside, config, unique};
use tokio::sync::mpsc;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct UserCreated {
    id: u64,
}

/// Where the handler reports what it handled.
struct Handled(Mutex<mpsc::UnboundedSender<(u64, String)>>);

#[channel("amgi-test.users.{run}")]
async fn on_user(
    payload: Payload<UserCreated>,
    correlation_id: Header<String>,
    handled: State<Handled>,
    _run: Param<String>,
) {
    let Handled(sender) = &*handled;
    let _ = sender
        .lock()
        .unwrap()
        .send((payload.id, correlation_id.to_string()));
}

/// Headers, payload, and what is wrong with them.
type Case = (
    &'static [(&'static str, &'static [u8])],
    &'static str,
    &'static str,
);

#[tokio::test(flavor = "multi_thread")]
async fn bad_payloads_and_headers_are_dead_lettered_with_a_reason_and_serving_goes_on() {
    let queue = unique("users");
    let outside = Outside::connect().await;
    let (handled_tx, mut handled) = mpsc::unbounded_channel();
    let app = AsyncFast::empty()
        .state_arc(Arc::new(Handled(Mutex::new(handled_tx))))
        .channel(handler!(on_user));
    let handle = Server::new(app, config(&[&queue])).start().await.unwrap();

    let cases: [Case; 3] = [
        (&[("correlation-id", b"c-1")], r#"{"id":"#, "bad payload"),
        (&[], r#"{"id":2}"#, "missing header"),
        (
            &[("correlation-id", b"\xff\xfe")],
            r#"{"id":3}"#,
            "header not UTF-8",
        ),
    ];
    for (headers, payload, _) in cases {
        outside.publish(&queue, headers, payload.as_bytes()).await;
    }
    outside
        .publish(&queue, &[("correlation-id", b"c-4")], br#"{"id":4}"#)
        .await;

    let dead_letter_queue = format!("{queue}.dlq");
    for (_, payload, case) in cases {
        let dead = outside.next(&dead_letter_queue).await;
        assert_eq!(std::str::from_utf8(&dead.data).unwrap(), payload, "{case}");
        let headers = dead.properties.headers().clone().unwrap_or_default();
        let reason = match headers.inner().get(REASON_HEADER) {
            Some(lapin::types::AMQPValue::LongString(reason)) => {
                String::from_utf8_lossy(reason.as_bytes()).to_lowercase()
            }
            other => panic!("{case}: no reason header, found {other:?}"),
        };
        let expected = match case {
            "bad payload" => "payload",
            _ => "correlation-id",
        };
        assert!(reason.contains(expected), "{case}: reason `{reason}`");
    }
    let (id, correlation_id) = tokio::time::timeout(Duration::from_secs(10), handled.recv())
        .await
        .expect("the good message was not handled within 10 s")
        .unwrap();
    assert_eq!((id, correlation_id.as_str()), (4, "c-4"));
    assert!(
        handled.try_recv().is_err(),
        "only the good message was handled"
    );
    tokio::time::timeout(Duration::from_secs(10), handle.shutdown())
        .await
        .unwrap()
        .unwrap();
    outside.delete(&[&queue]).await;
}
