//! A private Mosquitto (own port, persistence on) restarted under a running server: the server
//! reconnects on its own, resumes its persistent session and keeps consuming; what was
//! published while it was reconnecting is delivered, what it acked is not lost.

mod support;

use amgi_core::BoxApplication;
use amgi_mqtt::Server;
use support::private_broker::PrivateBroker;
use support::{Outside, Recorder, WAIT, config_on, next, unique};

#[tokio::test(flavor = "multi_thread")]
async fn the_server_reconnects_after_a_broker_restart_and_keeps_consuming() {
    let mut broker = PrivateBroker::start(false).await;
    let topic = unique("amgi/restart");
    let (app, mut got) = Recorder::new();
    let config = config_on(broker.port, &unique("amgi-restart"), &[&topic]);
    let handle = Server::new(BoxApplication::new(app), config)
        .start()
        .await
        .unwrap();

    let mut outside = Outside::connect_to(broker.port).await;
    outside.publish(&topic, &[], "before").await;
    assert_eq!(next(&mut got).await.payload, "before");

    broker.restart().await;

    // Published at once, most likely before the server is back: the broker restored the
    // server's session (subscription included) from its persistence file and queues it there.
    let mut outside = Outside::connect_to(broker.port).await;
    for payload in ["after 1", "after 2"] {
        outside.publish(&topic, &[], payload).await;
    }
    let mut after = Vec::new();
    while after.len() < 2 {
        let payload = next(&mut got).await.payload;
        // "before" was acked before the restart: it is never delivered again.
        assert_ne!(payload, "before", "an acked message came back");
        if !after.contains(&payload) {
            after.push(payload);
        }
    }
    assert_eq!(after, ["after 1", "after 2"]);
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
}
