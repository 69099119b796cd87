//! Stopping a server: the [`StopSignal`] its tasks wait on, the process signals that start a
//! graceful shutdown ([`shutdown_signal`]; a second Ctrl-C exits at once), and the
//! [`Deadlines`] that bound each step of it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// Default time batches in progress get to finish when a server stops.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Default time a server gets to close its connections after draining.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// The exit status of a process stopped by a second interrupt (128 + SIGINT, as shells report).
pub const FORCED_EXIT_CODE: i32 = 130;

/// A flag set once, that any number of tasks can check or wait on.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use amgi_server::StopSignal;
///
/// let stop = Arc::new(StopSignal::default());
/// let waiter = tokio::spawn({
///     let stop = Arc::clone(&stop);
///     async move { stop.wait().await }
/// });
/// stop.set();
/// waiter.await.unwrap();
/// assert!(stop.is_set());
/// # });
/// ```
#[derive(Debug, Default)]
pub struct StopSignal {
    set: AtomicBool,
    notify: Notify,
}

impl StopSignal {
    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        self.set.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Resolves once the flag is set.
    pub async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_set() {
                return;
            }
            notified.await;
        }
    }

    /// Runs `future` unless the flag is set first: `Some(output)` when it completes, `None`
    /// when the flag is (or already was) set, in which case `future` is dropped. For every wait
    /// of a server that shutdown must cut short: the next fetch, a redelivery delay, a permit.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// use std::time::Duration;
    /// use amgi_server::StopSignal;
    ///
    /// let stop = StopSignal::default();
    /// assert_eq!(stop.run_until_stopped(async { 7 }).await, Some(7));
    /// stop.set();
    /// let slept = stop.run_until_stopped(tokio::time::sleep(Duration::from_secs(3600))).await;
    /// assert_eq!(slept, None, "cut short: the flag is set");
    /// # });
    /// ```
    pub async fn run_until_stopped<F: Future>(&self, future: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            () = self.wait() => None,
            output = future => Some(output),
        }
    }
}

/// How long each step of a graceful shutdown may take.
///
/// ```
/// use std::time::Duration;
/// use amgi_server::Deadlines;
///
/// let deadlines = Deadlines::default().drain(Duration::from_secs(5));
/// assert_eq!(deadlines.drain, Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Deadlines {
    /// Batches in progress get this long to finish; what is unfinished then is abandoned (not
    /// acknowledged to the broker, so it is delivered again). Default [`DEFAULT_DRAIN_TIMEOUT`].
    pub drain: Duration,
    /// Closing connections (leaving a consumer group, flushing a producer) gets this long.
    /// Default [`DEFAULT_CLOSE_TIMEOUT`].
    pub close: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self {
            drain: DEFAULT_DRAIN_TIMEOUT,
            close: DEFAULT_CLOSE_TIMEOUT,
        }
    }
}

impl Deadlines {
    /// Sets the drain deadline.
    #[must_use]
    pub fn drain(mut self, timeout: Duration) -> Self {
        self.drain = timeout;
        self
    }

    /// Sets the close deadline.
    #[must_use]
    pub fn close(mut self, timeout: Duration) -> Self {
        self.close = timeout;
        self
    }
}

/// Completes on the first SIGINT (Ctrl-C) or SIGTERM, which starts a graceful shutdown. From
/// then on a second SIGINT or SIGTERM exits the process at once with [`FORCED_EXIT_CODE`]
/// (logged at `warn`), for when the drain takes longer than the operator wants to wait.
///
/// The handlers are installed when this is called, not when the future is first polled: a
/// signal that arrives while the server is still starting is not lost and does not kill the
/// process. Call it inside a Tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    let mut signals = Signals::install();
    async move {
        signals.next().await;
        // The listeners stay installed, so a second signal is seen whenever it comes.
        tokio::spawn(async move {
            signals.next().await;
            tracing::warn!("second interrupt: exiting without finishing the shutdown");
            std::process::exit(FORCED_EXIT_CODE);
        });
    }
}

/// The process's SIGINT and SIGTERM listeners.
struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// The next signal (never, if no listener could be installed).
    async fn next(&mut self) {
        #[cfg(unix)]
        {
            async fn recv(signal: Option<&mut tokio::signal::unix::Signal>) {
                match signal {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = recv(self.interrupt.as_mut()) => tracing::info!("interrupted, shutting down"),
                () = recv(self.terminate.as_mut()) => tracing::info!("terminated, shutting down"),
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            tracing::info!("interrupted, shutting down");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn setting_the_flag_cuts_a_wait_short() {
        let stop = Arc::new(StopSignal::default());
        let started = tokio::time::Instant::now();
        let setter = tokio::spawn({
            let stop = Arc::clone(&stop);
            async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                stop.set();
            }
        });
        let waited = stop
            .run_until_stopped(tokio::time::sleep(Duration::from_mins(1)))
            .await;
        assert_eq!(waited, None);
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        setter.await.unwrap();
    }

    #[tokio::test]
    async fn a_set_flag_wins_over_a_ready_future() {
        let stop = StopSignal::default();
        stop.set();
        assert_eq!(stop.run_until_stopped(async { 1 }).await, None);
    }
}
