//! `--lanes N` on JetStream: messages of a batch with different `amgi-lane-key`s run side by
//! side, those of one key one at a time.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use amgi_core::{
    Application, ApplicationError, ReceiveEvent, Receiver, Scope, SendEvent, SharedSender,
};
use amgi_nats::{NatsConfig, Server};
use common::{TestStream, WAIT, unique};
use tokio::sync::mpsc;

/// Acks each message after a pause, counting how many run at once.
struct Overlap {
    running: AtomicUsize,
    most: AtomicUsize,
    done: mpsc::UnboundedSender<()>,
}

struct App(Arc<Overlap>);

impl Application for App {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        if let Scope::Lifespan(_) = scope {
            loop {
                match receive.receive().await? {
                    ReceiveEvent::LifespanStartup => {
                        send.send(SendEvent::LifespanStartupComplete).await?;
                    }
                    ReceiveEvent::LifespanShutdown => {
                        send.send(SendEvent::LifespanShutdownComplete).await?;
                        return Ok(());
                    }
                    _ => {}
                }
            }
        }
        loop {
            let ReceiveEvent::Message(message) = receive.receive().await? else {
                continue;
            };
            let now = self.0.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.0.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(150)).await;
            self.0.running.fetch_sub(1, Ordering::SeqCst);
            send.send(SendEvent::ack(message.id)).await?;
            let _ = self.0.done.send(());
            if !message.more_messages {
                return Ok(());
            }
        }
    }
}

async fn most_at_once(keys: &[&str]) -> usize {
    let client = common::connect().await;
    let subject = format!("amgi.lanes.{}", unique("run"));
    let stream = TestStream::create(&client, "LANES", std::slice::from_ref(&subject)).await;
    for key in keys {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("amgi-lane-key", *key);
        stream.publish(&subject, Some(headers), "m").await;
    }
    let (done, mut finished) = mpsc::unbounded_channel();
    let overlap = Arc::new(Overlap {
        running: AtomicUsize::new(0),
        most: AtomicUsize::new(0),
        done,
    });
    let config = NatsConfig::new(common::URL)
        .subjects([subject.clone()])
        .jetstream(&stream.name, unique("durable"))
        .lanes(4);
    let handle = Server::new(App(Arc::clone(&overlap)), config)
        .start()
        .await
        .unwrap();
    for _ in keys {
        tokio::time::timeout(WAIT, finished.recv())
            .await
            .expect("not all handled in 10 s")
            .unwrap();
    }
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
    overlap.most.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread")]
async fn different_keys_run_side_by_side_and_one_key_runs_alone() {
    assert!(most_at_once(&["a", "b", "c", "d"]).await > 1);
    assert_eq!(most_at_once(&["k", "k", "k"]).await, 1);
}
