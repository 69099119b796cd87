//! A nack that asks for a delay (`NackRetry::After`) becomes the message's visibility timeout:
//! SQS delivers it again no sooner, counting the delivery.

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use amgi_core::Binding;
use amgi_sqs::Server;
use common::Calls;
use common::app::{Action, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nack_with_a_delay_comes_back_after_it() {
    common::require_moto().await;
    let name = common::unique("later");
    let url = common::create_queue(&name, &[]).await;
    common::send(&url, "later").await;
    let first = Mutex::new(true);
    let (app, mut received) = TestApp::new(move |_, _| {
        if std::mem::replace(&mut *first.lock().unwrap(), false) {
            Action::NackAfter("try in 2 s", Duration::from_secs(2))
        } else {
            Action::Ack
        }
    });
    let handle = Server::new(app, common::config(&Calls::default()).queue(&name))
        .start()
        .await
        .expect("start");
    common::next(&mut received).await;
    let nacked_at = Instant::now();
    let (_, again) = common::next(&mut received).await;
    let waited = nacked_at.elapsed();
    common::eventually("the queue to be empty", || async {
        common::depth(&url).await == 0
    })
    .await;
    handle.shutdown().await.expect("clean shutdown");
    assert!(
        waited >= Duration::from_millis(1900),
        "came back after {waited:?}"
    );
    let Some(Binding::Sqs(binding)) = &again.binding else {
        panic!("no SQS binding");
    };
    assert_eq!(binding.receive_count, Some(2));
}
