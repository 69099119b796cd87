//! The AMGI conformance suite against the SQS server on moto (127.0.0.1:4566).

mod common;

use std::time::Duration;

use amgi_core::conformance::{self, BoxError, BoxFuture, Harness, NackPolicy, RunningServer};
use amgi_core::{Binding, Bindings, BoxApplication, MessageSend, SqsBinding};
use amgi_server::RetryPolicy;
use amgi_sqs::{Server, ServerHandle};
use common::Calls;

const MAX_DELIVERIES: u32 = 3;

/// The queue of an address: dots are not allowed in SQS names (`a.dlq` → `a-dlq`, the
/// server's dead-letter queue of `a`).
fn queue_of(address: &str) -> String {
    address.replace('.', "-")
}

/// Runs each check on fresh queues.
struct SqsHarness;

struct Running(ServerHandle);

impl RunningServer for Running {
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, Result<(), BoxError>> {
        Box::pin(async move { self.0.shutdown().await.map_err(Into::into) })
    }
}

impl Harness for SqsHarness {
    fn address(&self, purpose: &str) -> BoxFuture<'_, Result<String, BoxError>> {
        let address = common::unique(&format!("conformance-{purpose}"));
        Box::pin(async move {
            common::create_queue(&queue_of(&address), &[]).await;
            Ok(address)
        })
    }

    fn start(
        &self,
        app: BoxApplication,
        addresses: Vec<String>,
    ) -> BoxFuture<'_, Result<Box<dyn RunningServer>, BoxError>> {
        let mut config = common::config(&Calls::default())
            .retry(RetryPolicy::new(MAX_DELIVERIES).backoff(Duration::ZERO, Duration::ZERO));
        let queues: Vec<String> = addresses.iter().map(|a| queue_of(a)).collect();
        for (address, queue) in addresses.into_iter().zip(&queues) {
            config = config.map(address, queue);
        }
        Box::pin(async move {
            // The dead-letter address's queue too (CreateQueue of an existing queue is a no-op).
            for queue in &queues {
                common::create_queue(queue, &[]).await;
            }
            let handle = Server::new(app, config).start().await?;
            Ok(Box::new(Running(handle)) as Box<dyn RunningServer>)
        })
    }

    fn publish(&self, message: MessageSend) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(async move {
            let name = queue_of(&message.address);
            let url = match common::queue_url(&name).await {
                Some(url) => url,
                None => common::create_queue(&name, &[]).await,
            };
            let body = String::from_utf8(message.payload.unwrap_or_default().to_vec())?;
            common::send(&url, &body).await;
            Ok(())
        })
    }

    fn nack_policy(&self) -> NackPolicy {
        NackPolicy::redeliver_then_dead_letter(MAX_DELIVERIES)
    }

    fn round_trip_binding(&self) -> Option<Binding> {
        Some(SqsBinding::default().into())
    }

    fn check_round_trip_binding(
        &self,
        _sent: &Bindings,
        received: Option<&Binding>,
    ) -> Result<(), String> {
        match received {
            Some(Binding::Sqs(binding))
                if binding.receive_count == Some(1)
                    && binding
                        .message_id
                        .as_deref()
                        .is_some_and(|id| !id.is_empty())
                    && binding.sent_timestamp.is_some_and(|millis| millis > 0) =>
            {
                Ok(())
            }
            other => Err(format!(
                "expected an SQS binding with receive count 1, a message id and a sent \
                 timestamp, got {other:?}"
            )),
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(15)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sqs_server_passes_the_conformance_suite() {
    common::require_moto().await;
    tokio::time::timeout(Duration::from_mins(2), conformance::run_all(&SqsHarness))
        .await
        .expect("the conformance suite did not finish within 2 minutes")
        .unwrap_or_else(|failure| panic!("{failure}"));
}
