//! The application the checks run on a server: it records what it sees and behaves as told.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, Semaphore};

use crate::{
    Application, ApplicationError, Binding, Headers, MessageSend, ReceiveEvent, Receiver, Scope,
    SendErrorKind, SendEvent, SharedSender,
};

/// What the probe does with a message.
#[derive(Debug, Clone)]
pub(crate) enum Behaviour {
    /// Ack, then ack again and record the second answer.
    AckTwice,
    /// Leave the first delivery of each payload unanswered, ack later ones.
    IgnoreFirst,
    /// Nack with this reason.
    Nack(&'static str),
    /// Publish `template` (with the message's address replaced) then ack.
    Forward(MessageSend),
    /// Record that the message arrived, wait for the gate, then ack.
    Gated,
    /// Ack.
    Ack,
}

/// One delivered message as the probe saw it.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) address: String,
    pub(crate) headers: Headers,
    pub(crate) payload: Option<Bytes>,
    pub(crate) binding: Option<Binding>,
}

#[derive(Debug, Default)]
pub(crate) struct Record {
    /// Events in order: `startup`, `message <address>`, `acked`, `shutdown`, …
    pub(crate) log: Vec<String>,
    pub(crate) deliveries: Vec<Delivery>,
    /// Errors the server returned for sends, by kind.
    pub(crate) send_errors: Vec<SendErrorKind>,
    /// Other send failures, as text.
    pub(crate) failures: Vec<String>,
}

pub(crate) struct Probe {
    /// Behaviour per address; addresses not listed are acked.
    behaviours: Vec<(String, Behaviour)>,
    fail_startup: Option<&'static str>,
    record: Mutex<Record>,
    changed: Notify,
    gate: Semaphore,
}

impl Probe {
    pub(crate) fn new(behaviours: Vec<(String, Behaviour)>) -> Arc<Self> {
        Arc::new(Self {
            behaviours,
            fail_startup: None,
            record: Mutex::new(Record::default()),
            changed: Notify::new(),
            gate: Semaphore::new(0),
        })
    }

    pub(crate) fn failing_startup(message: &'static str) -> Arc<Self> {
        Arc::new(Self {
            behaviours: Vec::new(),
            fail_startup: Some(message),
            record: Mutex::new(Record::default()),
            changed: Notify::new(),
            gate: Semaphore::new(0),
        })
    }

    pub(crate) fn record(&self) -> MutexGuard<'_, Record> {
        self.record
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn update(&self, f: impl FnOnce(&mut Record)) {
        f(&mut self.record());
        self.changed.notify_waiters();
    }

    /// Lets gated messages through.
    pub(crate) fn open_gate(&self) {
        self.gate.add_permits(Semaphore::MAX_PERMITS / 2);
    }

    /// Waits until `condition` holds on the record, or fails after `timeout` with `what`.
    pub(crate) async fn wait_for(
        &self,
        timeout: Duration,
        what: &str,
        condition: impl Fn(&Record) -> bool,
    ) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if condition(&self.record()) {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let record = self.record();
                return Err(format!(
                    "timed out after {:.1} s waiting for {what}; the application saw {} deliveries, log: {:?}",
                    timeout.as_secs_f64(),
                    record.deliveries.len(),
                    record.log
                ));
            }
        }
    }

    fn behaviour(&self, address: &str) -> Behaviour {
        self.behaviours
            .iter()
            .find(|(a, _)| a == address)
            .map_or(Behaviour::Ack, |(_, b)| b.clone())
    }

    async fn send(&self, send: &SharedSender, event: SendEvent) {
        let kind = event.kind();
        match send.send(event).await {
            Ok(()) => {
                if kind == "message.ack" {
                    self.update(|r| r.log.push("acked".into()));
                }
            }
            Err(error) => self.update(|r| {
                r.send_errors.push(error.kind());
                r.failures.push(format!("{kind}: {error}"));
            }),
        }
    }

    async fn lifespan(
        &self,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        loop {
            match receive.receive().await? {
                ReceiveEvent::LifespanStartup => {
                    if let Some(message) = self.fail_startup {
                        self.update(|r| r.log.push("startup failed".into()));
                        send.send(SendEvent::LifespanStartupFailed {
                            message: message.into(),
                        })
                        .await?;
                        return Ok(());
                    }
                    self.update(|r| r.log.push("startup".into()));
                    send.send(SendEvent::LifespanStartupComplete).await?;
                }
                ReceiveEvent::LifespanShutdown => {
                    self.update(|r| r.log.push("shutdown".into()));
                    send.send(SendEvent::LifespanShutdownComplete).await?;
                    return Ok(());
                }
                ReceiveEvent::Message(_) => {
                    return Err(ApplicationError::msg(
                        "message.receive in the lifespan scope",
                    ));
                }
            }
        }
    }
}

impl Application for Probe {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        let scope = match scope {
            Scope::Lifespan(_) => return self.lifespan(receive, send).await,
            Scope::Message(scope) => scope,
        };
        let address = scope.address.to_string();
        let behaviour = self.behaviour(&address);
        loop {
            let ReceiveEvent::Message(message) = receive.receive().await? else {
                return Err(ApplicationError::msg("lifespan event in a message scope"));
            };
            let id = message.id;
            let more = message.more_messages;
            let delivery = Delivery {
                address: address.clone(),
                headers: message.headers,
                payload: message.payload,
                binding: message.binding,
            };
            let payload = delivery.payload.clone();
            let earlier = self
                .record()
                .deliveries
                .iter()
                .filter(|d| d.address == address && d.payload == payload)
                .count();
            self.update(|r| {
                r.log.push(format!("message {address}"));
                r.deliveries.push(delivery);
            });
            match &behaviour {
                Behaviour::Ack => self.send(&send, SendEvent::ack(id)).await,
                Behaviour::AckTwice => {
                    self.send(&send, SendEvent::ack(id)).await;
                    self.send(&send, SendEvent::ack(id)).await;
                }
                Behaviour::IgnoreFirst => {
                    if earlier > 0 {
                        self.send(&send, SendEvent::ack(id)).await;
                    }
                }
                Behaviour::Nack(reason) => self.send(&send, SendEvent::nack(id, *reason)).await,
                Behaviour::Forward(template) => {
                    self.send(&send, SendEvent::Send(template.clone())).await;
                    self.send(&send, SendEvent::ack(id)).await;
                }
                Behaviour::Gated => {
                    self.update(|r| r.log.push("gated".into()));
                    let _permit = self.gate.acquire().await;
                    self.send(&send, SendEvent::ack(id)).await;
                }
            }
            if !more {
                return Ok(());
            }
        }
    }
}
