//! Driving the lifespan protocol on behalf of a server.
//!
//! The lifespan call lasts as long as the server: the server sends `lifespan.startup` before its
//! first batch and `lifespan.shutdown` after its last, and waits for the application's answer to
//! each. [`Lifespan::startup`] and [`Lifespan::shutdown`] do that, with a deadline for each.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::batch::panic_message;
use crate::{
    Application, ApplicationError, ApplicationErrorKind, EventFuture, LifespanError, LifespanScope,
    ReceiveError, ReceiveErrorKind, ReceiveEvent, Receiver, Scope, SendError, SendErrorKind,
    SendEvent, Sender, StateMap,
};

/// Deadlines for the application's answers.
///
/// ```
/// use std::time::Duration;
/// let options = amgi_core::lifespan::LifespanOptions::default()
///     .startup_timeout(Duration::from_secs(5));
/// assert_eq!(options.shutdown, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct LifespanOptions {
    /// How long to wait for `lifespan.startup.complete` (default 30 s).
    pub startup: Duration,
    /// How long to wait for `lifespan.shutdown.complete` (default 30 s).
    pub shutdown: Duration,
}

impl Default for LifespanOptions {
    fn default() -> Self {
        Self {
            startup: Duration::from_secs(30),
            shutdown: Duration::from_secs(30),
        }
    }
}

impl LifespanOptions {
    /// Sets the startup deadline.
    #[must_use]
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup = timeout;
        self
    }

    /// Sets the shutdown deadline.
    #[must_use]
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown = timeout;
        self
    }
}

struct LifespanReceiver {
    events: mpsc::Receiver<ReceiveEvent>,
}

impl Receiver for LifespanReceiver {
    fn receive(&mut self) -> EventFuture<'_, Result<ReceiveEvent, ReceiveError>> {
        EventFuture::boxed(async {
            self.events
                .recv()
                .await
                .ok_or(ReceiveError::new(ReceiveErrorKind::Closed))
        })
    }
}

struct LifespanSender {
    replies: mpsc::UnboundedSender<SendEvent>,
}

impl Sender for LifespanSender {
    fn send(&self, event: SendEvent) -> EventFuture<'_, Result<(), SendError>> {
        let result = match event {
            SendEvent::LifespanStartupComplete
            | SendEvent::LifespanStartupFailed { .. }
            | SendEvent::LifespanShutdownComplete
            | SendEvent::LifespanShutdownFailed { .. } => self
                .replies
                .send(event)
                .map_err(|_| SendError::new(SendErrorKind::Closed)),
            other => Err(SendError::new(SendErrorKind::UnexpectedEvent)
                .with_detail(format!("`{}` in the lifespan scope", other.kind()))),
        };
        EventFuture::ready(result)
    }
}

type CallResult = Result<Result<(), ApplicationError>, String>;

/// A running lifespan call. Dropping it without [`Lifespan::shutdown`] aborts the call.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use amgi_core::lifespan::{Lifespan, LifespanOptions};
/// use amgi_core::{Application, ApplicationError, ReceiveEvent, Receiver, Scope, SendEvent,
///     SharedSender, StateMap};
///
/// struct App;
/// impl Application for App {
///     async fn call(&self, scope: Scope, receive: &mut dyn Receiver, send: SharedSender)
///         -> Result<(), ApplicationError> {
///         let Scope::Lifespan(scope) = scope else { return Ok(()) };
///         loop {
///             match receive.receive().await? {
///                 ReceiveEvent::LifespanStartup => {
///                     scope.state.insert(42_u32);
///                     send.send(SendEvent::LifespanStartupComplete).await?;
///                 }
///                 ReceiveEvent::LifespanShutdown => {
///                     send.send(SendEvent::LifespanShutdownComplete).await?;
///                     return Ok(());
///                 }
///                 _ => {}
///             }
///         }
///     }
/// }
///
/// let state = StateMap::new();
/// let lifespan = Lifespan::startup(Arc::new(App), state.clone(), LifespanOptions::default())
///     .await
///     .unwrap();
/// assert_eq!(*state.get::<u32>().unwrap(), 42);
/// lifespan.shutdown().await.unwrap();
/// # });
/// ```
#[derive(Debug)]
pub struct Lifespan {
    running: Option<Running>,
    options: LifespanOptions,
}

#[derive(Debug)]
struct Running {
    events: mpsc::Sender<ReceiveEvent>,
    replies: mpsc::UnboundedReceiver<SendEvent>,
    task: JoinHandle<CallResult>,
}

enum Answer {
    Reply(SendEvent),
    Returned(CallResult),
}

impl Running {
    async fn next_answer(&mut self) -> Answer {
        tokio::select! {
            biased;
            Some(reply) = self.replies.recv() => Answer::Reply(reply),
            joined = &mut self.task => Answer::Returned(
                joined.unwrap_or_else(|e| Err(format!("lifespan task ended: {e}"))),
            ),
        }
    }
}

