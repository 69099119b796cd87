//! What the test client records while the application handles a batch.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use amgi_core::batch::Publisher;
use amgi_core::{
    Application, ApplicationError, EventFuture, MessageSend, Receiver, Scope, SendError,
    SendErrorKind, SendEvent, Sender, SharedSender,
};

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sends and protocol violations of one dispatch.
#[derive(Default)]
pub(crate) struct Record {
    sent: Mutex<Vec<MessageSend>>,
    violations: Mutex<Vec<String>>,
}

impl Record {
    pub(crate) fn take_sent(&self) -> Vec<MessageSend> {
        std::mem::take(&mut *lock(&self.sent))
    }

    pub(crate) fn take_violations(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.violations))
    }
}

tokio::task_local! {
    /// The record of the dispatch being polled.
    pub(crate) static RECORD: Arc<Record>;
}

/// A publisher that records messages (or fails for chosen addresses).
#[derive(Default)]
pub(crate) struct RecordingPublisher {
    failing: Mutex<HashSet<String>>,
    stray: Mutex<Vec<MessageSend>>,
}

impl RecordingPublisher {
    pub(crate) fn fail(&self, address: String) {
        lock(&self.failing).insert(address);
    }

    pub(crate) fn take_stray(&self) -> Vec<MessageSend> {
        std::mem::take(&mut *lock(&self.stray))
    }
}

impl Publisher for RecordingPublisher {
    fn publish(&self, message: MessageSend) -> EventFuture<'_, Result<(), SendError>> {
        if lock(&self.failing).contains(&*message.address) {
            let error = SendError::transport(std::io::Error::other("the test broker refused it"))
                .with_detail(format!("to `{}`", message.address));
            return EventFuture::ready(Err(error));
        }
        if let Err(unrecorded) = RECORD.try_with(|record| lock(&record.sent).push(message.clone()))
        {
            let _ = unrecorded;
            lock(&self.stray).push(message);
        }
        EventFuture::ready(Ok(()))
    }
}

/// Wraps the application's sender to record protocol violations.
struct CheckingSender {
    inner: SharedSender,
}

fn is_violation(kind: SendErrorKind) -> bool {
    !matches!(kind, SendErrorKind::Transport | SendErrorKind::Closed)
}

impl Sender for CheckingSender {
    fn send(&self, event: SendEvent) -> EventFuture<'_, Result<(), SendError>> {
        let kind = event.kind();
        EventFuture::boxed(async move {
            let result = self.inner.send(event).await;
            if let Err(error) = &result
                && is_violation(error.kind())
            {
                let _ = RECORD.try_with(|record| {
                    lock(&record.violations).push(format!("`{kind}` refused: {error}"));
                });
            }
            result
        })
    }
}

/// The application under test, with its sends checked.
pub(crate) struct Checked<A>(pub(crate) A);

impl<A: Application> Application for Checked<A> {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        let send: SharedSender = match scope {
            Scope::Message(_) => Arc::new(CheckingSender { inner: send }),
            _ => send,
        };
        self.0.call(scope, receive, send).await
    }
}
