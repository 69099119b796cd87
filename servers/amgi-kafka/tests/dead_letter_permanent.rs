//! A dead letter the broker or librdkafka can never take (here: larger than the producer's
//! `message.max.bytes`) is logged, counted and skipped, instead of holding the partition for
//! ever.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Out, Recorder, bounded, committed, eventually, fresh_topic, produce, server, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_too_large_to_produce_is_counted_and_skipped() {
    bounded(async {
        let topic = fresh_topic("dlq-too-large", 1).await;
        let group = unique("dlq-too-large-group");
        let app = Recorder::deciding(|seen, _| {
            seen.text().starts_with("big").then(|| "refused".to_owned())
        });
        let handle = server(Arc::clone(&app), &[&topic], &group)
            .retry(amgi_kafka::RetryPolicy::new(1))
            // librdkafka's smallest allowed value; the dead letter of a 3 000-byte message
            // exceeds it, which librdkafka reports as MessageSizeTooLarge without sending.
            .set("producer.message.max.bytes", "1000")
            .start()
            .await
            .expect("start");
        let big = format!("big{}", "x".repeat(3000));
        produce(&topic, [Out::text(&big), Out::text("after")]).await;

        app.wait_for("the message after the big one", |seen| {
            seen.iter().any(|s| s.text() == "after")
        })
        .await;
        eventually("the failure to be counted", || {
            handle.stats().dead_letter_failures == 1
        })
        .await;
        assert_eq!(handle.stats().dead_lettered, 0);
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(
            committed(&group, &topic, 1).await,
            [2],
            "the refused message is skipped, its offset committed"
        );
        handle.shutdown().await.expect("shutdown");
    })
    .await;
}
