//! # amgi-kafka
//!
//! A Kafka protocol server for AMGI applications, built on
//! [rdkafka](https://docs.rs/rdkafka) (librdkafka). It consumes topics in a consumer group and
//! calls the application once per batch of one partition, at least once per message.
//!
//! A complete program: an application that prints and acks every message of `orders`.
//!
//! ```no_run
//! use amgi_core::{Application, ApplicationError, ReceiveEvent, Receiver, Scope, SendEvent,
//!     SharedSender};
//!
//! struct PrintOrders;
//!
//! impl Application for PrintOrders {
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
//! #[tokio::main]
//! async fn main() -> Result<(), amgi_kafka::Error> {
//!     amgi_kafka::Server::new(PrintOrders, ["orders"])
//!         .bootstrap_servers("127.0.0.1:9092")
//!         .group_id("printer")
//!         .run_until(async { tokio::signal::ctrl_c().await.unwrap() })
//!         .await
//! }
//! ```
//!
//! ## What the application sees
//!
//! - One call per batch: messages of **one partition**, fetched together, at most
//!   [`batch_size`](Server::batch_size) of them, in offset order. The scope's `address` is the
//!   topic and `ordered` is `true`: a partition's next batch starts only after this one ended.
//!   Partitions are handled concurrently, up to [`concurrency`](Server::concurrency) batches.
//! - Each message carries a [`KafkaBinding`](amgi_core::KafkaBinding) with its key, partition,
//!   offset and timestamp, and its headers as byte pairs, in order.
//! - `message.send` is produced with its headers, and the key, partition and timestamp of its
//!   Kafka binding; the send resolves once the broker acknowledged it (idempotent producer by
//!   default), and a failure is returned to the application as a retryable
//!   [`SendError`](amgi_core::SendError).
//!
//! ## Delivery guarantees
//!
//! At least once. The offset committed for a partition is never past a message that is not
//! finished (acked, or dead-lettered): see [Commits](#commits). A nacked (or unanswered)
//! message is delivered again, alone with the other nacked messages of its batch, after a
//! backoff, up to [`RetryPolicy::max_attempts`] deliveries; then it is produced to its
//! dead-letter topic (default `<topic>.dlq`, headers in [`dead_letter`]) and only then
//! committed.
//!
//! ## Commits
//!
//! Offsets are committed by the server (`enable.auto.commit=false`): every
//! [`commit_interval`](Server::commit_interval) while running, synchronously when partitions
//! are revoked (after their batches in progress finished), and on shutdown. A crash loses no
//! message; what was finished after the last commit is delivered again.
//!
//! ## Shutdown
//!
//! [`ServerHandle::shutdown`] stops fetching, lets batches in progress finish, commits, closes
//! the consumer (leaving the group), runs lifespan shutdown and flushes the producer; each step
//! has a deadline. The consumer lives on a thread of its own that also drops it: rdkafka 0.39 can
//! block for ever when dropping a consumer with a `group.id`, and no caller ever waits for that
//! drop.
#![deny(missing_docs)]

mod cli;
mod client;
mod config;
mod consumer;
pub mod dead_letter;
mod error;
mod fetch;
mod group;
mod handle;
mod partition;
mod publisher;
mod server;

pub use amgi_server::{DeadLetterPolicy, Deadlines, RetryPolicy};
pub use cli::KafkaCommand;
pub use config::{
    AutoOffsetReset, CONSUMER_PREFIX, DEFAULT_BOOTSTRAP_SERVERS, KafkaConfig, PRODUCER_PREFIX,
};
pub use error::{Error, ErrorKind};
pub use handle::{ServerHandle, ServerStats};
pub use server::Server;

/// The rdkafka crate this server is built on, for its property and error types.
pub use rdkafka;

/// The code blocks of the README, compiled as doc tests so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}
