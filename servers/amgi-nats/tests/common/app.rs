//! A test application: records every message it receives and does what its rule says.

use std::sync::Arc;

use amgi_core::{
    Application, ApplicationError, MessageReceive, MessageSend, ReceiveEvent, Receiver, Scope,
    SendEvent, SharedSender,
};
use tokio::sync::mpsc;

/// What the application does with one message.
pub enum Action {
    /// Ack it.
    Ack,
    /// Nack it with this reason.
    Nack(&'static str),
    /// Never answer, and never return (the batch hangs until the server gives up on it).
    Hang,
    /// Send this message, then ack.
    SendThenAck(MessageSend),
    /// Wait this long (a slow handler), then ack.
    DelayThenAck(std::time::Duration),
}

/// A message as the application received it, with its address.
pub type Received = (String, MessageReceive);

/// The rule: the action for a message of an address.
pub type Rule = Arc<dyn Fn(&str, &MessageReceive) -> Action + Send + Sync>;

/// Records what it receives into a channel and follows its rule.
pub struct TestApp {
    pub received: mpsc::UnboundedSender<Received>,
    pub rule: Rule,
}

impl TestApp {
    /// The application and the receiving end of what it records.
    pub fn new(
        rule: impl Fn(&str, &MessageReceive) -> Action + Send + Sync + 'static,
    ) -> (Self, mpsc::UnboundedReceiver<Received>) {
        let (received, rx) = mpsc::unbounded_channel();
        let rule = Arc::new(rule);
        (Self { received, rule }, rx)
    }
}

impl Application for TestApp {
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
                        send.send(SendEvent::LifespanStartupComplete).await?;
                    }
                    ReceiveEvent::LifespanShutdown => {
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
            let _ = self
                .received
                .send((scope.address.to_string(), message.clone()));
            match (self.rule)(&scope.address, &message) {
                Action::Ack => send.send(SendEvent::ack(message.id)).await?,
                Action::Nack(reason) => {
                    send.send(SendEvent::nack(message.id, reason)).await?;
                    return Ok(()); // an ordered batch stops at a nack
                }
                Action::Hang => std::future::pending::<()>().await,
                Action::DelayThenAck(delay) => {
                    tokio::time::sleep(delay).await;
                    send.send(SendEvent::ack(message.id)).await?;
                }
                Action::SendThenAck(out) => {
                    send.send(SendEvent::Send(out)).await?;
                    send.send(SendEvent::ack(message.id)).await?;
                }
            }
            if !message.more_messages {
                return Ok(());
            }
        }
    }
}
