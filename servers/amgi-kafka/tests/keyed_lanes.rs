//! Keyed lanes: messages of one partition run concurrently, in order per record key, and only
//! contiguous finished offsets are committed.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amgi_core::{
    Application, ApplicationError, Binding, ReceiveEvent, Receiver, Scope, SendEvent, SharedSender,
};
use common::{Out, bounded, committed, eventually, fresh_topic, produce, server, unique};

/// Sleeps `delay` per message, recording (key, payload) when it finishes and the most messages
/// in progress at once.
struct Sleepy {
    delay: Duration,
    running: AtomicUsize,
    peak: AtomicUsize,
    batch_sizes: Mutex<Vec<usize>>,
    finished: Mutex<Vec<(Option<String>, String)>>,
}

impl Application for Sleepy {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        let Scope::Message(scope) = scope else {
            return Err(ApplicationError::unsupported_scope(scope.kind()));
        };
        assert!(scope.ordered);
        let mut size = 0;
        loop {
            let ReceiveEvent::Message(message) = receive.receive().await? else {
                continue;
            };
            size += 1;
            let now = self.running.fetch_add(1, Ordering::AcqRel) + 1;
            self.peak.fetch_max(now, Ordering::AcqRel);
            tokio::time::sleep(self.delay).await;
            self.running.fetch_sub(1, Ordering::AcqRel);
            let Some(Binding::Kafka(binding)) = &message.binding else {
                panic!("a Kafka binding");
            };
            let key = binding
                .key
                .as_ref()
                .map(|k| String::from_utf8_lossy(k).into_owned());
            let text = String::from_utf8_lossy(message.payload.as_deref().unwrap_or_default())
                .into_owned();
            self.finished.lock().unwrap().push((key, text));
            send.send(SendEvent::ack(message.id)).await?;
            if !message.more_messages {
                self.batch_sizes.lock().unwrap().push(size);
                return Ok(());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lanes_keep_order_per_key_and_run_keys_concurrently() {
    bounded(async {
        let topic = fresh_topic("lanes", 1).await;
        let group = unique("lanes-group");
        // Produced first, so that the server fetches them together: a1 b1 a2 b2 … a6 b6, plus
        // two records without a key.
        let mut records = Vec::new();
        for n in 1..=6 {
            records.push(Out::text(&format!("a{n}")).key("a"));
            records.push(Out::text(&format!("b{n}")).key("b"));
        }
        records.push(Out::text("x1"));
        records.push(Out::text("x2"));
        let total = records.len();
        produce(&topic, records).await;
        let app = Arc::new(Sleepy {
            delay: Duration::from_millis(100),
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            batch_sizes: Mutex::default(),
            finished: Mutex::default(),
        });
        let handle = server(Arc::clone(&app), &[&topic], &group)
            .lanes(8)
            .start()
            .await
            .expect("start");
        eventually("every message", || {
            app.finished.lock().unwrap().len() >= total
        })
        .await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        handle.shutdown().await.expect("shutdown");

        let finished = app.finished.lock().unwrap().clone();
        for key in ["a", "b"] {
            let order: Vec<&str> = finished
                .iter()
                .filter(|(k, _)| k.as_deref() == Some(key))
                .map(|(_, text)| text.as_str())
                .collect();
            let expected: Vec<String> = (1..=6).map(|n| format!("{key}{n}")).collect();
            assert_eq!(order, expected, "key {key} in offset order");
        }
        assert!(
            app.batch_sizes
                .lock()
                .unwrap()
                .iter()
                .all(|&size| size == 1),
            "each message is its own batch"
        );
        let peak = app.peak.load(Ordering::Acquire);
        assert!(peak >= 2, "lanes ran concurrently (peak {peak})");
        assert!(
            peak <= 4,
            "never two of one key at once: two keys plus two keyless (peak {peak})"
        );
        assert_eq!(committed(&group, &topic, 1).await, [14]);
    })
    .await;
}
