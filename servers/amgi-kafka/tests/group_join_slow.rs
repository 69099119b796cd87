//! A group join slower than the join timeout is waited for (with a warning each interval), and
//! a shutdown signal ends the wait.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Out, Recorder, bounded, fresh_topic, produce, server, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_slower_than_the_join_timeout_is_waited_for() {
    bounded(async {
        let topic = fresh_topic("slow-join", 1).await;
        let app = Recorder::acking();
        // Tansu's JoinGroup takes about session.timeout.ms / 2 = 1 s: twenty intervals.
        let handle = server(Arc::clone(&app), &[&topic], &unique("slow-join-group"))
            .join_timeout(Duration::from_millis(50))
            .start()
            .await
            .expect("start waits for the assignment instead of failing");
        assert_eq!(handle.assignment(), [(topic.clone(), 0)]);
        produce(&topic, [Out::text("hello")]).await;
        app.wait_for("the message", |seen| !seen.is_empty()).await;
        handle.shutdown().await.expect("shutdown");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_signal_ends_the_wait_for_an_assignment() {
    bounded(async {
        let topic = fresh_topic("join-stop", 1).await;
        let started = Instant::now();
        server(Recorder::acking(), &[&topic], &unique("join-stop-group"))
            .set("session.timeout.ms", "30000")
            .set("heartbeat.interval.ms", "3000")
            .join_timeout(Duration::from_millis(50))
            .run_until(tokio::time::sleep(Duration::from_millis(200)))
            .await
            .expect("a clean stop");
        // The join alone takes about 15 s with this session timeout.
        assert!(
            started.elapsed() < Duration::from_secs(12),
            "stopped while joining: {:?}",
            started.elapsed()
        );
    })
    .await;
}
