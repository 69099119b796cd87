//! Two servers in one consumer group split the partitions and together handle every message.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{
    Out, Recorder, WAIT, bounded, committed, ends, eventually, fresh_topic, produce, server, unique,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_in_one_group_split_the_partitions() {
    bounded(async {
        const PARTITIONS: i32 = 4;
        const COUNT: usize = 80;
        let topic = fresh_topic("group", PARTITIONS).await;
        let group = unique("group-group");
        let a = Recorder::acking();
        let b = Recorder::acking();
        let first = server(a.clone(), &[&topic], &group)
            .start()
            .await
            .expect("start a");
        assert_eq!(
            first.assignment().len(),
            4,
            "alone, a consumes every partition"
        );
        let second = server(b.clone(), &[&topic], &group)
            .start()
            .await
            .expect("start b");

        // The first server gives up partitions in the rebalance the second one caused.
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (x, y) = (first.assignment(), second.assignment());
            let union: BTreeSet<_> = x.iter().chain(&y).cloned().collect();
            if !x.is_empty() && !y.is_empty() && union.len() == 4 && x.len() + y.len() == 4 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "partitions never split: a {x:?}, b {y:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let produced = produce(
            &topic,
            (0..COUNT).map(|i| {
                Out::text(&format!("m{i}")).partition(i32::try_from(i).unwrap() % PARTITIONS)
            }),
        )
        .await;
        eventually("every message, across both servers", || {
            let texts: BTreeSet<String> = a
                .seen()
                .iter()
                .chain(b.seen().iter())
                .map(common::Seen::text)
                .collect();
            texts.len() >= COUNT
        })
        .await;
        let (a_partitions, b_partitions) = (first.assignment(), second.assignment());
        second.shutdown().await.expect("shutdown b");
        first.shutdown().await.expect("shutdown a");

        let a_seen: BTreeSet<i32> = a.seen().iter().map(|s| s.partition).collect();
        let b_seen: BTreeSet<i32> = b.seen().iter().map(|s| s.partition).collect();
        assert!(
            !a.seen().is_empty() && !b.seen().is_empty(),
            "both servers worked"
        );
        assert!(
            a_seen.is_disjoint(&b_seen),
            "a {a_seen:?} and b {b_seen:?} share a partition"
        );
        println!("a had {a_partitions:?}, b had {b_partitions:?}");
        assert_eq!(a.seen().len() + b.seen().len(), COUNT, "each message once");
        assert_eq!(
            committed(&group, &topic, PARTITIONS).await,
            ends(&produced, PARTITIONS)
        );
    })
    .await;
}
