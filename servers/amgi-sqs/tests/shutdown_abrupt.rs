//! A server stopped abruptly (its handle dropped mid-batch, as in a crash) deletes nothing it
//! did not finish: the messages reappear after their visibility timeout and a new server
//! handles them.

mod common;

use std::collections::HashSet;

use amgi_sqs::Server;
use aws_sdk_sqs::types::QueueAttributeName;
use common::Calls;
use common::app::{Action, TestApp};

/// Messages of the test.
const COUNT: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_messages_of_a_dropped_server_are_handled_by_the_next() {
    common::require_moto().await;
    let name = common::unique("crash");
    let url = common::create_queue(&name, &[(QueueAttributeName::VisibilityTimeout, "2")]).await;
    for i in 0..COUNT {
        common::send(&url, &format!("m{i}")).await;
    }
    // The first server takes the messages and never answers (its handler hangs on the first
    // message of each batch, the others of the batch wait behind it).
    let (hanging, mut taken) = TestApp::new(|_, _| Action::Hang);
    let first = Server::new(hanging, common::config(&Calls::default()).queue(&name))
        .start()
        .await
        .expect("start");
    common::next(&mut taken).await;
    common::eventually(
        "every message to be in the first server's hands",
        || async { common::in_flight(&url).await == COUNT },
    )
    .await;
    drop(first);

    let (app, mut received) = TestApp::new(|_, _| Action::Ack);
    let second = Server::new(app, common::config(&Calls::default()).queue(&name))
        .start()
        .await
        .expect("start");
    let mut handled = HashSet::new();
    while handled.len() < COUNT {
        let (_, message) = common::next(&mut received).await;
        handled.insert(message.payload.unwrap());
    }
    let sent: HashSet<_> = (0..COUNT)
        .map(|i| bytes::Bytes::from(format!("m{i}")))
        .collect();
    assert_eq!(handled, sent);
    common::eventually("the queue to be empty", || async {
        common::depth(&url).await == 0
    })
    .await;
    second.shutdown().await.expect("clean shutdown");
}
