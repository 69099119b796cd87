//! A handler that runs longer than the visibility timeout: the server extends the message's
//! visibility while it runs, so SQS does not deliver it a second time.

mod common;

use std::time::Duration;

use amgi_sqs::Server;
use aws_sdk_sqs::types::QueueAttributeName;
use common::Calls;
use common::app::{Action, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_is_not_redelivered_under_it() {
    common::require_moto().await;
    let name = common::unique("slow");
    let url = common::create_queue(&name, &[(QueueAttributeName::VisibilityTimeout, "2")]).await;
    common::send(&url, "slow").await;
    let calls = Calls::default();
    let (app, mut received) = TestApp::new(|_, _| Action::SlowAck(Duration::from_secs(5)));
    let handle = Server::new(app, common::config(&calls).queue(&name))
        .start()
        .await
        .expect("start");
    common::next(&mut received).await;
    // Done once the handler acked and the message is deleted; a second delivery would have
    // come at about 2 s, while the first was still running.
    common::eventually("the message to be deleted", || async {
        common::depth(&url).await == 0
    })
    .await;
    handle.shutdown().await.expect("clean shutdown");
    assert!(
        received.try_recv().is_err(),
        "the message was delivered a second time"
    );
    assert!(
        calls.get("ChangeMessageVisibilityBatch") >= 2,
        "visibility extended every half timeout: {calls:?}"
    );
}