impl Lifespan {
    /// Starts the lifespan call and waits for the application's startup answer.
    ///
    /// Returns `Ok` when the application completes startup, and also when it does not support the
    /// lifespan scope (it returns [`ApplicationError::unsupported_scope`] or returns `Ok` without
    /// answering): then shutdown is a no-op. Returns [`LifespanError::StartupFailed`] with the
    /// application's message when it sends `lifespan.startup.failed`, fails, or panics; the
    /// server must then stop without taking any batch.
    pub async fn startup<A: Application>(
        app: Arc<A>,
        state: StateMap,
        options: LifespanOptions,
    ) -> Result<Self, LifespanError> {
        Self::startup_scope(app, LifespanScope::new(state), options).await
    }

    /// [`Lifespan::startup`] with a scope of the server's making, for example one whose
    /// extensions carry the server's [`ServerPublisher`](crate::extension::ServerPublisher).
    pub async fn startup_scope<A: Application>(
        app: Arc<A>,
        scope: LifespanScope,
        options: LifespanOptions,
    ) -> Result<Self, LifespanError> {
        let (events_tx, events_rx) = mpsc::channel(2);
        let (replies_tx, replies_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut receiver = LifespanReceiver { events: events_rx };
            let sender: crate::SharedSender = Arc::new(LifespanSender {
                replies: replies_tx,
            });
            let call = app.call(Scope::Lifespan(scope), &mut receiver, sender);
            AssertUnwindSafe(call)
                .catch_unwind()
                .await
                .map_err(|panic| format!("application panicked: {}", panic_message(panic.as_ref())))
        });
        let mut running = Running {
            events: events_tx,
            replies: replies_rx,
            task,
        };
        // The call may already have returned (unsupported scope); a closed channel is fine.
        let _ = running.events.send(ReceiveEvent::LifespanStartup).await;
        let answer = tokio::time::timeout(options.startup, running.next_answer())
            .await
            .map_err(|_| {
                running.task.abort();
                LifespanError::Timeout {
                    event: "lifespan.startup",
                    seconds: options.startup.as_secs_f64(),
                }
            })?;
        match answer {
            Answer::Reply(SendEvent::LifespanStartupComplete) => Ok(Self {
                running: Some(running),
                options,
            }),
            Answer::Reply(SendEvent::LifespanStartupFailed { message }) => {
                running.task.abort();
                Err(LifespanError::StartupFailed { message })
            }
            Answer::Reply(other) => {
                running.task.abort();
                Err(LifespanError::Protocol(
                    format!("`{}` in answer to `lifespan.startup`", other.kind()).into(),
                ))
            }
            Answer::Returned(Ok(Ok(()))) => {
                tracing::debug!(
                    "application returned from lifespan without answering: unsupported"
                );
                Ok(Self::unsupported(options))
            }
            Answer::Returned(Ok(Err(error)))
                if error.kind() == ApplicationErrorKind::UnsupportedScope =>
            {
                tracing::debug!("application does not support the lifespan scope");
                Ok(Self::unsupported(options))
            }
            Answer::Returned(Ok(Err(error))) => Err(LifespanError::StartupFailed {
                message: error.to_string(),
            }),
            Answer::Returned(Err(message)) => Err(LifespanError::StartupFailed { message }),
        }
    }

    fn unsupported(options: LifespanOptions) -> Self {
        Self {
            running: None,
            options,
        }
    }

    /// Whether the application takes part in the lifespan protocol.
    pub fn is_supported(&self) -> bool {
        self.running.is_some()
    }

    /// Sends `lifespan.shutdown` and waits for the application's answer. Call it after the last
    /// batch has finished.
    pub async fn shutdown(mut self) -> Result<(), LifespanError> {
        let Some(mut running) = self.running.take() else {
            return Ok(());
        };
        let _ = running.events.send(ReceiveEvent::LifespanShutdown).await;
        let deadline = self.options.shutdown;
        let answer = tokio::time::timeout(deadline, running.next_answer())
            .await
            .map_err(|_| {
                running.task.abort();
                LifespanError::Timeout {
                    event: "lifespan.shutdown",
                    seconds: deadline.as_secs_f64(),
                }
            })?;
        let result = match answer {
            Answer::Reply(SendEvent::LifespanShutdownComplete) | Answer::Returned(Ok(Ok(()))) => {
                Ok(())
            }
            Answer::Reply(SendEvent::LifespanShutdownFailed { message }) => {
                Err(LifespanError::ShutdownFailed { message })
            }
            Answer::Reply(other) => Err(LifespanError::Protocol(
                format!("`{}` in answer to `lifespan.shutdown`", other.kind()).into(),
            )),
            Answer::Returned(Ok(Err(error))) => Err(LifespanError::ShutdownFailed {
                message: error.to_string(),
            }),
            Answer::Returned(Err(message)) => Err(LifespanError::ShutdownFailed { message }),
        };
        // Let the call finish on its own; it has nothing left to do.
        drop(running.events);
        result
    }
}

impl Drop for Lifespan {
    fn drop(&mut self) {
        if let Some(running) = &self.running {
            running.task.abort();
        }
    }
}

#[cfg(test)]
mod tests;
