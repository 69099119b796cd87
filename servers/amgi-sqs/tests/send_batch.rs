//! `message.send`: coalesced into `SendMessageBatch` calls, with the SQS binding's group id,
//! deduplication id and delay; an entry SQS refuses is the send's error.

mod common;

use amgi_core::{MessageSend, SqsBinding};
use amgi_sqs::Server;
use aws_sdk_sqs::types::MessageSystemAttributeName as Name;
use common::Calls;
use common::app::{Action, TestApp};
use tokio::sync::mpsc;

/// Messages of the first test.
const COUNT: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_share_batch_calls_and_carry_the_fifo_binding() {
    common::require_moto().await;
    let inbound = common::unique("send-in");
    let outbound = format!("{}.fifo", common::unique("send-out"));
    let in_url = common::create_queue(&inbound, &[]).await;
    let out_url = common::create_queue(&outbound, &[]).await;
    for i in 0..COUNT {
        common::send(&in_url, &format!("m{i}")).await;
    }
    let (report, mut reports) = mpsc::unbounded_channel();
    let (app, _received) = TestApp::new(move |_, message| {
        let payload = message.payload.clone().unwrap_or_default();
        let dedup = String::from_utf8_lossy(&payload).into_owned();
        let out = MessageSend::new("out").payload(payload).binding(
            SqsBinding::with_group("g1")
                .deduplication_id(dedup)
                .delay_seconds(0),
        );
        Action::SendReportThenAck(out, report.clone())
    });
    let calls = Calls::default();
    let config = common::config(&calls)
        .queue(&inbound)
        .route("out", &outbound);
    let handle = Server::new(app, config).start().await.expect("start");
    for _ in 0..COUNT {
        assert_eq!(common::next(&mut reports).await, Ok(()));
    }
    handle.shutdown().await.expect("clean shutdown");
    let batches = calls.get("SendMessageBatch");
    assert!(
        batches < COUNT,
        "{COUNT} sends took {batches} SendMessageBatch calls"
    );
    assert_eq!(calls.get("SendMessage"), 0);
    let mut arrived = Vec::new();
    while arrived.len() < COUNT {
        let messages = common::receive(&out_url, 1).await;
        assert!(!messages.is_empty(), "only {} arrived", arrived.len());
        for message in &messages {
            let system = message.attributes().unwrap();
            assert_eq!(system[&Name::MessageGroupId], "g1");
            assert_eq!(
                Some(system[&Name::MessageDeduplicationId].as_str()),
                message.body()
            );
            arrived.push(message.body().unwrap().to_owned());
        }
        for message in messages {
            common::client()
                .delete_message()
                .queue_url(&out_url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    arrived.sort();
    let mut sent: Vec<String> = (0..COUNT).map(|i| format!("m{i}")).collect();
    sent.sort();
    assert_eq!(arrived, sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_sqs_refuses_is_the_sends_error() {
    common::require_moto().await;
    let inbound = common::unique("refuse-in");
    let outbound = format!("{}.fifo", common::unique("refuse-out"));
    let in_url = common::create_queue(&inbound, &[]).await;
    common::create_queue(&outbound, &[]).await;
    common::send(&in_url, "go").await;
    let (report, mut reports) = mpsc::unbounded_channel();
    // A FIFO queue needs a message group id: SQS refuses the entry.
    let (app, _received) = TestApp::new(move |_, _| {
        Action::SendReportThenAck(MessageSend::new("out").payload("x"), report.clone())
    });
    let config = common::config(&Calls::default())
        .queue(&inbound)
        .route("out", &outbound);
    let handle = Server::new(app, config).start().await.expect("start");
    let error = common::next(&mut reports).await.unwrap_err();
    handle.shutdown().await.expect("clean shutdown");
    assert!(error.contains(&outbound), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_to_an_address_that_is_no_queue_name_says_how_to_map_it() {
    common::require_moto().await;
    let inbound = common::unique("unmapped-in");
    let in_url = common::create_queue(&inbound, &[]).await;
    common::send(&in_url, "go").await;
    let (report, mut reports) = mpsc::unbounded_channel();
    let (app, _received) = TestApp::new(move |_, _| {
        Action::SendReportThenAck(
            MessageSend::new("user.created").payload("x"),
            report.clone(),
        )
    });
    let config = common::config(&Calls::default()).queue(&inbound);
    let handle = Server::new(app, config).start().await.expect("start");
    let error = common::next(&mut reports).await.unwrap_err();
    handle.shutdown().await.expect("clean shutdown");
    assert!(error.contains("user.created=user-created"), "{error}");
}
