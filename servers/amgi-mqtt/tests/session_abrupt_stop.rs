//! A server stopped abruptly mid-stream (its runtime dropped: no `PUBACK`s, no `DISCONNECT`),
//! then started again with the same client id, handles every message at least once: those it
//! had not acked and those published while it was down.

mod support;

use std::collections::BTreeSet;

use amgi_core::BoxApplication;
use amgi_mqtt::Server;
use support::{Outside, Recorder, WAIT, config_on, next, require_broker, unique};

#[tokio::test(flavor = "multi_thread")]
async fn every_message_is_handled_at_least_once_across_an_abrupt_stop() {
    require_broker().await;
    let topic = unique("amgi/abrupt");
    let client_id = unique("amgi-abrupt");
    let mut outside = Outside::connect().await;

    // The first server runs on a runtime of its own, so that it can be torn down as a crash
    // would: every task dropped where it stands.
    let crashing = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (app, mut first) = Recorder::new();
    let config = config_on(support::PORT, &client_id, &[&topic]);
    let handle = crashing
        .spawn(Server::new(BoxApplication::new(app), config).start())
        .await
        .unwrap()
        .unwrap();

    // 1..=3 are acked, 4 stalls the topic (4..=6 are never acked).
    let before: Vec<String> = (1..=3)
        .map(|n| format!("m{n}"))
        .chain(["stall 4".into(), "m5".into(), "m6".into()])
        .collect();
    for payload in &before {
        outside.publish(&topic, &[], payload).await;
    }
    let mut handled_first = BTreeSet::new();
    loop {
        let got = next(&mut first).await;
        let stalled = got.payload.starts_with("stall");
        handled_first.insert(got.payload);
        if stalled {
            break;
        }
    }
    std::mem::forget(handle);
    crashing.shutdown_background();

    // Published while no server runs: the broker queues them in the session.
    let during: Vec<String> = (7..=9).map(|n| format!("m{n}")).collect();
    for payload in &during {
        outside.publish(&topic, &[], payload).await;
    }

    // Back with the same client id: "stall 4" is delivered again (DUP), and acked this time.
    let (app, mut second) = Recorder::never_stalling();
    let config = config_on(support::PORT, &client_id, &[&topic]);
    let handle = Server::new(BoxApplication::new(app), config)
        .start()
        .await
        .unwrap();
    let mut handled_second = BTreeSet::new();
    let must: BTreeSet<String> = ["stall 4", "m5", "m6", "m7", "m8", "m9"]
        .map(String::from)
        .into();
    while !must.is_subset(&handled_second) {
        handled_second.insert(next(&mut second).await.payload);
    }
    let all: BTreeSet<String> = before.iter().chain(&during).cloned().collect();
    let handled: BTreeSet<String> = handled_first.union(&handled_second).cloned().collect();
    assert_eq!(handled, all, "every message handled at least once");
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
}
