//! A raw AMGI application (no framework) on the embedded memory broker: the example of
//! `docs/amgi.md`.
//!
//! It publishes three `user.created` messages to itself, prints each one it handles, acks it,
//! and exits once all three are handled (graceful shutdown: lifespan shutdown runs after the last
//! batch).
//!
//! ```text
//! cargo run --example raw_application
//! ```

use std::sync::Arc;
use std::time::Duration;

use amgi_core::{
    Application, ApplicationError, MessageSend, ReceiveEvent, Receiver, Scope, SendEvent,
    SharedSender,
};
use amgi_memory::{Broker, Server};
use tokio::sync::Semaphore;

/// Prints and acks every message; counts them so `main` knows when all are handled.
struct PrintAndAck {
    handled: Arc<Semaphore>,
}

impl Application for PrintAndAck {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        match scope {
            Scope::Lifespan(_) => loop {
                match receive.receive().await? {
                    ReceiveEvent::LifespanStartup => {
                        println!("lifespan: startup");
                        send.send(SendEvent::LifespanStartupComplete).await?;
                    }
                    ReceiveEvent::LifespanShutdown => {
                        println!("lifespan: shutdown");
                        send.send(SendEvent::LifespanShutdownComplete).await?;
                        return Ok(());
                    }
                    _ => {}
                }
            },
            Scope::Message(scope) => loop {
                let ReceiveEvent::Message(message) = receive.receive().await? else {
                    continue;
                };
                let payload = message.payload.as_deref().unwrap_or_default();
                let correlation_id = message
                    .headers
                    .get(b"correlation-id")
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .unwrap_or_default();
                println!(
                    "{}: {} ({correlation_id})",
                    scope.address,
                    String::from_utf8_lossy(payload)
                );
                send.send(SendEvent::ack(message.id)).await?;
                self.handled.add_permits(1);
                if !message.more_messages {
                    return Ok(());
                }
            },
            other => Err(ApplicationError::unsupported_scope(other.kind())),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker = Broker::default();
    let handled = Arc::new(Semaphore::new(0));
    let app = PrintAndAck {
        handled: Arc::clone(&handled),
    };
    let server = Server::new(app, broker.clone())
        .address("user.created")
        .start()
        .await?;

    for (id, email) in [
        (1, "ada@example.com"),
        (2, "grace@example.com"),
        (3, "alan@example.com"),
    ] {
        let payload = format!(r#"{{"id":{id},"email":"{email}"}}"#);
        let headers = amgi_core::Headers::new().with("correlation-id", format!("c-{id}"));
        broker
            .publish(
                MessageSend::new("user.created")
                    .headers(headers)
                    .payload(payload),
            )
            .await?;
    }

    // Wait (at most 10 s) until the three messages are handled, then shut down gracefully.
    tokio::time::timeout(Duration::from_secs(10), handled.acquire_many(3))
        .await??
        .forget();
    server.shutdown().await?;
    Ok(())
}
