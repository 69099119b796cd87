//! The AMGI conformance suite against the AMQP server on the real RabbitMQ.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use amgi_amqp::{Server, ServerHandle};
use amgi_core::conformance::{self, BoxError, BoxFuture, Harness, NackPolicy, RunningServer};
use amgi_core::{AmqpBinding, Binding, Bindings, BoxApplication, MessageSend};

/// Runs each check on fresh queues, publishing through one outside client.
struct AmqpHarness {
    outside: support::Outside,
    queues: Mutex<Vec<String>>,
}

struct Running(ServerHandle);

impl RunningServer for Running {
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, Result<(), BoxError>> {
        Box::pin(async move { self.0.shutdown().await.map_err(Into::into) })
    }
}

impl Harness for AmqpHarness {
    fn address(&self, purpose: &str) -> BoxFuture<'_, Result<String, BoxError>> {
        let address = support::unique(purpose);
        self.queues.lock().unwrap().push(address.clone());
        Box::pin(async move { Ok(address) })
    }

    fn start(
        &self,
        app: BoxApplication,
        addresses: Vec<String>,
    ) -> BoxFuture<'_, Result<Box<dyn RunningServer>, BoxError>> {
        let queues: Vec<&str> = addresses.iter().map(String::as_str).collect();
        let config = support::config(&queues);
        Box::pin(async move {
            let handle = Server::new(app, config).start().await?;
            Ok(Box::new(Running(handle)) as Box<dyn RunningServer>)
        })
    }

    fn publish(&self, message: MessageSend) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(async move {
            let headers: Vec<(&str, &[u8])> = (message.headers.iter())
                .map(|(name, value)| (std::str::from_utf8(name).unwrap(), value.as_ref()))
                .collect();
            let payload = message.payload.clone().unwrap_or_default();
            self.outside
                .publish(&message.address, &headers, &payload)
                .await;
            Ok(())
        })
    }

    fn nack_policy(&self) -> NackPolicy {
        NackPolicy::redeliver_then_dead_letter(3)
    }

    fn round_trip_binding(&self) -> Option<Binding> {
        let mut binding = AmqpBinding::default();
        binding.correlation_id = Some("c-42".into());
        binding.reply_to = Some("replies".into());
        binding.priority = Some(7);
        binding.expiration = Some(600_000);
        binding.message_id = Some("m-1".into());
        binding.content_type = Some("application/octet-stream".into());
        binding.delivery_mode = Some(1);
        Some(Binding::from(binding))
    }

    fn check_round_trip_binding(
        &self,
        sent: &Bindings,
        received: Option<&Binding>,
    ) -> Result<(), String> {
        let (Some(sent), Some(Binding::Amqp(received))) = (sent.amqp(), received) else {
            return Err(format!("expected AMQP bindings, received {received:?}"));
        };
        let same = received.correlation_id == sent.correlation_id
            && received.reply_to == sent.reply_to
            && received.priority == sent.priority
            && received.expiration == sent.expiration
            && received.message_id == sent.message_id
            && received.content_type == sent.content_type
            && received.delivery_mode == sent.delivery_mode
            && received.exchange.as_deref() == Some("")
            && received.routing_key.is_some();
        if same {
            Ok(())
        } else {
            Err(format!("sent {sent:?}, received {received:?}"))
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(10)
    }
}

/// Every check of the suite, `send_round_trip` included: repeated headers and a header that
/// is not UTF-8 arrive as sent, in order, and every property of the AMQP binding arrives.
#[tokio::test(flavor = "multi_thread")]
async fn amqp_server_passes_the_conformance_suite() {
    let harness = AmqpHarness {
        outside: support::Outside::connect().await,
        queues: Mutex::new(Vec::new()),
    };
    let result = tokio::time::timeout(Duration::from_mins(2), conformance::run_all(&harness)).await;
    let queues = harness.queues.lock().unwrap().clone();
    let queues: Vec<&str> = queues.iter().map(String::as_str).collect();
    harness.outside.delete(&queues).await;
    result
        .expect("the conformance suite did not finish within 2 minutes")
        .unwrap_or_else(|failure| panic!("{failure}"));
}
