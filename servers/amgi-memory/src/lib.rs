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
//!   included. [`Broker::publish`] waits while the queue is full; [`Broker::try_publish`] fails
//!   with [`PublishErrorKind::Full`]; `message.send` from an application waits at most
//!   [`BrokerConfig::send_timeout`] (1 s by default), then fails with a retryable
//!   [`SendError`](amgi_core::SendError) naming the queue and its capacity, so that a handler
//!   publishing into a queue its own batch fills is nacked and redelivered instead of hanging.
//! - **Batches**: a consumer loop takes up to [`Server::batch_size`] waiting messages of one
//!   address and calls the application once; with [`Server::concurrency`] 1 (the default)
//!   batches of an address run one at a time and the scope is `ordered`. Every message scope
//!   carries [`NackRetrySupport`](amgi_core::extension::NackRetrySupport).
//! - **Outcomes**: an acked message leaves. A nacked or unanswered one is decided by the
//!   server's [`RetryPolicy`] ([`Server::retry`]; by default **zero backoff**, at most
//!   [`amgi_server::DEFAULT_MAX_DELIVERIES`] deliveries): redelivered at the **front** of its
//!   queue after the backoff, or dead-lettered after its last allowed delivery. A nack's
//!   `nack.retry` is honoured: `Never` dead-letters at once, `After(d)` redelivers after `d`
//!   (still counting the delivery). A message [skipped](amgi_core::batch::Outcome::Skipped)
//!   after a nack in an ordered batch goes back in order, its delivery not counted.
//! - **Delays keep order**: on an ordered queue the consumer waits out a redelivery delay (up to
//!   shutdown) before its next batch, so later messages wait behind the delayed one; with
//!   concurrency above 1 a timer requeues it and the queue goes on. Waiting messages count as
//!   [in flight](Broker::in_flight).
//! - **Keyed lanes** ([`Server::lanes`], `--lanes N`): a consumer loop runs up to `n` messages
//!   of the batch it took at once, never two with the same lane key, in order per key. The
//!   lane key is the key of the message's Kafka binding, otherwise its
//!   [`amgi_server::LANE_KEY_HEADER`] header (`amgi-lane-key`); messages without one are
//!   independent. Each message is its own one-message ordered batch, settled on its own: a nack
//!   is redelivered in its lane after its delay (its key waits behind it) or dead-lettered. The
//!   next batch is taken when every lane of this one is done; on shutdown, messages not started
//!   or waiting out a delay go back to the front of the queue in order.
//! - **Dead letters**: a dead-lettered message moves to the address [`BrokerConfig::dead_letter`]
//!   names (`<address>.dlq` by default) with its headers, payload and bindings and the
//!   [`amgi_core::dead_letter`] headers (reason, deliveries, address).
//!   [`Broker::dead_letters`] reads them. Dead-lettering never waits and never drops: a full
//!   dead-letter queue takes the letter anyway, over its capacity, logged at `warn`; it takes
//!   new publishes again once it is back under its capacity.
//! - **Bindings**: a message keeps the [`Bindings`](amgi_core::Bindings) it was published with;
//!   its first binding is delivered as the inbound binding, so a Kafka key survives a
//!   `message.send` round trip.
//! - **Lifespan**: the lifespan scope's extensions hold a
//!   [`ServerPublisher`](amgi_core::extension::ServerPublisher) that publishes into the broker
//!   (bounded by the send timeout, like `message.send`).
//! - **Shutdown**: [`ServerHandle::shutdown`] stops taking batches, gives the batches in flight
//!   [`Server::drain_timeout`] (30 s by default) to finish, aborts the rest (their messages go
//!   back to the front of their queues), then runs lifespan shutdown. Undelivered messages stay
//!   in the broker, which outlives the server.
//! - **`run memory`**: [`MemoryCommand`] offers the server to an application's command line
//!   through [`amgi_server::ServerCommand`], with the options every server has
//!   ([`amgi_server::ServeArgs`]: `--batch-size`, `--max-deliveries`, `--lanes`,
//!   `--drain-timeout`) and `--concurrency`.
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
pub use server::{DEFAULT_BATCH_CONCURRENCY, DEFAULT_BATCH_SIZE, Server, ServerHandle};

/// Compiles the README's example.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
