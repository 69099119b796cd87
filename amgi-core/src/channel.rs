//! The two callables of the interface: [`Receiver`] (`receive`) and [`Sender`] (`send`).

use std::sync::Arc;

use crate::{EventFuture, ReceiveError, ReceiveEvent, SendError, SendEvent};

/// The application's `receive` callable: where the server hands over events.
///
/// In a message scope it yields one [`ReceiveEvent::Message`] per message of the batch, the last
/// with `more_messages == false`, then [`ReceiveErrorKind::BatchExhausted`](crate::ReceiveErrorKind).
pub trait Receiver: Send {
    /// The next event.
    fn receive(&mut self) -> EventFuture<'_, Result<ReceiveEvent, ReceiveError>>;
}

/// The application's `send` callable: where the application acks, nacks and publishes.
///
/// A sender is shared (`Arc<dyn Sender>`) so that an application may handle the messages of a
/// batch concurrently and keep publishing from tasks it spawns. A server answers an invalid event
/// (an unknown id, a second ack, an ack after a nack) with a [`SendError`], never a panic.
pub trait Sender: Send + Sync {
    /// Delivers `event` to the server.
    fn send(&self, event: SendEvent) -> EventFuture<'_, Result<(), SendError>>;
}

/// A shared [`Sender`], as passed to [`Application::call`](crate::Application::call).
pub type SharedSender = Arc<dyn Sender>;

impl<R: Receiver + ?Sized> Receiver for &mut R {
    fn receive(&mut self) -> EventFuture<'_, Result<ReceiveEvent, ReceiveError>> {
        (**self).receive()
    }
}

impl<S: Sender + ?Sized> Sender for Arc<S> {
    fn send(&self, event: SendEvent) -> EventFuture<'_, Result<(), SendError>> {
        (**self).send(event)
    }
}
