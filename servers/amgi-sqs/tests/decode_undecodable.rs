//! An AsyncFast application whose handler takes `Payload<T>`: a payload that does not decode is
//! nacked (no retry) and dead-lettered with the decoder's reason; the others are handled.

mod common;

use amgi_core::dead_letter::REASON_HEADER;
use amgi_sqs::Server;
use asyncfast::prelude::*;
use common::Calls;
use schemars::JsonSchema;
use serde::Deserialize;
use tokio::sync::mpsc;

#[derive(Debug, Deserialize, JsonSchema)]
struct Order {
    id: u64,
}

/// The orders address; each test maps it to a queue of its own.
#[channel("orders")]
async fn on_order(payload: Payload<Order>, seen: State<mpsc::UnboundedSender<u64>>) {
    let _ = seen.send(payload.0.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_payload_is_dead_lettered_with_the_reason() {
    common::require_moto().await;
    let name = common::unique("orders");
    let url = common::create_queue(&name, &[]).await;
    common::send(&url, r#"{"id":1}"#).await;
    common::send(&url, r#"{"id":"two"}"#).await;
    common::send(&url, r#"{"id":3}"#).await;
    let (seen, mut handled) = mpsc::unbounded_channel::<u64>();
    let app = AsyncFast::empty().state(seen).channel(handler!(on_order));
    let config = common::config(&Calls::default()).map("orders", &name);
    let handle = Server::new(app, config).start().await.expect("start");
    let mut ids = vec![
        common::next(&mut handled).await,
        common::next(&mut handled).await,
    ];
    ids.sort_unstable();
    assert_eq!(ids, [1, 3]);

    let dead_letters = format!("{name}-dlq");
    let deadline = tokio::time::Instant::now() + common::WAIT;
    let letter = loop {
        if let Some(dlq) = common::queue_url(&dead_letters).await
            && let Some(letter) = common::receive(&dlq, 1).await.pop()
        {
            break letter;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no dead letter in time"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    common::eventually("the queue to be empty", || async {
        common::depth(&url).await == 0
    })
    .await;
    handle.shutdown().await.expect("clean shutdown");
    assert_eq!(letter.body(), Some(r#"{"id":"two"}"#));
    let reason = common::attribute(&letter, REASON_HEADER).expect("a reason");
    assert!(
        reason.contains("id"),
        "the reason names the field: {reason}"
    );
    assert!(handled.try_recv().is_err());
}
