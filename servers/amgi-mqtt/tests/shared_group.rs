//! Two servers with the same group share a topic through `$share/<group>/<topic>`: each message
//! is handled once, by one of them, and both get some.

mod support;

use std::collections::BTreeSet;

use amgi_core::BoxApplication;
use amgi_mqtt::Server;
use support::{Outside, Recorder, WAIT, config, unique};

#[tokio::test(flavor = "multi_thread")]
async fn two_servers_of_one_group_share_the_messages() {
    let topic = unique("amgi/group");
    let group = unique("g");
    let (app_a, mut got_a) = Recorder::new();
    let (app_b, mut got_b) = Recorder::new();
    let a = Server::new(BoxApplication::new(app_a), config(&[&topic]).group(&group))
        .start()
        .await
        .unwrap();
    let b = Server::new(BoxApplication::new(app_b), config(&[&topic]).group(&group))
        .start()
        .await
        .unwrap();

    let mut outside = Outside::connect().await;
    let sent: BTreeSet<String> = (0..20).map(|n| format!("m{n}")).collect();
    for payload in &sent {
        outside.publish(&topic, &[], payload).await;
    }
    let (mut by_a, mut by_b) = (Vec::new(), Vec::new());
    let collect = async {
        while by_a.len() + by_b.len() < sent.len() {
            tokio::select! {
                Some(got) = got_a.recv() => by_a.push(got.payload),
                Some(got) = got_b.recv() => by_b.push(got.payload),
            }
        }
    };
    tokio::time::timeout(WAIT, collect)
        .await
        .expect("not every message was handled within 10 s");
    tokio::time::timeout(WAIT, a.shutdown())
        .await
        .unwrap()
        .unwrap();
    tokio::time::timeout(WAIT, b.shutdown())
        .await
        .unwrap()
        .unwrap();
    // Nothing more arrived: each message was handled once.
    assert!(got_a.try_recv().is_err() && got_b.try_recv().is_err());
    let handled: BTreeSet<String> = by_a.iter().chain(&by_b).cloned().collect();
    assert_eq!(handled, sent);
    assert_eq!(by_a.len() + by_b.len(), sent.len(), "no message twice");
    assert!(
        !by_a.is_empty() && !by_b.is_empty(),
        "both servers got some: {by_a:?} / {by_b:?}"
    );
}
