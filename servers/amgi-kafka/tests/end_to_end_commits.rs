//! End to end against the real broker: every message handled once, offsets committed, and a
//! restart resuming exactly after them.

mod common;

use std::collections::BTreeSet;

use common::{Out, Recorder, bounded, committed, ends, fresh_topic, produce, server, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_is_handled_once_and_its_offset_committed() {
    bounded(async {
        const COUNT: usize = 60;
        let topic = fresh_topic("e2e", 3).await;
        let group = unique("e2e-group");
        let produced = produce(
            &topic,
            (0..COUNT).map(|i| {
                Out::text(&format!("m{i}"))
                    .key(&format!("k{i}"))
                    .header("seq", i.to_string().as_bytes())
            }),
        )
        .await;
        let app = Recorder::acking();
        let handle = server(app.clone(), &[&topic], &group)
            .start()
            .await
            .expect("start");
        assert_eq!(
            handle.assignment().len(),
            3,
            "one server gets every partition"
        );
        app.wait_for("every message", |seen| seen.len() >= COUNT)
            .await;
        handle.shutdown().await.expect("shutdown");

        let seen = app.seen().clone();
        assert_eq!(seen.len(), COUNT, "each message exactly once: {seen:?}");
        let distinct: BTreeSet<_> = seen.iter().map(|s| (s.partition, s.offset)).collect();
        assert_eq!(distinct.len(), COUNT);
        for s in &seen {
            let i = &s.text()[1..];
            assert_eq!(s.key.as_deref(), Some(format!("k{i}").as_bytes()));
            assert_eq!(s.headers.get(b"seq").map(|v| &v[..]), Some(i.as_bytes()));
        }
        // Within a partition, offsets arrive in order.
        for partition in 0..3 {
            let offsets: Vec<_> = seen
                .iter()
                .filter(|s| s.partition == partition)
                .map(|s| s.offset)
                .collect();
            assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
        }
        assert_eq!(
            committed(&group, &topic, 3).await,
            ends(&produced, 3),
            "every partition committed up to its end"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_after_the_committed_offsets() {
    bounded(async {
        let topic = fresh_topic("resume", 2).await;
        let group = unique("resume-group");
        let mut produced = produce(
            &topic,
            (0..20).map(|i| Out::text(&format!("first-{i}")).key(&i.to_string())),
        )
        .await;
        let first = Recorder::acking();
        let handle = server(first.clone(), &[&topic], &group)
            .start()
            .await
            .expect("start");
        first
            .wait_for("the first 20", |seen| seen.len() >= 20)
            .await;
        handle.shutdown().await.expect("shutdown");
        assert_eq!(committed(&group, &topic, 2).await, ends(&produced, 2));

        produced.extend(
            produce(
                &topic,
                (0..10).map(|i| Out::text(&format!("second-{i}")).key(&i.to_string())),
            )
            .await,
        );
        let second = Recorder::acking();
        let handle = server(second.clone(), &[&topic], &group)
            .start()
            .await
            .expect("restart");
        second
            .wait_for("the 10 new messages", |seen| seen.len() >= 10)
            .await;
        // Anything re-handled would arrive before the new messages of its partition.
        handle.shutdown().await.expect("shutdown");
        let texts: BTreeSet<_> = second.seen().iter().map(common::Seen::text).collect();
        assert_eq!(second.seen().len(), 10, "nothing handled twice: {texts:?}");
        assert!(texts.iter().all(|t| t.starts_with("second-")), "{texts:?}");
        assert_eq!(committed(&group, &topic, 2).await, ends(&produced, 2));
    })
    .await;
}
