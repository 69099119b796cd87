//! Nacked messages: redelivered with backoff, dead-lettered after the last attempt, and never
//! committed past while they wait.

mod common;

use std::time::Duration;

use amgi_kafka::RetryPolicy;
use amgi_kafka::dead_letter::{
    ADDRESS_HEADER, DELIVERIES_HEADER, OFFSET_HEADER, PARTITION_HEADER, REASON_HEADER,
};
use common::{
    Out, Recorder, bounded, committed, create_topic, fresh_topic, header_text, headers_of, produce,
    read, read_for, server, unique,
};
use rdkafka::Message as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nacked_message_is_retried_then_dead_lettered_with_its_origin() {
    bounded(async {
        let topic = fresh_topic("dlq", 1).await;
        let dead_letters = format!("{topic}.dlq");
        create_topic(&dead_letters, 1).await;
        let group = unique("dlq-group");
        let app = Recorder::deciding(|seen, _| {
            (seen.text() == "poison").then(|| "refused: poison pill".to_owned())
        });
        let handle = server(app.clone(), &[&topic], &group)
            .start()
            .await
            .expect("start");
        produce(
            &topic,
            [
                Out::text("before"),
                Out::text("poison")
                    .key("pk")
                    .header("correlation-id", b"c-7")
                    .header("bin", &[0, 255]),
                Out::text("after"),
            ],
        )
        .await;

        let dead = read(&dead_letters, 1).await;
        let dead = &dead[0];
        assert_eq!(dead.payload(), Some(&b"poison"[..]));
        assert_eq!(dead.key(), Some(&b"pk"[..]), "the key is kept");
        let headers = headers_of(dead);
        assert_eq!(headers[0], ("correlation-id".to_owned(), b"c-7".to_vec()));
        assert_eq!(headers[1], ("bin".to_owned(), vec![0, 255]));
        assert_eq!(
            header_text(dead, REASON_HEADER).as_deref(),
            Some("refused: poison pill")
        );
        assert_eq!(header_text(dead, DELIVERIES_HEADER).as_deref(), Some("3"));
        assert_eq!(
            header_text(dead, ADDRESS_HEADER).as_deref(),
            Some(topic.as_str())
        );
        assert_eq!(header_text(dead, PARTITION_HEADER).as_deref(), Some("0"));
        assert_eq!(header_text(dead, OFFSET_HEADER).as_deref(), Some("1"));

        app.wait_for("the message after the poison", |seen| {
            seen.iter().any(|s| s.text() == "after")
        })
        .await;
        handle.shutdown().await.expect("shutdown");
        let deliveries = |text: &str| app.seen().iter().filter(|s| s.text() == text).count();
        assert_eq!(deliveries("poison"), 3, "max_deliveries deliveries");
        assert_eq!(deliveries("before"), 1);
        assert_eq!(deliveries("after"), 1, "acked messages are not redelivered");
        let poison: Vec<_> = app
            .seen()
            .iter()
            .filter(|s| s.text() == "poison")
            .map(|s| s.batch_size)
            .collect();
        assert_eq!(
            &poison[1..],
            [1, 1],
            "a redelivery carries only the nacked message"
        );
        assert_eq!(
            committed(&group, &topic, 1).await,
            [3],
            "committed once dead-lettered"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_acked_on_a_later_attempt_is_not_dead_lettered() {
    bounded(async {
        let topic = fresh_topic("retry-ok", 1).await;
        let group = unique("retry-ok-group");
        // Nack the first two deliveries of "flaky", ack the third.
        let app = Recorder::deciding(|seen, earlier| {
            let before = earlier.iter().filter(|s| s.text() == seen.text()).count();
            (seen.text() == "flaky" && before < 2).then(|| format!("attempt {} failed", before + 1))
        });
        let handle = server(app.clone(), &[&topic], &group)
            .start()
            .await
            .expect("start");
        produce(&topic, [Out::text("flaky"), Out::text("steady")]).await;
        app.wait_for("the third delivery of flaky", |seen| {
            seen.iter().filter(|s| s.text() == "flaky").count() >= 3
        })
        .await;
        handle.shutdown().await.expect("shutdown");
        assert_eq!(app.seen().iter().filter(|s| s.text() == "flaky").count(), 3);
        assert_eq!(committed(&group, &topic, 1).await, [2]);
        // No dead letter was produced.
        let dead_letters = format!("{topic}.dlq");
        create_topic(&dead_letters, 1).await;
        let found = read_for(&dead_letters, 1, Duration::from_secs(2)).await;
        assert!(found.is_empty(), "nothing was dead-lettered: {found:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commit_never_passes_a_message_waiting_for_its_retry() {
    bounded(async {
        let topic = fresh_topic("hold", 1).await;
        let group = unique("hold-group");
        let app = Recorder::deciding(|seen, earlier| {
            let before = earlier.iter().filter(|s| s.text() == seen.text()).count();
            (seen.text() == "held" && before == 0).then(|| "not yet".to_owned())
        });
        // One retry, two seconds away: meanwhile later messages are acked and committed around.
        let handle = server(app.clone(), &[&topic], &group)
            .retry(RetryPolicy::new(2).backoff(Duration::from_secs(2), Duration::from_secs(2)))
            .start()
            .await
            .expect("start");
        produce(
            &topic,
            [
                Out::text("first"),
                Out::text("held"),
                Out::text("third"),
                Out::text("fourth"),
            ],
        )
        .await;
        app.wait_for("the first delivery of every message", |seen| {
            seen.len() >= 4
        })
        .await;
        // Several commit intervals (200 ms) pass while `held` (offset 1) waits.
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(
            app.seen().iter().filter(|s| s.text() == "held").count(),
            1,
            "the retry is still waiting"
        );
        assert_eq!(
            committed(&group, &topic, 1).await,
            [1],
            "only `first` is committed"
        );
        app.wait_for("the retry of held", |seen| {
            seen.iter().filter(|s| s.text() == "held").count() >= 2
        })
        .await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(
            committed(&group, &topic, 1).await,
            [4],
            "everything committed after the retry"
        );
        handle.shutdown().await.expect("shutdown");
    })
    .await;
}
