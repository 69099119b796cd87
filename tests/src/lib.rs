//! End-to-end tests of AsyncFast applications running on the real embedded server
//! (`amgi_memory::Server`), not `TestClient`: redelivery and dead letters, undecodable payloads,
//! messages sent from one channel to another, graceful shutdown. The tests are in `tests/`, named
//! `<area>_<topic>.rs`; this library holds what they share.
//!
//! Every wait is bounded ([`within`]); nothing sleeps to synchronise: handlers report what they
//! do through [`Events`], and the tests wait for those reports.

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;

/// How long any single wait of a test may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// Awaits `future` for at most [`WAIT`].
///
/// # Panics
///
/// When `future` takes longer; the message names `what` was awaited.
pub async fn within<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(WAIT, future).await {
        Ok(output) => output,
        Err(elapsed) => panic!("{what}: not within {WAIT:?} ({elapsed})"),
    }
}

/// What handlers report, in order: register it as state (`AsyncFast::state`) and take it as
/// `State<Events>`.
#[derive(Debug, Clone)]
pub struct Events(mpsc::UnboundedSender<String>);

impl Events {
    /// A reporter and the log that receives its reports.
    pub fn channel() -> (Self, EventLog) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Self(sender), EventLog(receiver))
    }

    /// Reports `event`.
    pub fn report(&self, event: impl Into<String>) {
        // The test may have finished listening; reports are then of no interest.
        let _ = self.0.send(event.into());
    }
}

/// The receiving end of [`Events`].
#[derive(Debug)]
pub struct EventLog(mpsc::UnboundedReceiver<String>);

impl EventLog {
    /// The next event, waiting at most [`WAIT`].
    ///
    /// # Panics
    ///
    /// When no event comes in time, or every reporter is gone.
    pub async fn next(&mut self) -> String {
        within("the next event", self.0.recv())
            .await
            .expect("a reporter is alive")
    }

    /// Whether an event comes within `period` (a bounded check that something does *not*
    /// happen); returns it if so.
    pub async fn next_within(&mut self, period: Duration) -> Option<String> {
        tokio::time::timeout(period, self.0.recv())
            .await
            .ok()
            .flatten()
    }
}
