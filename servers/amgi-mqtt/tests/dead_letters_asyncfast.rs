//! An AsyncFast application (`Payload<T>` + `Header<String>`) on the server: a payload that
//! does not decode, a missing header and a header value that is not UTF-8 each end on
//! `<topic>.dlq` with a reason saying what was wrong, and the server keeps going.

mod support;

use std::sync::{Arc, Mutex};

use amgi_core::dead_letter::REASON_HEADER;
use amgi_mqtt::{BINARY_VALUES_PROPERTY, Server};
use asyncfast::prelude::*;
use serde::Deserialize;
use support::{Outside, WAIT, config, unique};
use tokio::sync::mpsc;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct UserCreated {
    id: u64,
}

/// Where the handler reports what it handled.
struct Handled(Mutex<mpsc::UnboundedSender<(u64, String)>>);

#[channel("amgi/dead-letter-test/{run}")]
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
    let topic = format!("amgi/dead-letter-test/{}", unique("run"));
    let mut outside = Outside::connect().await;
    outside.subscribe(&format!("{topic}.dlq")).await;
    let (handled_tx, mut handled) = mpsc::unbounded_channel();
    let app = AsyncFast::empty()
        .state_arc(Arc::new(Handled(Mutex::new(handled_tx))))
        .channel(handler!(on_user));
    // The application's template, as `run mqtt` subscribes it: `amgi/dead-letter-test/+`.
    let handle = Server::new(app, config(&["amgi/dead-letter-test/+"]))
        .start()
        .await
        .unwrap();

    let cases: [Case; 3] = [
        (&[("correlation-id", "c-1")], r#"{"id":"#, "bad payload"),
        (&[], r#"{"id":2}"#, "missing header"),
        (
            &[("correlation-id", "AJ//"), (BINARY_VALUES_PROPERTY, "0")],
            r#"{"id":3}"#,
            "header not UTF-8",
        ),
    ];
    for (headers, payload, _) in cases {
        outside.publish(&topic, headers, payload).await;
    }
    outside
        .publish(&topic, &[("correlation-id", "c-4")], r#"{"id":4}"#)
        .await;

    for (_, payload, case) in cases {
        let dead = outside.next().await;
        assert_eq!(dead.topic, format!("{topic}.dlq"), "{case}");
        assert_eq!(
            std::str::from_utf8(&dead.payload).unwrap(),
            payload,
            "{case}"
        );
        let reason = dead
            .header(REASON_HEADER)
            .unwrap_or_default()
            .to_lowercase();
        let expected = match case {
            "bad payload" => "payload",
            _ => "correlation-id",
        };
        assert!(reason.contains(expected), "{case}: reason `{reason}`");
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
