//! The AMGI conformance suite against the MQTT server on the real broker.

mod support;

use std::time::Duration;

use amgi_core::conformance::{self, BoxError, BoxFuture, Harness, NackPolicy, RunningServer};
use amgi_core::{Binding, Bindings, BoxApplication, MessageSend, MqttBinding};
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

    fn round_trip_binding(&self) -> Option<Binding> {
        let binding = MqttBinding::new(1, false)
            .content_type("application/octet-stream")
            .response_topic("amgi/conformance/replies")
            .correlation_data(&b"\x00\xffcorrelation"[..])
            .message_expiry_interval(600);
        Some(Binding::Mqtt(binding))
    }

    fn check_round_trip_binding(
        &self,
        sent: &Bindings,
        received: Option<&Binding>,
    ) -> Result<(), String> {
        let (Some(Binding::Mqtt(sent)), Some(Binding::Mqtt(received))) =
            (sent.get("mqtt"), received)
        else {
            return Err(format!(
                "expected MQTT bindings, sent {sent:?}, received {received:?}"
            ));
        };
        let same = received.qos == sent.qos
            && received.retain == sent.retain
            && received.content_type == sent.content_type
            && received.response_topic == sent.response_topic
            && received.correlation_data == sent.correlation_data
            && received.topic.is_some()
            // The broker counts the expiry down while the message waits.
            && received.message_expiry_interval.is_some_and(|left| left > 0 && left <= 600);
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

/// Every check of the suite, `send_round_trip` included: its header value that is not UTF-8
/// travels base64-encoded, listed under `amgi-binary-values`, and its MQTT binding's
/// properties (content type, response topic, correlation data, expiry) arrive unchanged.
#[tokio::test(flavor = "multi_thread")]
async fn mqtt_server_passes_the_conformance_suite() {
    let harness = MqttHarness {
        outside: Mutex::new(support::Outside::connect().await),
    };
    tokio::time::timeout(Duration::from_mins(2), conformance::run_all(&harness))
        .await
        .expect("the conformance suite did not finish within 2 minutes")
        .unwrap_or_else(|failure| panic!("{failure}"));
}
