//! The AMGI conformance suite against the memory server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use amgi_core::conformance::{self, BoxError, BoxFuture, Harness, NackPolicy, RunningServer};
use amgi_core::{Binding, Bindings, BoxApplication, KafkaBinding, MessageSend};
use amgi_memory::{Broker, Server, ServerHandle};

const MAX_DELIVERIES: u32 = 3;

/// Runs each check on a fresh address of one shared broker.
struct MemoryHarness {
    broker: Broker,
    next: AtomicU64,
}

impl MemoryHarness {
    fn new() -> Self {
        Self {
            broker: Broker::default(),
            next: AtomicU64::new(0),
        }
    }
}

struct Running(ServerHandle);

impl RunningServer for Running {
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, Result<(), BoxError>> {
        Box::pin(async move { self.0.shutdown().await.map_err(Into::into) })
    }
}

impl Harness for MemoryHarness {
    fn address(&self, purpose: &str) -> BoxFuture<'_, Result<String, BoxError>> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let address = format!("conformance.{purpose}.{n}");
        Box::pin(async move { Ok(address) })
    }

    fn start(
        &self,
        app: BoxApplication,
        addresses: Vec<String>,
    ) -> BoxFuture<'_, Result<Box<dyn RunningServer>, BoxError>> {
        let server = Server::new(app, self.broker.clone())
            .addresses(addresses)
            .max_deliveries(MAX_DELIVERIES);
        Box::pin(async move {
            let handle = server.start().await?;
            Ok(Box::new(Running(handle)) as Box<dyn RunningServer>)
        })
    }

    fn publish(&self, message: MessageSend) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(async move { self.broker.publish(message).await.map_err(Into::into) })
    }

    fn nack_policy(&self) -> NackPolicy {
        NackPolicy::redeliver_then_dead_letter(MAX_DELIVERIES)
    }

    fn round_trip_binding(&self) -> Option<Binding> {
        Some(KafkaBinding::with_key("conformance-key").into())
    }

    fn check_round_trip_binding(
        &self,
        sent: &Bindings,
        received: Option<&Binding>,
    ) -> Result<(), String> {
        // The memory broker delivers the first binding a message was published with.
        let expected = sent.iter().next();
        if received == expected {
            Ok(())
        } else {
            Err(format!(
                "expected binding {expected:?}, received {received:?}"
            ))
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(10)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_server_passes_the_conformance_suite() {
    let harness = MemoryHarness::new();
    tokio::time::timeout(Duration::from_mins(2), conformance::run_all(&harness))
        .await
        .expect("the conformance suite did not finish within 2 minutes")
        .unwrap_or_else(|failure| panic!("{failure}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn harness_starts_publishes_and_stops() {
    use amgi_core::{ApplicationError, ReceiveEvent, Receiver, Scope, SendEvent, SharedSender};
    use tokio::sync::mpsc;

    struct Forward(mpsc::UnboundedSender<Option<bytes::Bytes>>);
    impl amgi_core::Application for Forward {
        async fn call(
            &self,
            scope: Scope,
            receive: &mut dyn Receiver,
            send: SharedSender,
        ) -> Result<(), ApplicationError> {
            let Scope::Message(_) = scope else {
                return Err(ApplicationError::unsupported_scope(scope.kind()));
            };
            while let Ok(ReceiveEvent::Message(message)) = receive.receive().await {
                send.send(SendEvent::ack(message.id)).await?;
                let _ = self.0.send(message.payload);
            }
            Ok(())
        }
    }

    let harness = MemoryHarness::new();
    let first = harness.address("smoke").await.unwrap();
    let second = harness.address("smoke").await.unwrap();
    assert_ne!(first, second);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let server = tokio::time::timeout(
        harness.timeout(),
        harness.start(BoxApplication::new(Forward(tx)), vec![first.clone()]),
    )
    .await
    .expect("timed out waiting for start")
    .unwrap();
    harness
        .publish(MessageSend::new(first.as_str()).payload("ping"))
        .await
        .unwrap();
    let payload = tokio::time::timeout(harness.timeout(), rx.recv())
        .await
        .expect("timed out waiting for delivery");
    assert_eq!(payload.flatten().as_deref(), Some(&b"ping"[..]));
    tokio::time::timeout(harness.timeout(), server.shutdown())
        .await
        .expect("timed out waiting for shutdown")
        .unwrap();
    assert_eq!(harness.broker.depth(&first), 0);
}
