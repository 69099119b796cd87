//! # amgi-core
//!
//! AMGI, the *Asynchronous Messaging Gateway Interface*, in Rust: the contract between message
//! broker **servers** (Kafka, MQTT, SQS, …) and **applications** (such as those built with
//! AsyncFast). It is the messaging counterpart of ASGI.
//!
//! A server calls [`Application::call`] once per batch of messages with a [`Scope`], a
//! [`Receiver`] that yields `message.receive` events and a [`Sender`] that takes `message.ack`,
//! `message.nack` and `message.send` events. A lifespan call, driven by [`lifespan::Lifespan`],
//! brackets the server's life. [`batch::BatchDispatcher`] is the part of every server that runs a
//! batch and checks the application's answers.
//!
//! A raw application that acks every message:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use amgi_core::batch::{BatchDispatcher, IncomingMessage, Publisher};
//! use amgi_core::{Application, ApplicationError, EventFuture, MessageScope, MessageSend,
//!     ReceiveEvent, Receiver, Scope, SendError, SendEvent, SharedSender};
//!
//! struct AckAll;
//!
//! impl Application for AckAll {
//!     async fn call(&self, scope: Scope, receive: &mut dyn Receiver, send: SharedSender)
//!         -> Result<(), ApplicationError> {
//!         let Scope::Message(scope) = scope else {
//!             return Err(ApplicationError::unsupported_scope(scope.kind()));
//!         };
//!         loop {
//!             let ReceiveEvent::Message(message) = receive.receive().await? else { continue };
//!             println!("{}: {:?}", scope.address, message.payload);
//!             send.send(SendEvent::ack(message.id)).await?;
//!             if !message.more_messages {
//!                 return Ok(());
//!             }
//!         }
//!     }
//! }
//!
//! # struct Nowhere;
//! # impl Publisher for Nowhere {
//! #     fn publish(&self, _: MessageSend) -> EventFuture<'_, Result<(), SendError>> {
//! #         EventFuture::ready(Ok(()))
//! #     }
//! # }
//! let dispatcher = BatchDispatcher::new(Arc::new(AckAll), Arc::new(Nowhere));
//! let message = IncomingMessage::new(Default::default(), Some("hello".into()), None);
//! let report = dispatcher.dispatch(MessageScope::new("greetings"), vec![message]).await;
//! assert_eq!(report.acked(), 1);
//! # });
//! ```
#![deny(missing_docs)]

mod application;
pub mod batch;
mod bindings;
mod channel;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod dead_letter;
mod error;
mod event;
pub mod extension;
mod future;
mod headers;
pub mod lifespan;
mod scope;
mod state;
mod version;

pub use application::{Application, BoxApplication, BoxApplicationFuture, DynApplication};
pub use bindings::{
    AmqpBinding, Binding, Bindings, KafkaBinding, MqttBinding, NatsBinding, OtherBinding,
    RedisBinding, SqsBinding,
};
pub use channel::{Receiver, Sender, SharedSender};
pub use error::{
    ApplicationError, ApplicationErrorKind, LifespanError, ReceiveError, ReceiveErrorKind,
    SendError, SendErrorKind,
};
pub use event::{
    MessageAck, MessageId, MessageNack, MessageReceive, MessageSend, NackRetry, ReceiveEvent,
    SendEvent,
};
pub use future::EventFuture;
pub use headers::Headers;
pub use scope::{LifespanScope, MessageScope, Scope};
pub use state::{Extensions, StateMap};
pub use version::{AMGI_VERSION, AmgiInfo, MESSAGE_SPEC_VERSION};

/// The code blocks of `docs/amgi.md`, compiled as doc tests so the specification page stays true.
#[cfg(doctest)]
#[doc = include_str!("../../docs/amgi.md")]
mod spec_page {}

/// Compile-time check that the public futures and handles can cross threads.
#[cfg(test)]
mod send_checks {
    fn assert_send<T: Send>() {}
    fn assert_sync<T: Sync>() {}

    #[test]
    fn public_types_are_send() {
        assert_send::<crate::EventFuture<'static, ()>>();
        assert_send::<crate::lifespan::Lifespan>();
        assert_send::<crate::SharedSender>();
        assert_sync::<crate::SharedSender>();
        assert_send::<crate::BoxApplication>();
        assert_sync::<crate::StateMap>();
        assert_send::<crate::Scope>();
        assert_send::<crate::batch::BatchReport>();
    }
}
