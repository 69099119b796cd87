//! The AMGI conformance suite against the Redis server on 127.0.0.1:6379.

mod common;

use std::time::Duration;

use amgi_core::conformance::{self, BoxError, BoxFuture, Harness, NackPolicy, RunningServer};
use amgi_core::{Binding, Bindings, BoxApplication, MessageSend, RedisBinding};
use amgi_redis::{RedisConfig, Server, ServerHandle};
use amgi_server::{Deadlines, RetryPolicy};
use tokio::sync::Mutex;

const MAX_DELIVERIES: u32 = 3;

/// Runs each check on fresh streams, with a fresh group.
struct RedisHarness {
    connection: Mutex<redis::aio::MultiplexedConnection>,
}

struct Running(ServerHandle);

impl RunningServer for Running {
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, Result<(), BoxError>> {
        Box::pin(async move { self.0.shutdown().await.map_err(Into::into) })
    }
}

impl Harness for RedisHarness {
    fn address(&self, purpose: &str) -> BoxFuture<'_, Result<String, BoxError>> {
        let address = common::unique(&format!("conformance.{purpose}"));
        Box::pin(async move { Ok(address) })
    }

    fn start(
        &self,
        app: BoxApplication,
        addresses: Vec<String>,
    ) -> BoxFuture<'_, Result<Box<dyn RunningServer>, BoxError>> {
        let config = RedisConfig::new(common::URL, common::unique("group"))
            .streams(addresses)
            .consumer("conformance")
            .block(Duration::from_millis(200))
            .retry(
                RetryPolicy::new(MAX_DELIVERIES)
                    .backoff(Duration::from_millis(10), Duration::from_millis(50)),
            )
            .deadlines(Deadlines::default().drain(Duration::from_secs(5)));
        Box::pin(async move {
            let handle = Server::new(app, config).start().await?;
            Ok(Box::new(Running(handle)) as Box<dyn RunningServer>)
        })
    }

    fn publish(&self, message: MessageSend) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(async move {
            common::publish(&mut *self.connection.lock().await, &message).await;
            Ok(())
        })
    }

    fn nack_policy(&self) -> NackPolicy {
        NackPolicy::redeliver_then_dead_letter(MAX_DELIVERIES)
    }

    fn round_trip_binding(&self) -> Option<Binding> {
        Some(RedisBinding::default().into())
    }

    fn check_round_trip_binding(
        &self,
        _sent: &Bindings,
        received: Option<&Binding>,
    ) -> Result<(), String> {
        // Redis assigns the id: the message arrives with one.
        match received {
            Some(Binding::Redis(binding)) if binding.stream_id.is_some() => Ok(()),
            other => Err(format!(
                "expected a Redis binding with a stream id, got {other:?}"
            )),
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(10)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_server_passes_the_conformance_suite() {
    let harness = RedisHarness {
        connection: Mutex::new(common::connect().await),
    };
    tokio::time::timeout(Duration::from_mins(2), conformance::run_all(&harness))
        .await
        .expect("the conformance suite did not finish within 2 minutes")
        .unwrap_or_else(|failure| panic!("{failure}"));
}
