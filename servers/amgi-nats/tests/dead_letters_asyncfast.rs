//! An AsyncFast application (`Payload<T>` + `Header<String>`) on a JetStream consumer: a
//! payload that does not decode, a missing header and a header value that is not UTF-8 each
//! end on `<subject>.dlq` with a reason saying what was wrong, and serving goes on.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use amgi_core::dead_letter::REASON_HEADER;
use amgi_nats::{BINARY_VALUES_HEADER, NatsConfig, STREAM_SEQUENCE_HEADER, Server};
use asyncfast::prelude::*;
use common::{TestStream, WAIT, unique};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct UserCreated {
    id: u64,
}

/// Where the handler reports what it handled.
struct Handled(Mutex<mpsc::UnboundedSender<(u64, String)>>);

#[channel("amgi.dl.{run}")]
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
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static str,
);

#[tokio::test(flavor = "multi_thread")]
async fn bad_payloads_and_headers_are_dead_lettered_with_a_reason_and_serving_goes_on() {
    let client = common::connect().await;
    let subject = format!("amgi.dl.{}", unique("run"));
    let dlq = format!("{subject}.dlq");
    let stream = TestStream::create(&client, "DL", &[subject.clone(), dlq.clone()]).await;
    let mut dead_letters = common::subscribe(&client, &dlq).await;
    let (handled_tx, mut handled) = mpsc::unbounded_channel();
    let app = AsyncFast::empty()
        .state_arc(Arc::new(Handled(Mutex::new(handled_tx))))
        .channel(handler!(on_user));
    let config = NatsConfig::new(common::URL)
        .subjects(["amgi.dl.*"])
        .jetstream(&stream.name, unique("durable"))
        .ack_wait(Duration::from_secs(5));
    let handle = Server::new(app, config).start().await.unwrap();

    let cases: [Case; 3] = [
        (&[("correlation-id", "c-1")], r#"{"id":"#, "bad payload"),
        (&[], r#"{"id":2}"#, "missing header"),
        (
            &[("correlation-id", "AJ//"), (BINARY_VALUES_HEADER, "0")],
            r#"{"id":3}"#,
            "header not UTF-8",
        ),
    ];
    let headers = |pairs: &[(&str, &str)]| {
        let mut map = async_nats::HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, *value);
        }
        (!pairs.is_empty()).then_some(map)
    };
    for (pairs, payload, _) in cases {
        stream.publish(&subject, headers(pairs), payload).await;
    }
    stream
        .publish(
            &subject,
            headers(&[("correlation-id", "c-4")]),
            r#"{"id":4}"#,
        )
        .await;

    for (_, payload, case) in cases {
        let dead = tokio::time::timeout(WAIT, dead_letters.next())
            .await
            .unwrap_or_else(|_| panic!("{case}: no dead letter within 10 s"))
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&dead.payload).unwrap(),
            payload,
            "{case}"
        );
        let headers = dead.headers.unwrap();
        let reason = headers
            .get(REASON_HEADER)
            .map(|v| v.as_str().to_lowercase())
            .unwrap_or_default();
        let expected = match case {
            "bad payload" => "payload",
            _ => "correlation-id",
        };
        assert!(reason.contains(expected), "{case}: reason `{reason}`");
        assert!(headers.get(STREAM_SEQUENCE_HEADER).is_some(), "{case}");
    }
    let (id, correlation_id) = tokio::time::timeout(WAIT, handled.recv())
        .await
        .expect("the good message was not handled within 10 s")
        .unwrap();
    assert_eq!((id, correlation_id.as_str()), (4, "c-4"));
    assert!(
        handled.try_recv().is_err(),
        "only the good message was handled"
    );
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
}
