//! A server stopped without a clean shutdown (its task aborted mid-stream), then restarted in
//! the same group: every message is handled at least once.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Out, Recorder, bounded, eventually, fresh_topic, produce, server, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_server_loses_nothing_after_a_restart() {
    bounded(async {
        const COUNT: usize = 300;
        let topic = fresh_topic("abrupt", 2).await;
        let group = unique("abrupt-group");
        produce(
            &topic,
            (0..COUNT).map(|i| Out::text(&format!("m{i}")).key(&i.to_string())),
        )
        .await;

        // A slow application, so that the abort lands mid-stream.
        let first = Recorder::slow(Duration::from_millis(5));
        let running = tokio::spawn(
            server(first.clone(), &[&topic], &group)
                .batch_size(20)
                .run_until(std::future::pending()),
        );
        first
            .wait_for("a first part of the stream", |seen| seen.len() >= 40)
            .await;
        running.abort();
        let aborted = running.await.expect_err("the server task was aborted");
        assert!(aborted.is_cancelled());
        let handled_before = first.seen().len();
        assert!(handled_before < COUNT, "the abort landed mid-stream");

        // Even dropped, the server leaves its group, in the background, within milliseconds.
        // Give it that time: Tansu wedges a group whose leader leaves during a rebalance (a
        // member joining at that very moment never gets an assignment), where Apache Kafka
        // would elect another leader.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let second = Recorder::acking();
        let handle = server(second.clone(), &[&topic], &group)
            .start()
            .await
            .expect("restart in the same group");
        eventually("every message, across both runs", || {
            let mut texts: BTreeSet<String> = first.seen().iter().map(common::Seen::text).collect();
            texts.extend(second.seen().iter().map(common::Seen::text));
            texts.len() >= COUNT
        })
        .await;
        handle.shutdown().await.expect("shutdown");

        let second_seen = second.seen().len();
        // At least once: duplicates are allowed only for what the first run had not committed.
        assert!(
            second_seen <= COUNT,
            "the restart re-handled more than the stream: {second_seen}"
        );
        println!("first run handled {handled_before}, the restart {second_seen} (of {COUNT})");
    })
    .await;
}
