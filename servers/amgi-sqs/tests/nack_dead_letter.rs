//! Nacks: redelivered by SQS (receive count 2), then dead-lettered to `<queue>-dlq` with the
//! reason attributes; `NackRetry::Never` dead-letters at once; a queue with a `RedrivePolicy`
//! dead-letters through it.

mod common;

use amgi_core::dead_letter::{ADDRESS_HEADER, DELIVERIES_HEADER, REASON_HEADER};
use amgi_core::{Binding, SqsBinding};
use amgi_server::RetryPolicy;
use amgi_sqs::{MESSAGE_ID_HEADER, Server};
use aws_sdk_sqs::types::QueueAttributeName;
use common::Calls;
use common::app::{Action, TestApp};

fn receive_count(message: &amgi_core::MessageReceive) -> Option<u32> {
    match &message.binding {
        Some(Binding::Sqs(SqsBinding { receive_count, .. })) => *receive_count,
        _ => None,
    }
}

/// The messages of the queue `name`, waiting (within the bound) until there is one.
async fn dead_letters(name: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        if let Some(url) = common::queue_url(name).await {
            let messages = common::receive(&url, 1).await;
            if !messages.is_empty() {
                return messages;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing on {name} within the wait"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nacked_message_comes_back_counted_then_is_dead_lettered_with_its_reason() {
    common::require_moto().await;
    let name = common::unique("nacked");
    let url = common::create_queue(&name, &[]).await;
    common::send(&url, "refused").await;
    let (app, mut received) = TestApp::new(|_, _| Action::Nack("database down"));
    let config = common::config(&Calls::default())
        .queue(&name)
        .retry(RetryPolicy::new(2).backoff(std::time::Duration::ZERO, std::time::Duration::ZERO));
    let handle = Server::new(app, config).start().await.expect("start");
    let (_, first) = common::next(&mut received).await;
    let (_, second) = common::next(&mut received).await;
    assert_eq!(receive_count(&first), Some(1));
    assert_eq!(receive_count(&second), Some(2));
    let letters = dead_letters(&format!("{name}-dlq")).await;
    handle.shutdown().await.expect("clean shutdown");
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(letter.body(), Some("refused"));
    let attribute = |header: &str| common::attribute(letter, header);
    assert_eq!(attribute(REASON_HEADER).as_deref(), Some("database down"));
    assert_eq!(attribute(DELIVERIES_HEADER).as_deref(), Some("2"));
    assert_eq!(attribute(ADDRESS_HEADER).as_deref(), Some(name.as_str()));
    assert!(attribute(MESSAGE_ID_HEADER).is_some());
    assert_eq!(common::depth(&url).await, 0, "the original is deleted");
    assert!(received.try_recv().is_err(), "no third delivery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nack_asking_for_no_retry_is_dead_lettered_at_once() {
    common::require_moto().await;
    let name = common::unique("never");
    let url = common::create_queue(&name, &[]).await;
    common::send(&url, "not json").await;
    let (app, mut received) = TestApp::new(|_, _| Action::NackNever("not JSON"));
    let handle = Server::new(app, common::config(&Calls::default()).queue(&name))
        .start()
        .await
        .expect("start");
    let (_, only) = common::next(&mut received).await;
    assert_eq!(receive_count(&only), Some(1));
    let letters = dead_letters(&format!("{name}-dlq")).await;
    handle.shutdown().await.expect("clean shutdown");
    let reason = common::attribute(&letters[0], REASON_HEADER);
    assert_eq!(reason.as_deref(), Some("not JSON"));
    assert_eq!(
        common::attribute(&letters[0], DELIVERIES_HEADER).as_deref(),
        Some("1")
    );
    assert!(received.try_recv().is_err(), "delivered once only");
    assert_eq!(common::depth(&url).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_with_a_redrive_policy_dead_letters_through_it() {
    common::require_moto().await;
    let own = common::unique("redrive-target");
    let own_url = common::create_queue(&own, &[]).await;
    let attributes = common::client()
        .get_queue_attributes()
        .queue_url(&own_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let arn = attributes.attributes().unwrap()[&QueueAttributeName::QueueArn].clone();
    let policy = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"2"}}"#);
    let name = common::unique("redriven");
    let url = common::create_queue(&name, &[(QueueAttributeName::RedrivePolicy, &policy)]).await;
    common::send(&url, "refused").await;
    let (app, mut received) = TestApp::new(|_, _| Action::Nack("still down"));
    // max_deliveries 1 would dead-letter at once without the policy: the policy rules.
    let config = common::config(&Calls::default())
        .queue(&name)
        .retry(RetryPolicy::new(1).backoff(std::time::Duration::ZERO, std::time::Duration::ZERO));
    let handle = Server::new(app, config).start().await.expect("start");
    let (_, first) = common::next(&mut received).await;
    let (_, second) = common::next(&mut received).await;
    assert_eq!(
        (receive_count(&first), receive_count(&second)),
        (Some(1), Some(2))
    );
    let letters = dead_letters(&own).await;
    handle.shutdown().await.expect("clean shutdown");
    assert_eq!(letters[0].body(), Some("refused"));
    assert!(
        common::queue_url(&format!("{name}-dlq")).await.is_none(),
        "the server made no dead-letter queue of its own"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_queue_dead_letters_to_a_fifo_queue_keeping_the_group() {
    common::require_moto().await;
    let stem = common::unique("fifo-nacked");
    let name = format!("{stem}.fifo");
    let url = common::create_queue(&name, &[]).await;
    common::send_fifo(&url, "customer-1", "refused").await;
    let (app, mut received) = TestApp::new(|_, _| Action::NackNever("no such customer"));
    let handle = Server::new(app, common::config(&Calls::default()).queue(&name))
        .start()
        .await
        .expect("start");
    common::next(&mut received).await;
    let letters = dead_letters(&format!("{stem}-dlq.fifo")).await;
    handle.shutdown().await.expect("clean shutdown");
    let letter = &letters[0];
    assert_eq!(letter.body(), Some("refused"));
    let group = letter
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId));
    assert_eq!(group.map(String::as_str), Some("customer-1"));
    assert_eq!(
        common::attribute(letter, REASON_HEADER).as_deref(),
        Some("no such customer")
    );
}
