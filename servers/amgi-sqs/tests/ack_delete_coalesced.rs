//! Acks delete the messages (the queue is empty after), in `DeleteMessageBatch` calls shared
//! by many acks.

mod common;

use std::collections::HashSet;

use amgi_sqs::Server;
use common::Calls;
use common::app::{Action, TestApp};

/// Messages of the test.
const COUNT: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_messages_are_deleted_in_coalesced_batch_calls() {
    common::require_moto().await;
    let name = common::unique("acked");
    let url = common::create_queue(&name, &[]).await;
    for i in 0..COUNT {
        common::send(&url, &format!("m{i}")).await;
    }
    let calls = Calls::default();
    let (app, mut received) = TestApp::new(|_, _| Action::Ack);
    let handle = Server::new(app, common::config(&calls).queue(&name))
        .start()
        .await
        .expect("start");
    let mut seen = HashSet::new();
    while seen.len() < COUNT {
        let (address, message) = common::next(&mut received).await;
        assert_eq!(address, name);
        seen.insert(message.payload.unwrap());
    }
    common::eventually("the queue to be empty", || async {
        common::depth(&url).await == 0
    })
    .await;
    handle.shutdown().await.expect("clean shutdown");
    let deletes = calls.get("DeleteMessageBatch");
    assert!(
        (COUNT / 10..COUNT / 2).contains(&deletes),
        "{COUNT} acks took {deletes} DeleteMessageBatch calls"
    );
    assert_eq!(calls.get("DeleteMessage"), 0);
}
