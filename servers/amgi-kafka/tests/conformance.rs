//! The amgi-core conformance suite, run against the real broker.

mod common;

use amgi_core::conformance::{BoxError, BoxFuture, Harness, NackPolicy, RunningServer, run_all};
use amgi_core::{Binding, Bindings, BoxApplication, KafkaBinding, MessageSend};
use amgi_kafka::ServerHandle;
use common::{Out, bounded, create_topic, produce, server, unique};

struct KafkaHarness;

struct Running(ServerHandle);

impl RunningServer for Running {
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, Result<(), BoxError>> {
        Box::pin(async move { self.0.shutdown().await.map_err(Into::into) })
    }
}

impl Harness for KafkaHarness {
    fn address(&self, purpose: &str) -> BoxFuture<'_, Result<String, BoxError>> {
        let topic = unique(&format!("conformance-{purpose}"));
        Box::pin(async move {
            // One partition: the checks rely on the order of what they publish.
            create_topic(&topic, 1).await;
            Ok(topic)
        })
    }

    fn start(
        &self,
        app: BoxApplication,
        addresses: Vec<String>,
    ) -> BoxFuture<'_, Result<Box<dyn RunningServer>, BoxError>> {
        Box::pin(async move {
            // The suite also consumes dead-letter topics it never created.
            for address in &addresses {
                create_topic(address, 1).await;
            }
            let topics: Vec<&str> = addresses.iter().map(String::as_str).collect();
            let handle = server(app, &topics, &unique("conformance-group"))
                .start()
                .await?;
            Ok(Box::new(Running(handle)) as Box<dyn RunningServer>)
        })
    }

    fn publish(&self, message: MessageSend) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(async move {
            let mut out = Out {
                payload: message.payload.as_deref().unwrap_or_default().to_vec(),
                ..Out::default()
            };
            for (name, value) in &message.headers {
                out = out.header(std::str::from_utf8(name)?, value);
            }
            if let Some(key) = message.bindings.kafka().and_then(|k| k.key.as_deref()) {
                out.key = Some(key.to_vec());
            }
            produce(&message.address, [out]).await;
            Ok(())
        })
    }

    fn nack_policy(&self) -> NackPolicy {
        // common::server: RetryPolicy::new(3), dead letters to `<topic>.dlq`.
        NackPolicy::redeliver_then_dead_letter(3)
    }

    fn round_trip_binding(&self) -> Option<Binding> {
        Some(KafkaBinding::with_key("round-trip-key").into())
    }

    fn check_round_trip_binding(
        &self,
        sent: &Bindings,
        received: Option<&Binding>,
    ) -> Result<(), String> {
        let Some(Binding::Kafka(received)) = received else {
            return Err(format!("expected a Kafka binding, got {received:?}"));
        };
        let sent_key = sent.kafka().and_then(|k| k.key.clone());
        if received.key != sent_key {
            return Err(format!("key {:?} arrived as {:?}", sent_key, received.key));
        }
        if received.offset.is_none() || received.partition.is_none() {
            return Err(format!("partition and offset missing: {received:?}"));
        }
        Ok(())
    }

    fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(20)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amgi_conformance_suite_passes() {
    bounded(async {
        run_all(&KafkaHarness).await.expect("amgi-kafka conforms");
    })
    .await;
}
