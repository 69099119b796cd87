//! FIFO queues: each message group in order, even when a message of it is nacked (the ones
//! after it are skipped and come back after it); groups are independent.

mod common;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use amgi_core::Binding;
use amgi_server::RetryPolicy;
use amgi_sqs::Server;
use common::Calls;
use common::app::{Action, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_group_is_handled_in_order_under_a_failure() {
    common::require_moto().await;
    let name = format!("{}.fifo", common::unique("groups"));
    let url = common::create_queue(&name, &[]).await;
    for i in 1..=4 {
        common::send_fifo(&url, "a", &format!("a{i}")).await;
    }
    for i in 1..=3 {
        common::send_fifo(&url, "b", &format!("b{i}")).await;
    }
    let failed = Mutex::new(false);
    let (app, mut received) = TestApp::new(move |_, message| {
        let payload = message.payload.as_deref().unwrap_or_default();
        let mut failed = failed.lock().unwrap();
        if payload == b"a2" && !*failed {
            *failed = true;
            return Action::Nack("a2 fails once");
        }
        Action::Ack
    });
    // The nacked message waits 1 s: the rest of its group must wait behind it.
    let config = common::config(&Calls::default())
        .queue(&name)
        .retry(RetryPolicy::new(3).backoff(Duration::from_secs(1), Duration::from_secs(1)));
    let handle = Server::new(app, config).start().await.expect("start");
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    let mut total = 0;
    // a1, a2 (nacked), a2, a3, a4 and b1, b2, b3: 8 handled messages at least.
    while seen.get("a").map_or(0, Vec::len) < 5 || seen.get("b").map_or(0, Vec::len) < 3 {
        let (_, message) = common::next(&mut received).await;
        let Some(Binding::Sqs(binding)) = &message.binding else {
            panic!("no SQS binding: {message:?}");
        };
        let group = binding.message_group_id.clone().expect("a group id");
        let payload = String::from_utf8(message.payload.unwrap().to_vec()).unwrap();
        seen.entry(group).or_default().push(payload);
        total += 1;
        assert!(total <= 20, "too many deliveries: {seen:?}");
    }
    common::eventually("the queue to be empty", || async {
        common::depth(&url).await == 0
    })
    .await;
    handle.shutdown().await.expect("clean shutdown");
    let a = &seen["a"];
    // Skipped messages (a3, a4 in a2's batch) may appear before the nack's redelivery, but
    // nothing after a2 is handled (acked) before a2 is.
    let acked_a: Vec<&String> = {
        let mut acked = Vec::new();
        let mut failed_once = false;
        for m in a {
            if m == "a2" && !failed_once {
                failed_once = true;
                continue;
            }
            acked.push(m);
        }
        acked
    };
    assert_eq!(acked_a, ["a1", "a2", "a3", "a4"], "group a: {a:?}");
    assert_eq!(seen["b"], ["b1", "b2", "b3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_deliveries_do_not_count_toward_the_dead_letter() {
    common::require_moto().await;
    let name = format!("{}.fifo", common::unique("skips"));
    let url = common::create_queue(&name, &[]).await;
    common::send_fifo(&url, "a", "first").await;
    common::send_fifo(&url, "a", "second").await;
    // `first` fails once (so `second` is skipped once), then `second` fails once: with two
    // deliveries allowed, `second` has been received three times by SQS but delivered (not
    // skipped) only twice, so it is not dead-lettered.
    let failures = Mutex::new(vec!["second", "first"]);
    let (app, mut received) = TestApp::new(move |_, message| {
        let payload = message.payload.as_deref().unwrap_or_default();
        let mut failures = failures.lock().unwrap();
        if failures.last().is_some_and(|f| f.as_bytes() == payload) {
            failures.pop();
            return Action::Nack("fails once");
        }
        Action::Ack
    });
    let config = common::config(&Calls::default())
        .queue(&name)
        .retry(RetryPolicy::new(2).backoff(Duration::ZERO, Duration::ZERO));
    let handle = Server::new(app, config).start().await.expect("start");
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let (_, message) = common::next(&mut received).await;
        seen.push(String::from_utf8(message.payload.unwrap().to_vec()).unwrap());
    }
    common::eventually("the queue to be empty", || async {
        common::depth(&url).await == 0
    })
    .await;
    handle.shutdown().await.expect("clean shutdown");
    assert_eq!(seen, ["first", "first", "second", "second"]);
    let stem = name.trim_end_matches(".fifo");
    assert!(
        common::queue_url(&format!("{stem}-dlq.fifo"))
            .await
            .is_none(),
        "nothing was dead-lettered"
    );
}
