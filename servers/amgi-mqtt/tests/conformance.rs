//! The AMGI conformance suite against the MQTT server on the real broker.

mod support;

use std::time::Duration;

use amgi_core::conformance::{self, BoxError, BoxFuture, Harness, NackPolicy, RunningServer};
use amgi_core::{BoxApplication, MessageSend};
use amgi_mqtt::{Server, ServerHandle};
use tokio::sync::Mutex;

const MAX_DELIVERIES: u32 = 3;

/// Runs each check on fresh topics, publishing through one outside client.
struct MqttHarness {
    outside: Mutex<support::Outside>,
}

struct Running(ServerHandle);

impl RunningServer for Running {
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, Result<(), BoxError>> {
        Box::pin(async move { self.0.shutdown().await.map_err(Into::into) })
    }
}

impl Harness for MqttHarness {
    fn address(&self, purpose: &str) -> BoxFuture<'_, Result<String, BoxError>> {
        let address = format!("amgi/conformance/{}", support::unique(purpose));
        Box::pin(async move { Ok(address) })
    }

    fn start(
        &self,
        app: BoxApplication,
        addresses: Vec<String>,
    ) -> BoxFuture<'_, Result<Box<dyn RunningServer>, BoxError>> {
        let topics: Vec<&str> = addresses.iter().map(String::as_str).collect();
        let config = support::config(&topics);
        Box::pin(async move {
            let handle = Server::new(app, config).start().await?;
            Ok(Box::new(Running(handle)) as Box<dyn RunningServer>)
        })
    }

    fn publish(&self, message: MessageSend) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(async move {
            let headers: Vec<(String, String)> = message
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        String::from_utf8_lossy(n).into_owned(),
                        String::from_utf8_lossy(v).into_owned(),
                    )
                })
                .collect();
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let payload = message.payload.unwrap_or_default();
            let payload = String::from_utf8_lossy(&payload).into_owned();
            self.outside
                .lock()
                .await
                .publish(&message.address, &headers, &payload)
                .await;
            Ok(())
        })
    }

    fn nack_policy(&self) -> NackPolicy {
        NackPolicy::redeliver_then_dead_letter(MAX_DELIVERIES)
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(10)
    }
}

/// Every check of `conformance::run_all` but `send_round_trip`: that check sends a header
/// whose value is not UTF-8 (`x-binary`), and MQTT 5 user properties are UTF-8 strings, so the
/// server refuses that `message.send` (the round trip of text headers and a binary payload is
/// tested in `server_delivery.rs`).
#[tokio::test(flavor = "multi_thread")]
async fn mqtt_server_passes_the_conformance_suite_but_binary_headers() {
    let harness = MqttHarness {
        outside: Mutex::new(support::Outside::connect().await),
    };
    let checks = async {
        conformance::ack_exactly_once(&harness).await?;
        conformance::unacknowledged_is_redelivered(&harness).await?;
        conformance::nack_redelivers_then_dead_letters(&harness).await?;
        conformance::lifespan_order(&harness).await?;
        conformance::failing_startup_stops_the_server(&harness).await?;
        conformance::shutdown_waits_for_in_flight(&harness).await
    };
    tokio::time::timeout(Duration::from_mins(2), checks)
        .await
        .expect("the conformance suite did not finish within 2 minutes")
        .unwrap_or_else(|failure| panic!("{failure}"));
}
