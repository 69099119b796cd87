//! A scripted application and helpers shared by the integration tests.
//!
//! Each test file uses part of this module; the rest would be reported as dead code.
#![allow(dead_code)]

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use amgi_core::{
    Application, ApplicationError, MessageReceive, MessageSend, ReceiveEvent, Receiver, Scope,
    SendErrorKind, SendEvent, SharedSender, StateMap,
};
use amgi_memory::{Broker, Server, ServerHandle};
use tokio::sync::{Semaphore, mpsc};

/// How long any one wait in a test may take.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the test if it takes longer than [`WAIT`].
pub(crate) async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Starts `server`, failing the test if it does not start in time or fails to start.
pub(crate) async fn start_server<A: Application>(server: Server<A>) -> ServerHandle {
    within("start", server.start()).await.unwrap()
}

/// Shuts `server` down, failing the test if it does not stop in time or fails to stop.
pub(crate) async fn stop_server(server: ServerHandle) {
    within("shutdown", server.shutdown()).await.unwrap();
}

/// Publishes one message with each of `payloads` to `address`, without waiting for room.
pub(crate) fn publish_payloads<P: ToString>(
    broker: &Broker,
    address: &str,
    payloads: impl IntoIterator<Item = P>,
) {
    for payload in payloads {
        broker
            .try_publish(MessageSend::new(address).payload(payload.to_string()))
            .unwrap();
    }
}

/// Polls `future` once and reports whether it completed.
pub(crate) async fn poll_once<F: Future + ?Sized>(mut future: Pin<&mut F>) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await
}

/// What the scripted application does with one message.
#[derive(Debug, Clone)]
pub(crate) enum Verdict {
    Ack,
    Nack(&'static str),
    /// Neither ack nor nack.
    Ignore,
    /// `message.send` the given message, then ack.
    Forward(MessageSend),
    /// `message.send` the given message, then ack, or nack with the error if the send failed.
    ForwardOrNack(MessageSend),
}

/// A batch as the application saw it, reported once every message of it was received and before
/// any was answered.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) address: String,
    pub(crate) ordered: bool,
    pub(crate) state: StateMap,
    pub(crate) messages: Vec<MessageReceive>,
}

impl Batch {
    pub(crate) fn payloads(&self) -> Vec<String> {
        self.messages
            .iter()
            .map(|m| String::from_utf8_lossy(m.payload.as_deref().unwrap_or_default()).into_owned())
            .collect()
    }
}

/// What the application reports, in the order it happened.
#[derive(Debug)]
pub(crate) enum Event {
    Startup,
    Batch(Batch),
    /// A `message.send` failed with this kind.
    SendFailed(SendErrorKind),
    Shutdown,
}

type Decide = dyn Fn(&MessageReceive) -> Verdict + Send + Sync;
type OnStartup = dyn Fn(&StateMap) + Send + Sync;

/// An application that answers each message as `decide` says and reports what it sees.
pub(crate) struct Scripted {
    decide: Box<Decide>,
    events: mpsc::UnboundedSender<Event>,
    gate: Option<Arc<Semaphore>>,
    fail_startup: Option<&'static str>,
    on_startup: Option<Box<OnStartup>>,
}

/// The receiving end of a [`Scripted`] application's reports.
pub(crate) struct Events {
    events: mpsc::UnboundedReceiver<Event>,
}

impl Scripted {
    pub(crate) fn new(
        decide: impl Fn(&MessageReceive) -> Verdict + Send + Sync + 'static,
    ) -> (Self, Events) {
        let (events, rx) = mpsc::unbounded_channel();
        (
            Self {
                decide: Box::new(decide),
                events,
                gate: None,
                fail_startup: None,
                on_startup: None,
            },
            Events { events: rx },
        )
    }

    /// Acks everything.
    pub(crate) fn acking() -> (Self, Events) {
        Self::new(|_| Verdict::Ack)
    }

    /// Acks everything, each batch first taking a permit of the returned gate, which starts
    /// with none.
    pub(crate) fn gated() -> (Self, Events, Arc<Semaphore>) {
        let gate = Arc::new(Semaphore::new(0));
        let (app, events) = Self::acking();
        (app.gate(Arc::clone(&gate)), events, gate)
    }

    /// Nacks everything with `reason`.
    pub(crate) fn nacking(reason: &'static str) -> (Self, Events) {
        Self::new(move |_| Verdict::Nack(reason))
    }

    /// Nacks the messages whose payload is `payload` with `reason`, acks the others.
    pub(crate) fn nacking_payload(payload: &'static [u8], reason: &'static str) -> (Self, Events) {
        Self::new(move |message| {
            if message.payload.as_deref() == Some(payload) {
                Verdict::Nack(reason)
            } else {
                Verdict::Ack
            }
        })
    }

