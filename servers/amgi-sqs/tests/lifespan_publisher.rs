//! The lifespan scope carries a publisher: an application publishes at startup, before any
//! batch, through `SendMessageBatch`, to a routed queue.

mod common;

use std::sync::Arc;

use amgi_core::extension::ServerPublisher;
use amgi_core::{
    Application, ApplicationError, MessageSend, ReceiveEvent, Receiver, Scope, SendEvent,
    SharedSender,
};
use amgi_sqs::Server;
use common::Calls;

/// Publishes `hello` to `greetings` at startup; consumes nothing.
struct Greeter;

impl Application for Greeter {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        let Scope::Lifespan(scope) = scope else {
            return Err(ApplicationError::msg("this application consumes nothing"));
        };
        loop {
            match receive.receive().await? {
                ReceiveEvent::LifespanStartup => {
                    let publisher = scope.extensions.get::<ServerPublisher>();
                    let publisher = publisher.ok_or(ApplicationError::msg("no publisher"))?;
                    let hello = MessageSend::new("greetings").payload("hello");
                    Arc::clone(&publisher.0).publish(hello).await?;
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifespan_publisher_sends_at_startup() {
    common::require_moto().await;
    let consumed = common::unique("idle");
    common::create_queue(&consumed, &[]).await;
    let greetings = common::unique("greetings");
    let url = common::create_queue(&greetings, &[]).await;
    let calls = Calls::default();
    let config = common::config(&calls)
        .queue(&consumed)
        .route("greetings", &greetings);
    let handle = Server::new(Greeter, config).start().await.expect("start");
    let messages = common::receive(&url, 1).await;
    handle.shutdown().await.expect("clean shutdown");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body(), Some("hello"));
    assert_eq!(calls.get("SendMessageBatch"), 1);
}
