//! # amgi-nats
//!
//! An AMGI server for NATS, built on the `async-nats` client: **core NATS** by default (at most
//! once, queue groups, request/reply on inboxes), or a **JetStream** durable pull consumer (at
//! least once) with [`NatsConfig::jetstream`].
//!
//! ```no_run
//! # async fn f(app: amgi_core::BoxApplication) -> Result<(), amgi_nats::NatsError> {
//! use amgi_nats::{NatsConfig, Server};
//!
//! let config = NatsConfig::new("nats://127.0.0.1:4222")
//!     .subjects(["orders.created"])
//!     .jetstream("ORDERS", "billing")
//!     .batch_size(32);
//! let handle = Server::new(app, config).start().await?;
//! tokio::signal::ctrl_c().await.ok();
//! handle.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! From an AsyncFast application's command line: `run nats [ADDRESS…] --url nats://H:P
//! [--group G] [--stream S --durable D]` (see [`NatsCommand`]). The guide,
//! `docs/guide/nats.md`, has the details.
//!
//! ## Semantics
//!
//! - **Addresses are subjects.** An address template whose placeholders are whole
//!   `.`-separated tokens is consumed through a `*` wildcard (`orders.{region}` →
//!   `orders.*`, see [`subject_filter`]).
//! - **Core NATS** (the default): one subscription per subject, in queue group
//!   [`NatsConfig::group`] when set (each message goes to one server of the group). The
//!   messages that arrived together, up to the batch size, are handed over as one batch per
//!   run of one subject; the next batch waits until it is done (with [`NatsConfig::lanes`],
//!   up to batch size × lanes messages at once). **At most once**: a nack is logged and the
//!   message is gone; what is published while the server is away or reconnecting is lost.
//!   A message's reply subject is its [`NatsBinding::reply`](amgi_core::NatsBinding), so a
//!   handler's reply goes back to the requester.
//! - **JetStream** ([`NatsConfig::jetstream`], `--stream S --durable D`): a durable pull
//!   consumer on the stream, created when missing (explicit acks, the
//!   [ack wait](NatsConfig::ack_wait), filtered to the subject; NATS 2.9 consumers have one
//!   filter, so several subjects get one consumer each, named `<durable>-<subject>`). It
//!   pulls at most the batch size ahead. **At least once**: ack → `+ACK`; nack → `-NAK` with
//!   the retry policy's delay (JetStream redelivers it); JetStream's delivered count is the
//!   delivery count; after the last delivery, or for a nack that asks for no retry, the
//!   message is published to `<subject>.dlq` with the dead-letter headers plus
//!   [`STREAM_SEQUENCE_HEADER`], then terminated (`+TERM`). While a handler runs, "in
//!   progress" acks go out every third of the ack wait. A message delivered more than
//!   `max_deliveries` times without being settled (the server stopped each time) is
//!   dead-lettered without another delivery. A dead letter a wildcard consumer receives is
//!   acked, not handled.
//! - **Headers** are NATS headers; order and repeats are kept, and values NATS cannot carry
//!   (not UTF-8, line breaks, surrounding spaces) travel as base64 (see
//!   [`BINARY_VALUES_HEADER`] and [`HEADER_ORDER_HEADER`]). An empty payload arrives as no
//!   payload.
//! - **`message.send`** publishes on core NATS (with the reply subject of its
//!   `NatsBinding`, if any); in JetStream mode a subject of the consumed stream is published
//!   through JetStream and the send completes on the stream's ack.
//! - **Request/reply**: the lifespan scope holds a
//!   [`ServerRequester`](amgi_core::extension::ServerRequester) that requests on NATS inboxes
//!   (a timeout is an error whose detail starts with
//!   [`REQUEST_TIMED_OUT`](amgi_core::extension::REQUEST_TIMED_OUT); no subscriber is a
//!   "no responders" error), and a
//!   [`ServerPublisher`](amgi_core::extension::ServerPublisher).
//! - **Reconnect**: async-nats reconnects by itself, without limit; losses and reconnects are
//!   logged, core subscriptions are made again and JetStream pulls resume. NATS down at start
//!   is an [`NatsErrorKind::Unreachable`] error naming the URL (without secrets) and how to
//!   start `nats-server`.
#![deny(missing_docs)]

mod cli;
mod config;
mod connection;
mod core;
mod error;
mod headers;
mod jetstream;
mod message;
mod publisher;
mod server;

pub use cli::NatsCommand;
pub use config::{
    Auth, DEFAULT_ACK_WAIT, DEFAULT_BATCH_SIZE, DEFAULT_CONNECT_TIMEOUT, JetStream, NatsConfig,
    subject_filter,
};
pub use error::{NatsError, NatsErrorKind};
pub use headers::{BINARY_VALUES_HEADER, HEADER_ORDER_HEADER};
pub use jetstream::STREAM_SEQUENCE_HEADER;
pub use server::{Server, ServerHandle};

/// The README's example is a doc test too.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}
