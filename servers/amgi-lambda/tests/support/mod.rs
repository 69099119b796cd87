//! A recording application for the tests: acks every message except those whose payload
//! starts with `nack`, stops an ordered batch at its first nack, and records what it saw.

#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};

use amgi_core::{
    Application, ApplicationError, Binding, Headers, ReceiveEvent, Receiver, Scope, SendEvent,
    SharedSender,
};

/// One message the application saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub address: String,
    pub payload: String,
    pub headers: Headers,
    pub binding: Option<Binding>,
}

/// The recording application.
#[derive(Clone, Default)]
pub struct Recorder {
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// `startup`, `message`, `shutdown`, in order.
    pub events: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    pub fn payloads(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.payload.clone())
            .collect()
    }
}

impl Application for Recorder {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        let scope = match scope {
            Scope::Message(scope) => scope,
            Scope::Lifespan(_) => loop {
                match receive.receive().await? {
                    ReceiveEvent::LifespanStartup => {
                        self.events.lock().unwrap().push("startup".into());
                        send.send(SendEvent::LifespanStartupComplete).await?;
                    }
                    ReceiveEvent::LifespanShutdown => {
                        self.events.lock().unwrap().push("shutdown".into());
                        send.send(SendEvent::LifespanShutdownComplete).await?;
                        return Ok(());
                    }
                    _ => {}
                }
            },
            other => return Err(ApplicationError::unsupported_scope(other.kind())),
        };
        loop {
            let ReceiveEvent::Message(message) = receive.receive().await? else {
                continue;
            };
            let payload =
                String::from_utf8_lossy(&message.payload.clone().unwrap_or_default()).into_owned();
            self.events.lock().unwrap().push("message".into());
            self.seen.lock().unwrap().push(Seen {
                address: scope.address.to_string(),
                payload: payload.clone(),
                headers: message.headers.clone(),
                binding: message.binding.clone(),
            });
            if payload.starts_with("nack") {
                send.send(SendEvent::nack(message.id, format!("refused {payload}")))
                    .await?;
                if scope.ordered {
                    return Ok(());
                }
            } else {
                send.send(SendEvent::ack(message.id)).await?;
            }
            if !message.more_messages {
                return Ok(());
            }
        }
    }
}

/// The item identifiers of a partial batch response.
pub fn failures(response: &serde_json::Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .expect("a partial batch response")
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}
