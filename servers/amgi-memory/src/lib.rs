//! # amgi-memory
//!
//! An embedded in-memory AMGI broker ([`Broker`]) and the server that runs an
//! [`Application`](amgi_core::Application) on it ([`Server`]). It is what an AsyncFast app runs
//! on when no broker is configured, and the backbone of tests and examples: no network, no
//! external process, the same ack, nack, redelivery, dead-letter and lifespan behaviour as the
//! servers for real brokers (it passes the `amgi_core::conformance` suite, see `tests/conformance.rs`).
//!
//! A raw application that acks every message, fed through the broker:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use amgi_core::{Application, ApplicationError, MessageSend, ReceiveEvent, Receiver, Scope,
//!     SendEvent, SharedSender};
//! use amgi_memory::{Broker, Server};
//! use tokio::sync::mpsc;
//!
//! struct Greeter {
//!     seen: mpsc::UnboundedSender<bytes::Bytes>,
//! }
//!
//! impl Application for Greeter {
//!     async fn call(&self, scope: Scope, receive: &mut dyn Receiver, send: SharedSender)
//!         -> Result<(), ApplicationError> {
//!         let Scope::Message(_) = scope else {
//!             return Err(ApplicationError::unsupported_scope(scope.kind()));
//!         };
//!         loop {
//!             let ReceiveEvent::Message(message) = receive.receive().await? else { continue };
//!             send.send(SendEvent::ack(message.id)).await?;
//!             let _ = self.seen.send(message.payload.unwrap_or_default());
//!             if !message.more_messages {
//!                 return Ok(());
//!             }
//!         }
//!     }
//! }
//!
//! let broker = Broker::default();
//! let (seen, mut greetings) = mpsc::unbounded_channel();
//! let server = Server::new(Greeter { seen }, broker.clone())
//!     .address("greetings")
//!     .start()
//!     .await?;
//!
//! broker.publish(MessageSend::new("greetings").payload("hello")).await?;
//! assert_eq!(greetings.recv().await.as_deref(), Some(&b"hello"[..]));
//!
//! server.shutdown().await?;
//! assert_eq!(broker.depth("greetings"), 0);
//! assert_eq!(broker.in_flight("greetings"), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! ## Semantics
//!
//! - **Addresses** are named queues, created on first publish or when a server consumes them.
//! - **Capacity and backpressure**: a message counts against its queue's
//!   [`BrokerConfig::capacity`] from publish until it is acked or dead-lettered, in flight
//!   included. [`Broker::publish`] (and `message.send` from an application) waits while the queue
//!   is full; [`Broker::try_publish`] fails with [`PublishErrorKind::Full`] instead.
//! - **Batches**: a consumer loop takes up to [`Server::batch_size`] waiting messages of one
//!   address and calls the application once; with [`Server::concurrency`] 1 (the default)
//!   batches of an address run one at a time and the scope is `ordered`.
//! - **Redelivery**: a nacked or unanswered message goes back to the front of its queue (keeping
//!   order) without needing new room, until it has been delivered [`Server::max_deliveries`]
//!   times.
//! - **Dead letters**: then it moves to `<address>.dlq` ([`BrokerConfig::dead_letter_suffix`])
//!   with its headers, payload and bindings and the [`amgi_core::dead_letter`] headers (reason,
//!   deliveries, address). Dead-letter queues are bounded too, but dead-lettering never waits: a
//!   full dead-letter queue drops its oldest waiting message (logged at `error`).
//!   [`Broker::dead_letters`] reads them.
//! - **Bindings**: a message keeps the [`Bindings`](amgi_core::Bindings) it was published with;
//!   its first binding is delivered as the inbound binding, so a Kafka key survives a
//!   `message.send` round trip.
//! - **Shutdown**: [`ServerHandle::shutdown`] stops taking batches, waits for the batches in
//!   flight, then runs lifespan shutdown. Undelivered messages stay in the broker, which
//!   outlives the server.
#![deny(missing_docs)]

mod broker;
mod cli;
mod config;
mod consumer;
mod dead_letter;
mod error;
mod queue;
mod server;

pub use amgi_server::{DeadLetterPolicy, RetryPolicy};
pub use broker::Broker;
pub use cli::MemoryCommand;
pub use config::{BrokerConfig, DEFAULT_CAPACITY, DEFAULT_SEND_TIMEOUT};
pub use dead_letter::DeadLetter;
pub use error::{PublishError, PublishErrorKind, ServerError};
pub use server::{DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY, Server, ServerHandle};

/// Compiles the README's example.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
