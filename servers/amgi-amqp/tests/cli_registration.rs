//! asyncfast's `amqp` feature registers this server's command: `app run amqp …` serves, and a
//! broker that is down fails it with the URL's password redacted.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use asyncfast::prelude::*;
use tokio::sync::mpsc;

#[test]
fn asyncfast_registers_run_amqp_with_its_feature() {
    let app = asyncfast::AsyncFast::empty();
    assert!(app.server_names().any(|name| name == "amqp"));
}

struct Seen(Mutex<mpsc::UnboundedSender<String>>);

#[channel("amgi-test.cli.{run}")]
async fn on_message(payload: Payload<String>, seen: State<Seen>, _run: Param<String>) {
    let Seen(sender) = &*seen;
    let _ = sender.lock().unwrap().send(payload.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn run_amqp_serves_the_named_queue_until_stopped() {
    let queue = support::unique("cli");
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let app = AsyncFast::empty()
        .state(Seen(Mutex::new(seen_tx)))
        .channel(handler!(on_message));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let args = [
        "app",
        "run",
        "amqp",
        queue.as_str(),
        "--url",
        support::URL,
        "--max-deliveries",
        "2",
    ];
    let args: Vec<String> = args.iter().map(ToString::to_string).collect();
    let serving = tokio::spawn(app.run_with_args_until(args, || async {
        let _ = stopped.await;
    }));
    let outside = support::Outside::connect().await;
    // The queue exists once the server declared it: publish until it is there.
    let got = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            outside.publish(&queue, &[], b"hello").await;
            if let Ok(Some(got)) =
                tokio::time::timeout(Duration::from_millis(500), seen.recv()).await
            {
                return got;
            }
        }
    })
    .await
    .expect("`run amqp` did not handle a message within 20 s");
    assert_eq!(got, "hello");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(15), serving)
        .await
        .expect("`run amqp` did not stop within 15 s")
        .unwrap()
        .unwrap();
    outside.delete(&[&queue]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn run_amqp_with_the_broker_down_fails_naming_the_redacted_url() {
    let app = AsyncFast::empty().channel(handler!(on_message));
    let args = [
        "app",
        "run",
        "amqp",
        "amgi-test.cli.down",
        "--url",
        "amqp://app:s3cret@127.0.0.1:1/%2f",
    ];
    let result = tokio::time::timeout(
        Duration::from_secs(15),
        app.run_with_args_until(args, std::future::pending::<()>),
    )
    .await
    .expect("`run amqp` did not fail within 15 s");
    let error = result.unwrap_err().to_string();
    assert!(error.contains("amqp://app:***@127.0.0.1:1/%2f"), "{error}");
    assert!(!error.contains("s3cret"), "{error}");
}
