//! Keyed lanes on Redis Streams: entries of different `amgi-lane-key` values run at once,
//! entries of one key in order.

mod common;

use std::time::{Duration, Instant};

use amgi_core::{Headers, MessageSend};
use amgi_redis::{RedisConfig, Server};
use amgi_server::LANE_KEY_HEADER;
use common::app::{Action, TestApp};

#[tokio::test(flavor = "multi_thread")]
async fn lanes_run_keys_at_once_and_each_key_in_order() {
    let mut redis = common::connect().await;
    let (stream, group) = (common::unique("lanes"), common::unique("g"));
    // 8 entries, keys k0…k3 twice each, in one batch; each takes 100 ms.
    for i in 0..8 {
        let headers = Headers::new().with(LANE_KEY_HEADER, format!("k{}", i % 4));
        let message = MessageSend::new(stream.as_str())
            .headers(headers)
            .payload(format!("m{i}"));
        common::publish(&mut redis, &message).await;
    }
    let (app, mut received) = TestApp::new(|_, _| Action::DelayThenAck(Duration::from_millis(100)));
    let config = RedisConfig::new(common::URL, &group)
        .stream(&stream)
        .consumer("lanes")
        .batch_size(8)
        .lanes(Some(8))
        .block(Duration::from_millis(100));
    let handle = Server::new(app, config).start().await.unwrap();
    let mut order = Vec::new();
    let mut started = Vec::new();
    for _ in 0..8 {
        let (_, message) = tokio::time::timeout(common::WAIT, received.recv())
            .await
            .unwrap()
            .unwrap();
        started.push(Instant::now());
        order.push(common::text(&message));
    }
    // Four keys at once: two rounds of 100 ms, not eight.
    let spread = started[7] - started[0];
    assert!(
        spread < Duration::from_millis(400),
        "the lanes did not run at once: {spread:?}"
    );
    for key in 0..4 {
        let first = order.iter().position(|m| *m == format!("m{key}")).unwrap();
        let second = order
            .iter()
            .position(|m| *m == format!("m{}", key + 4))
            .unwrap();
        assert!(first < second, "key k{key} out of order: {order:?}");
    }
    common::eventually("every XACK", || {
        let (mut redis, stream, group) = (redis.clone(), stream.clone(), group.clone());
        async move { common::pending(&mut redis, &stream, &group).await == 0 }
    })
    .await;
    handle.shutdown().await.unwrap();
    common::delete(&mut redis, &[&stream]).await;
}
