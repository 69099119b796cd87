//! asyncfast's `nats` feature registers this server's command: `app run nats …`, which serves
//! an application's templated channel on a JetStream durable consumer.

mod common;

use std::sync::Mutex;

use asyncfast::prelude::*;
use common::{TestStream, WAIT, unique};
use tokio::sync::{mpsc, oneshot};

#[test]
fn asyncfast_registers_run_nats_with_its_feature() {
    let app = asyncfast::AsyncFast::empty();
    assert!(app.server_names().any(|name| name == "nats"));
}

struct Seen(Mutex<mpsc::UnboundedSender<(String, String)>>);

#[channel("amgi.cli.{region}")]
async fn on_order(order: Payload<String>, region: Param<String>, seen: State<Seen>) {
    let Seen(sender) = &*seen;
    let _ = sender
        .lock()
        .unwrap()
        .send((region.to_string(), order.to_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn run_nats_serves_a_template_through_a_star_on_jetstream() {
    let client = common::connect().await;
    let region = unique("eu");
    let stream = TestStream::create(&client, "CLI", &["amgi.cli.*".to_owned()]).await;
    stream
        .publish(&format!("amgi.cli.{region}"), None, "order 1")
        .await;
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let app = AsyncFast::empty()
        .state(Seen(Mutex::new(seen_tx)))
        .channel(handler!(on_order));
    let durable = unique("durable");
    let args = [
        "app",
        "run",
        "nats",
        "--url",
        common::URL,
        "--stream",
        &stream.name,
        "--durable",
        &durable,
    ]
    .map(str::to_owned);
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(app.run_with_args_until(args, || async {
        let _ = stopped.await;
    }));
    let (got_region, order) = tokio::time::timeout(WAIT, seen.recv())
        .await
        .expect("`run nats` did not deliver within 10 s")
        .unwrap();
    assert_eq!(
        (got_region.as_str(), order.as_str()),
        (region.as_str(), "order 1")
    );
    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, serving)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
