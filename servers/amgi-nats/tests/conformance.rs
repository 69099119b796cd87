//! The AMGI conformance suite against the NATS on 127.0.0.1:4222: all of it on JetStream (at
//! least once), and on core NATS the checks that need no redelivery (core NATS is at most
//! once: it has none).

mod common;

use std::time::Duration;

use amgi_core::conformance::{self, BoxError, BoxFuture, Harness, NackPolicy, RunningServer};
use amgi_core::{Binding, Bindings, BoxApplication, MessageSend, NatsBinding};
use amgi_nats::{NatsConfig, Server, ServerHandle};
use amgi_server::{Deadlines, RetryPolicy};
use common::TestStream;

const MAX_DELIVERIES: u32 = 3;

struct Running(ServerHandle);

impl RunningServer for Running {
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, Result<(), BoxError>> {
        Box::pin(async move { self.0.shutdown().await.map_err(Into::into) })
    }
}

fn base_config(addresses: Vec<String>) -> NatsConfig {
    NatsConfig::new(common::URL)
        .subjects(addresses)
        .retry(
            RetryPolicy::new(MAX_DELIVERIES)
                .backoff(Duration::from_millis(10), Duration::from_millis(50)),
        )
        .deadlines(Deadlines::default().drain(Duration::from_secs(5)))
}

fn check_nats_binding(received: Option<&Binding>) -> Result<(), String> {
    match received {
        Some(Binding::Nats(binding)) if binding.subject.is_some() => Ok(()),
        other => Err(format!(
            "expected a NATS binding with the subject, got {other:?}"
        )),
    }
}

/// Core NATS: fresh subjects per check, published from a plain client.
struct CoreHarness {
    client: async_nats::Client,
    prefix: String,
}

impl Harness for CoreHarness {
    fn address(&self, purpose: &str) -> BoxFuture<'_, Result<String, BoxError>> {
        let address = format!("{}.{}", self.prefix, common::unique(purpose));
        Box::pin(async move { Ok(address) })
    }

    fn start(
        &self,
        app: BoxApplication,
        addresses: Vec<String>,
    ) -> BoxFuture<'_, Result<Box<dyn RunningServer>, BoxError>> {
        Box::pin(async move {
            let handle = Server::new(app, base_config(addresses)).start().await?;
            Ok(Box::new(Running(handle)) as Box<dyn RunningServer>)
        })
    }

    fn publish(&self, message: MessageSend) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(async move {
            let payload = message.payload.unwrap_or_default();
            let subject = message.address.to_string();
            if message.headers.is_empty() {
                self.client.publish(subject, payload).await?;
            } else {
                let mut headers = async_nats::HeaderMap::new();
                for (name, value) in &message.headers {
                    headers.append(
                        std::str::from_utf8(name)?,
                        std::str::from_utf8(value)?.to_owned(),
                    );
                }
                self.client
                    .publish_with_headers(subject, headers, payload)
                    .await?;
            }
            self.client.flush().await?;
            Ok(())
        })
    }

    fn nack_policy(&self) -> NackPolicy {
        // Not used by the checks run on core NATS.
        NackPolicy::redeliver_then_dead_letter(MAX_DELIVERIES)
    }

    fn round_trip_binding(&self) -> Option<Binding> {
        Some(NatsBinding::default().into())
    }

    fn check_round_trip_binding(
        &self,
        _sent: &Bindings,
        received: Option<&Binding>,
    ) -> Result<(), String> {
        check_nats_binding(received)
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(10)
    }
}

/// JetStream: one stream holding `<prefix>.>` (dead letters included), a fresh durable per
/// start.
struct JetStreamHarness {
    stream: TestStream,
    prefix: String,
}

impl Harness for JetStreamHarness {
    fn address(&self, purpose: &str) -> BoxFuture<'_, Result<String, BoxError>> {
        let address = format!("{}.{}", self.prefix, common::unique(purpose));
        Box::pin(async move { Ok(address) })
    }

    fn start(
        &self,
        app: BoxApplication,
        addresses: Vec<String>,
    ) -> BoxFuture<'_, Result<Box<dyn RunningServer>, BoxError>> {
        let config = base_config(addresses)
            .jetstream(&self.stream.name, common::unique("durable"))
            .ack_wait(Duration::from_secs(5));
        Box::pin(async move {
            let handle = Server::new(app, config).start().await?;
            Ok(Box::new(Running(handle)) as Box<dyn RunningServer>)
        })
    }

    fn publish(&self, message: MessageSend) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(async move {
            let mut headers = None;
            if !message.headers.is_empty() {
                let mut map = async_nats::HeaderMap::new();
                for (name, value) in &message.headers {
                    map.append(
                        std::str::from_utf8(name)?,
                        std::str::from_utf8(value)?.to_owned(),
                    );
                }
                headers = Some(map);
            }
            self.stream
                .publish(
                    &message.address,
                    headers,
                    message.payload.unwrap_or_default(),
                )
                .await;
            Ok(())
        })
    }

    fn nack_policy(&self) -> NackPolicy {
        NackPolicy::redeliver_then_dead_letter(MAX_DELIVERIES)
    }

    fn round_trip_binding(&self) -> Option<Binding> {
        Some(NatsBinding::default().into())
    }

    fn check_round_trip_binding(
        &self,
        _sent: &Bindings,
        received: Option<&Binding>,
    ) -> Result<(), String> {
        check_nats_binding(received)
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(10)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn jetstream_passes_the_conformance_suite() {
    let client = common::connect().await;
    let prefix = common::unique("conf");
    let stream = TestStream::create(&client, "CONF", &[format!("{prefix}.>")]).await;
    let harness = JetStreamHarness { stream, prefix };
    tokio::time::timeout(Duration::from_mins(2), conformance::run_all(&harness))
        .await
        .expect("the conformance suite did not finish within 2 minutes")
        .unwrap_or_else(|failure| panic!("{failure}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn core_nats_passes_the_checks_that_need_no_redelivery() {
    let harness = CoreHarness {
        client: common::connect().await,
        prefix: common::unique("core"),
    };
    let checks = async {
        conformance::ack_exactly_once(&harness).await?;
        conformance::send_round_trip(&harness).await?;
        conformance::lifespan_order(&harness).await?;
        conformance::failing_startup_stops_the_server(&harness).await?;
        conformance::shutdown_waits_for_in_flight(&harness).await
    };
    tokio::time::timeout(Duration::from_mins(1), checks)
        .await
        .expect("the checks did not finish within a minute")
        .unwrap_or_else(|failure| panic!("{failure}"));
}
