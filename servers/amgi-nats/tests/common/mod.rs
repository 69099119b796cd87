//! What the tests against the real NATS share: the URL, unique names, a client from outside the
//! server, and streams that delete themselves.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::{self, stream};

pub mod app;

/// The NATS the tests use.
pub const URL: &str = "nats://127.0.0.1:4222";

/// How to start it.
pub const START: &str =
    "scripts/brokers-up (or: nats-server -a 127.0.0.1 -p 4222 -js -sd /tmp/nats-store &)";

/// A bound on every wait.
pub const WAIT: Duration = Duration::from_secs(10);

/// A client of the test NATS, or a failed test naming the command that starts it.
pub async fn connect() -> async_nats::Client {
    let connecting = async_nats::connect(URL);
    match tokio::time::timeout(Duration::from_secs(3), connecting).await {
        Ok(Ok(client)) => client,
        Ok(Err(error)) => panic!("no NATS on 127.0.0.1:4222 ({error}); start one with {START}"),
        Err(elapsed) => panic!("no NATS on 127.0.0.1:4222 ({elapsed}); start one with {START}"),
    }
}

/// A subject token (and stream name) no other test of this run or an earlier one uses.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{}_{nanos}_{n}", std::process::id())
}

/// A JetStream stream deleted when dropped (in a thread of its own: drop is not async).
pub struct TestStream {
    pub name: String,
    pub context: jetstream::Context,
}

impl TestStream {
    /// A new stream named after `prefix` holding `subjects`.
    pub async fn create(client: &async_nats::Client, prefix: &str, subjects: &[String]) -> Self {
        let context = jetstream::new(client.clone());
        let name = unique(prefix);
        let created = context
            .create_stream(stream::Config {
                name: name.clone(),
                subjects: subjects.to_vec(),
                ..Default::default()
            })
            .await;
        if let Err(error) = created {
            panic!(
                "cannot create stream {name} ({error}): is JetStream on? start NATS with {START}"
            );
        }
        Self { name, context }
    }

    /// Publishes through JetStream and waits for the stream's ack.
    pub async fn publish(
        &self,
        subject: &str,
        headers: Option<async_nats::HeaderMap>,
        payload: impl Into<bytes::Bytes>,
    ) {
        let ack = match headers {
            Some(headers) => {
                self.context
                    .publish_with_headers(subject.to_owned(), headers, payload.into())
                    .await
            }
            None => {
                self.context
                    .publish(subject.to_owned(), payload.into())
                    .await
            }
        };
        tokio::time::timeout(WAIT, ack.unwrap().into_future())
            .await
            .expect("no JetStream ack in time")
            .unwrap();
    }
}

impl Drop for TestStream {
    fn drop(&mut self) {
        let (name, context) = (self.name.clone(), self.context.clone());
        let deleting = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let _ = tokio::time::timeout(WAIT, context.delete_stream(&name)).await;
            });
        });
        let _ = deleting.join();
    }
}

/// A core subscription NATS has registered: a message of this connection came back through it
/// (`flush` only writes the buffer). The probe message is consumed here.
pub async fn subscribe(client: &async_nats::Client, subject: &str) -> async_nats::Subscriber {
    use futures_util::StreamExt;
    let mut subscription = client.subscribe(subject.to_owned()).await.unwrap();
    client
        .publish(subject.to_owned(), "amgi-test-probe".into())
        .await
        .unwrap();
    let probe = tokio::time::timeout(WAIT, subscription.next())
        .await
        .expect("the subscription was not confirmed in time")
        .unwrap();
    assert_eq!(&probe.payload[..], b"amgi-test-probe");
    subscription
}
