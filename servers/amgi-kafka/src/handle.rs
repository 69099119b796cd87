//! [`ServerHandle`]: a running server, and how it stops.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use amgi_core::lifespan::Lifespan;
use rdkafka::producer::Producer as _;
use tokio::sync::oneshot;

use crate::client::drop_detached;
use crate::consumer::Control;
use crate::group::GroupShared;
use crate::partition::Counters;
use crate::publisher::Producer;
use crate::{Error, ErrorKind};

/// Counters of a running server, from [`ServerHandle::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Messages produced to their dead-letter topic.
    pub dead_lettered: u64,
    /// Messages whose dead letter failed permanently (the broker or librdkafka refused the
    /// record for what it is, for example `MessageSizeTooLarge`): each was logged at `error`
    /// with the reason and skipped, its offset committed without a dead letter. See
    /// [dead letters that cannot be produced](crate#dead-letters-that-cannot-be-produced).
    pub dead_letter_failures: u64,
}

/// A running [`Server`](crate::Server).
///
/// [`shutdown`](Self::shutdown) stops it gracefully. Dropping the handle instead stops it
/// abruptly: batches in progress are aborted, offsets of finished messages are still
/// committed and the consumer still leaves its group, in the background; the lifespan shutdown
/// is not run, and nothing blocks the dropping thread.
#[must_use = "dropping the handle stops the server abruptly"]
pub struct ServerHandle {
    pub(crate) control: Arc<Control>,
    pub(crate) group: Arc<GroupShared>,
    /// The consumer thread stopped consuming, drained and committed.
    pub(crate) drained: Option<oneshot::Receiver<Result<(), Error>>>,
    /// The consumer thread closed the consumer.
    pub(crate) closed: Option<oneshot::Receiver<()>>,
    pub(crate) outcome: Option<Result<(), Error>>,
    pub(crate) lifespan: Option<Lifespan>,
    pub(crate) producer: Option<Producer>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) drain_limit: Duration,
    pub(crate) close_timeout: Duration,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("assignment", &self.assignment())
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// The partitions this server consumes now, as `(topic, partition)`, sorted. It changes with
    /// every rebalance of the group.
    ///
    /// ```no_run
    /// # async fn demo(handle: amgi_kafka::ServerHandle) {
    /// for (topic, partition) in handle.assignment() {
    ///     println!("{topic}[{partition}]");
    /// }
    /// # }
    /// ```
    pub fn assignment(&self) -> Vec<(String, i32)> {
        self.group.assignment()
    }

    /// What the server counted since it started.
    ///
    /// ```no_run
    /// # fn demo(handle: &amgi_kafka::ServerHandle) {
    /// let stats = handle.stats();
    /// if stats.dead_letter_failures > 0 {
    ///     eprintln!("{} messages skipped: their dead letters were refused", stats.dead_letter_failures);
    /// }
    /// # }
    /// ```
    pub fn stats(&self) -> ServerStats {
        ServerStats {
            dead_lettered: self.counters.dead_lettered.load(Ordering::Relaxed),
            dead_letter_failures: self.counters.dead_letter_failures.load(Ordering::Relaxed),
        }
    }

    /// Resolves when the server stopped on its own (a fatal consumer error); never otherwise.
    /// [`shutdown`](Self::shutdown) then returns the error.
    ///
    /// ```no_run
    /// # async fn demo(mut handle: amgi_kafka::ServerHandle) {
    /// handle.stopped().await;
    /// let error = handle.shutdown().await.unwrap_err();
    /// eprintln!("the server failed: {error}");
    /// # }
    /// ```
    pub async fn stopped(&mut self) {
        if self.outcome.is_some() {
            return;
        }
        let Some(drained) = self.drained.as_mut() else {
            return std::future::pending().await;
        };
        let outcome = drained.await.unwrap_or_else(|_| {
            Err(Error::new(
                ErrorKind::Consumer,
                "the consumer thread ended without a report",
            ))
        });
        self.drained = None;
        self.outcome = Some(outcome);
    }

    /// Stops gracefully: stops fetching, lets the batches in progress finish (up to the drain
    /// timeout), commits the offsets of finished messages, closes the consumer (leaving the
    /// group, up to the close timeout), runs the application's lifespan shutdown, and flushes
    /// the producer. Every step is bounded; it never hangs.
    ///
    /// Returns the consumer's error if it had stopped on its own, or the lifespan shutdown's.
    /// A consumer that does not close in time is only logged: its offsets are committed, it
    /// goes on closing in the background, and its group membership expires at worst.
    ///
    /// ```no_run
    /// # async fn demo(handle: amgi_kafka::ServerHandle) -> Result<(), amgi_kafka::Error> {
    /// handle.shutdown().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn shutdown(mut self) -> Result<(), Error> {
        let consumed = self.stop_consumer().await;
        let lifespan = match self.lifespan.take() {
            Some(lifespan) => lifespan
                .shutdown()
                .await
                .map_err(|e| Error::lifespan(ErrorKind::Shutdown, e)),
            None => Ok(()),
        };
        self.flush_producer().await;
        consumed.and(lifespan)
    }

    /// Stops the consumer thread and waits, with deadlines, until it drained and closed.
    async fn stop_consumer(&mut self) -> Result<(), Error> {
        self.control.stop.store(true, Ordering::Release);
        let consumed = match (self.outcome.take(), self.drained.take()) {
            (Some(outcome), _) => outcome,
            (None, Some(drained)) => match tokio::time::timeout(self.drain_limit, drained).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(_)) => Err(Error::new(
                    ErrorKind::Consumer,
                    "the consumer thread ended without a report",
                )),
                Err(_) => Err(Error::new(
                    ErrorKind::Shutdown,
                    format!(
                        "the consumer did not stop within {:.1} s",
                        self.drain_limit.as_secs_f64()
                    ),
                )),
            },
            (None, None) => Ok(()),
        };
        if let Some(closed) = self.closed.take()
            && tokio::time::timeout(self.close_timeout, closed)
                .await
                .is_err()
        {
            tracing::warn!(
                timeout_s = self.close_timeout.as_secs_f64(),
                "the consumer did not close in time; it goes on closing in the background"
            );
        }
        consumed
    }

    async fn flush_producer(&mut self) {
        let Some(producer) = self.producer.take() else {
            return;
        };
        let timeout = self.close_timeout;
        let flushed = tokio::task::spawn_blocking(move || {
            let result = producer.flush(timeout);
            drop_detached(producer);
            result
        })
        .await;
        if let Ok(Err(error)) = flushed {
            tracing::warn!(%error, "producer flush incomplete at shutdown");
        }
    }

    /// Stops a server whose start failed after lifespan startup, and returns `error`.
    pub(crate) async fn fail_start(mut self, error: Error) -> Error {
        if let Err(stop_error) = self.stop_consumer().await {
            tracing::debug!(%stop_error, "while stopping a server that failed to start");
        }
        if let Some(lifespan) = self.lifespan.take()
            && let Err(stop_error) = lifespan.shutdown().await
        {
            tracing::warn!(%stop_error, "lifespan shutdown after a failed start");
        }
        self.flush_producer().await;
        error
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if self.drained.is_some() {
            tracing::warn!("server handle dropped without shutdown: stopping abruptly");
            self.control.abort.store(true, Ordering::Release);
        }
        self.control.stop.store(true, Ordering::Release);
        if let Some(producer) = self.producer.take() {
            drop_detached(producer);
        }
    }
}
