//! `--lanes N`: messages of one topic run side by side in keyed lanes (the `amgi-lane-key`
//! header), so a message that takes long holds back only those of its own key.

mod support;

use std::time::Duration;

use amgi_core::BoxApplication;
use amgi_mqtt::Server;
use amgi_server::{Deadlines, LANE_KEY_HEADER};
use support::{Outside, Recorder, WAIT, config, next, unique};

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_key_holds_back_only_its_own_messages() {
    let topic = unique("amgi/lanes");
    let (app, mut got) = Recorder::new();
    let config = config(&[&topic])
        .lanes(4)
        .deadlines(Deadlines::default().drain(Duration::from_millis(200)));
    let handle = Server::new(BoxApplication::new(app), config)
        .start()
        .await
        .unwrap();
    let mut outside = Outside::connect().await;
    // Key a: a message that never finishes, then one more; key b: two messages.
    for (key, payload) in [("a", "stall a1"), ("a", "a2"), ("b", "b1"), ("b", "b2")] {
        outside
            .publish(&topic, &[(LANE_KEY_HEADER, key)], payload)
            .await;
    }
    let mut handled = Vec::new();
    while handled.len() < 3 {
        handled.push(next(&mut got).await.payload);
    }
    // Key b went past the stalled key a, in order; a2 waits behind a1.
    let position = |payload: &str| handled.iter().position(|p| p == payload);
    assert!(position("stall a1").is_some(), "{handled:?}");
    assert!(position("b1") < position("b2"), "{handled:?}");
    assert!(got.try_recv().is_err(), "a2 ran before a1 finished");
    // The stalled message is abandoned at the drain deadline, not acknowledged.
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
}
