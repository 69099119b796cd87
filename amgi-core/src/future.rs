//! [`EventFuture`]: a future that is either already complete or boxed.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The future returned by [`Receiver::receive`](crate::Receiver::receive) and
/// [`Sender::send`](crate::Sender::send).
///
/// Most events complete at once (an ack is recorded, the next message of a fetched batch is
/// handed over): those are [`EventFuture::ready`] and cost no allocation. Events that wait on
/// I/O (publishing to a broker) are [`EventFuture::boxed`]. This keeps the traits usable as
/// `dyn` objects without boxing a future per event.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use amgi_core::EventFuture;
///
/// assert_eq!(EventFuture::ready(1).await, 1);
/// assert_eq!(EventFuture::boxed(async { 2 }).await, 2);
/// # });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct EventFuture<'a, T> {
    inner: Inner<'a, T>,
}

enum Inner<'a, T> {
    Ready(Option<T>),
    Boxed(Pin<Box<dyn Future<Output = T> + Send + 'a>>),
}

impl<'a, T> EventFuture<'a, T> {
    /// A future that completes at once with `value`.
    pub fn ready(value: T) -> Self {
        Self {
            inner: Inner::Ready(Some(value)),
        }
    }

    /// A future that runs `future`.
    pub fn boxed(future: impl Future<Output = T> + Send + 'a) -> Self {
        Self {
            inner: Inner::Boxed(Box::pin(future)),
        }
    }

    /// Whether the future completes without waiting.
    pub fn is_ready(&self) -> bool {
        matches!(self.inner, Inner::Ready(_))
    }
}

impl<T> Unpin for EventFuture<'_, T> {}

impl<T> Future for EventFuture<'_, T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match &mut self.get_mut().inner {
            Inner::Ready(value) => {
                Poll::Ready(value.take().expect("EventFuture polled after it completed"))
            }
            Inner::Boxed(future) => future.as_mut().poll(cx),
        }
    }
}

impl<T> fmt::Debug for EventFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventFuture")
            .field("ready", &self.is_ready())
            .finish()
    }
}
