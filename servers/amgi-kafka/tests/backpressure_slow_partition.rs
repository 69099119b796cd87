//! A slow partition does not hold the others back: once it has `max_buffered` messages
//! waiting it is paused, the other partitions go on, and it resumes (losing nothing) when its
//! task caught up.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{
    Out, Recorder, bounded, committed, ends, eventually, fresh_topic, produce, server, unique,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_partition_is_paused_and_the_others_go_on() {
    bounded(async {
        const SLOW: usize = 40;
        const FAST: usize = 300;
        let topic = fresh_topic("slow", 2).await;
        let group = unique("slow-group");
        // 100 ms per message on partition 0: 4 s for all of them.
        let app = Recorder::slow_on(|partition| {
            if partition == 0 {
                Duration::from_millis(100)
            } else {
                Duration::ZERO
            }
        });
        let handle = server(app.clone(), &[&topic], &group)
            .batch_size(5)
            .max_buffered(20)
            .start()
            .await
            .expect("start");
        let count = |partition: i32| {
            app.seen()
                .iter()
                .filter(|s| s.partition == partition)
                .count()
        };
        let mut produced = produce(
            &topic,
            (0..SLOW).map(|i| Out::text(&format!("slow-{i}")).partition(0)),
        )
        .await;
        // Partition 0 is now behind, with more than `max_buffered` messages fetched.
        eventually("the slow partition to start", || count(0) >= 1).await;

        let started = Instant::now();
        produced.extend(
            produce(
                &topic,
                (0..FAST).map(|i| Out::text(&format!("fast-{i}")).partition(1)),
            )
            .await,
        );
        eventually("every message of the fast partition", || count(1) >= FAST).await;
        let slow_done = count(0);
        println!(
            "fast partition done after {:?}; slow one at {slow_done}/{SLOW}",
            started.elapsed()
        );
        assert!(
            slow_done < SLOW / 2,
            "the fast partition waited for the slow one ({slow_done} slow done)"
        );

        eventually("every message of the slow partition", || count(0) >= SLOW).await;
        handle.shutdown().await.expect("shutdown");
        let seen = app.seen().clone();
        let distinct: BTreeSet<_> = seen.iter().map(common::Seen::text).collect();
        assert_eq!(distinct.len(), SLOW + FAST, "nothing lost");
        assert_eq!(
            seen.len(),
            SLOW + FAST,
            "nothing handled twice after the pause"
        );
        let slow_offsets: Vec<_> = seen
            .iter()
            .filter(|s| s.partition == 0)
            .map(|s| s.offset)
            .collect();
        assert!(
            slow_offsets.windows(2).all(|w| w[0] < w[1]),
            "in order: {slow_offsets:?}"
        );
        assert_eq!(committed(&group, &topic, 2).await, ends(&produced, 2));
    })
    .await;
}