    /// Every batch takes one permit of `gate` after reporting itself and before answering.
    pub(crate) fn gate(mut self, gate: Arc<Semaphore>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// Lifespan startup fails with `message`.
    pub(crate) fn fail_startup(mut self, message: &'static str) -> Self {
        self.fail_startup = Some(message);
        self
    }

    /// Runs `f` on the state during lifespan startup.
    pub(crate) fn on_startup(mut self, f: impl Fn(&StateMap) + Send + Sync + 'static) -> Self {
        self.on_startup = Some(Box::new(f));
        self
    }

    fn report(&self, event: Event) {
        let _ = self.events.send(event);
    }
}

impl Application for Scripted {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        match scope {
            Scope::Lifespan(scope) => loop {
                match receive.receive().await? {
                    ReceiveEvent::LifespanStartup => {
                        self.report(Event::Startup);
                        if let Some(message) = self.fail_startup {
                            send.send(SendEvent::LifespanStartupFailed {
                                message: message.to_owned(),
                            })
                            .await?;
                            return Ok(());
                        }
                        if let Some(f) = &self.on_startup {
                            f(&scope.state);
                        }
                        send.send(SendEvent::LifespanStartupComplete).await?;
                    }
                    ReceiveEvent::LifespanShutdown => {
                        self.report(Event::Shutdown);
                        send.send(SendEvent::LifespanShutdownComplete).await?;
                        return Ok(());
                    }
                    _ => {}
                }
            },
            Scope::Message(scope) => {
                let mut messages = Vec::new();
                loop {
                    let ReceiveEvent::Message(message) = receive.receive().await? else {
                        continue;
                    };
                    let more = message.more_messages;
                    messages.push(message);
                    if !more {
                        break;
                    }
                }
                self.report(Event::Batch(Batch {
                    address: scope.address.to_string(),
                    ordered: scope.ordered,
                    state: scope.state.clone(),
                    messages: messages.clone(),
                }));
                if let Some(gate) = &self.gate {
                    gate.acquire().await.expect("gate closed").forget();
                }
                for message in &messages {
                    match (self.decide)(message) {
                        Verdict::Ack => send.send(SendEvent::ack(message.id)).await?,
                        Verdict::Nack(reason) => {
                            send.send(SendEvent::nack(message.id, reason)).await?;
                        }
                        Verdict::Ignore => {}
                        Verdict::Forward(out) => {
                            if let Err(error) = send.send(out.into()).await {
                                self.report(Event::SendFailed(error.kind()));
                            }
                            send.send(SendEvent::ack(message.id)).await?;
                        }
                        Verdict::ForwardOrNack(out) => match send.send(out.into()).await {
                            Ok(()) => send.send(SendEvent::ack(message.id)).await?,
                            Err(error) => {
                                self.report(Event::SendFailed(error.kind()));
                                send.send(SendEvent::nack(message.id, error.to_string()))
                                    .await?;
                            }
                        },
                    }
                }
                Ok(())
            }
            other => Err(ApplicationError::unsupported_scope(other.kind())),
        }
    }
}

impl Events {
    /// The next event.
    pub(crate) async fn next(&mut self) -> Event {
        within("an application event", self.events.recv())
            .await
            .expect("the application is gone")
    }

    /// The next event, which must be a batch.
    pub(crate) async fn batch(&mut self) -> Batch {
        match self.next().await {
            Event::Batch(batch) => batch,
            other => panic!("expected a batch, got {other:?}"),
        }
    }

    /// The next event, which must be lifespan startup.
    pub(crate) async fn startup(&mut self) {
        match self.next().await {
            Event::Startup => {}
            other => panic!("expected lifespan startup, got {other:?}"),
        }
    }

    /// Starts `server` running this application, then expects lifespan startup as the next
    /// event.
    pub(crate) async fn start<A: Application>(&mut self, server: Server<A>) -> ServerHandle {
        let handle = start_server(server).await;
        self.startup().await;
        handle
    }

    /// An event already reported, if any.
    pub(crate) fn try_next(&mut self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// Waits for the next event; `None` when nothing happens before the runtime is idle. Meant for
    /// tests on a paused clock (`start_paused = true`), where the timeout only fires once every
    /// task is waiting.
    pub(crate) async fn next_if_any(&mut self) -> Option<Event> {
        tokio::time::timeout(Duration::from_secs(1), self.events.recv())
            .await
            .ok()
            .flatten()
    }
}
