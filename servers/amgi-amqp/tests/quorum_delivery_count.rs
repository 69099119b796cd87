//! On a quorum queue, the delivery count survives a crash: RabbitMQ's `x-delivery-count`
//! says how often a message was delivered before, and the server counts on from there.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use amgi_amqp::Server;
use amgi_core::dead_letter::DELIVERIES_HEADER;
use asyncfast::prelude::*;
use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable, LongString};
use support::{Outside, config, unique};
use tokio::sync::Notify;

/// Counts the deliveries an instance saw, and says when it saw one.
#[derive(Default)]
struct Seen {
    count: AtomicU32,
    notify: Notify,
}

/// Always fails: every delivery is a nack, retried by the server's policy.
#[channel("amgi-test.quorum.{run}")]
async fn always_failing(
    payload: Payload<String>,
    seen: State<Seen>,
    _run: Param<String>,
) -> Result<(), String> {
    std::hint::black_box(payload);
    seen.count.fetch_add(1, Ordering::Relaxed);
    seen.notify.notify_one();
    Err("database busy".into())
}

fn app(seen: &Arc<Seen>) -> AsyncFast {
    AsyncFast::empty()
        .state_arc(Arc::clone(seen))
        .channel(handler!(always_failing))
}

#[test]
fn a_redelivery_after_a_crash_counts_on_from_the_quorum_queues_count() {
    let queue = unique("quorum");
    let main = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let outside = main.block_on(async {
        let outside = Outside::connect().await;
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString(LongString::from("quorum")),
        );
        outside
            .channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions::durable(),
                arguments,
            )
            .await
            .unwrap();
        outside
    });
    // The first server nacks the message once and waits a minute before retrying: it is killed
    // meanwhile, holding it unacknowledged.
    let killed = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let first = Arc::new(Seen::default());
    let slow_retry = config(&[&queue]).retry(
        amgi_server::RetryPolicy::new(2).backoff(Duration::from_mins(1), Duration::from_mins(1)),
    );
    let handle = killed
        .block_on(Server::new(app(&first), slow_retry).start())
        .unwrap();
    std::mem::forget(handle);
    main.block_on(async {
        outside.publish(&queue, &[], b"order 1").await;
        tokio::time::timeout(Duration::from_secs(10), first.notify.notified())
            .await
            .expect("the first server did not get the message within 10 s");
    });
    killed.shutdown_background();

    // The second server gets it with `x-delivery-count: 1`: its own nack is the second and last
    // delivery of `max_deliveries = 2`, so it dead-letters the message at once.
    main.block_on(async {
        let second = Arc::new(Seen::default());
        let config = config(&[&queue]).retry(amgi_server::RetryPolicy::new(2));
        let handle = Server::new(app(&second), config).start().await.unwrap();
        let dead = outside.next(&format!("{queue}.dlq")).await;
        assert_eq!(dead.data, b"order 1");
        let headers = dead.properties.headers().clone().unwrap();
        let deliveries = match headers.inner().get(DELIVERIES_HEADER) {
            Some(AMQPValue::LongString(text)) => {
                String::from_utf8_lossy(text.as_bytes()).into_owned()
            }
            other => panic!("no deliveries header: {other:?}"),
        };
        assert_eq!(deliveries, "2");
        assert_eq!(second.count.load(Ordering::Relaxed), 1);
        tokio::time::timeout(Duration::from_secs(10), handle.shutdown())
            .await
            .unwrap()
            .unwrap();
        outside.delete(&[&queue]).await;
    });
    assert_eq!(first.count.load(Ordering::Relaxed), 1);
}
