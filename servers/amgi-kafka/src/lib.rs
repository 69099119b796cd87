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
//!   (With [keyed lanes](#keyed-lanes), each message is a batch of its own.)
//! - Every scope advertises [`NackRetrySupport`](amgi_core::extension::NackRetrySupport): a
//!   nack's [`NackRetry`](amgi_core::NackRetry) is honoured (see below).
//! - The lifespan scope carries the server's
//!   [`ServerPublisher`](amgi_core::extension::ServerPublisher), to publish outside any batch.
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
//! finished (acked, or dead-lettered): see [Commits](#commits).
//!
//! Deliveries are counted **per message**. What happens after a batch depends on each
//! message's [`Outcome`](amgi_core::batch::Outcome):
//!
//! - `Acked`: finished.
//! - `Nacked { retry, .. }` (an unanswered message, or one of a failed call, counts as
//!   `NackRetry::Policy`): [`RetryPolicy::decide`] with the message's deliveries so far.
//!   `NackRetry::Never` is dead-lettered at once; `NackRetry::After(d)` is delivered again after
//!   `d`; `NackRetry::Policy` after the policy's backoff. A nack on the last allowed delivery
//!   (`max_deliveries` of the [`RetryPolicy`], default 5) is dead-lettered.
//! - `Skipped` (left unanswered after an earlier nack of the same ordered batch, as AsyncFast
//!   does): delivered again after the nacked message, **without** counting a delivery.
//!
//! A redelivery is one ordered batch of every unfinished message of the batch, in offset order,
//! after the longest delay any of its nacks asked for; so order holds across failures, and
//! acked messages are not delivered twice. It happens inside the partition's task, without
//! seeking. A dead-lettered message is produced to its dead-letter topic
//! ([`DeadLetterPolicy`], default `<topic>.dlq`, headers in [`dead_letter`]) and only then
//! committed.
//!
//! ## Dead letters that cannot be produced
//!
//! A dead letter that fails for a **transient** reason (a broker down, a timeout, a topic that
//! does not exist yet) is produced again with backoff, and the partition waits, until it
//! succeeds or the partition stops (revoked, shutdown): its offset is never committed past
//! meanwhile, so nothing is lost. A **permanent** failure — librdkafka or the broker refusing the
//! record for what it is: `MessageSizeTooLarge`, `InvalidMessageSize`, `MessageBatchTooLarge`,
//! `InvalidRecord`, `InvalidMessage`, `InvalidTopic`, `TopicAuthorizationFailed`,
//! `PolicyViolation`, or a header name Kafka cannot carry — would fail the same way for ever
//! and stop the partition for good (and, at every restart, again). So such a message is
//! **skipped**: logged at `error` with the nack reason and the producer error, counted in
//! [`ServerStats::dead_letter_failures`] ([`ServerHandle::stats`]), and its offset committed,
//! as with [`DeadLetterPolicy::Disabled`]. Watch the counter (or the log) to find them; the
//! record is still in the source topic until its retention ends.
//! `UnknownTopicOrPartition` is treated as transient: a missing dead-letter topic is fixed by
//! creating it, and skipping meanwhile would lose messages.
//!
//! ## Keyed lanes
//!
//! A partition handled in order runs one message at a time: a handler that waits 1 ms caps it
//! at about 1 000 messages a second. With [`Server::lanes`]`(n)` (`--lanes N`), a partition
//! task runs up to `n` messages of one fetched batch at once
//! ([`amgi_server::run_in_lanes`]), never two with the same **record key**, and the messages of
//! one key in offset order; records without a key have no order to keep with any other. Each
//! message is dispatched as its own one-message ordered batch with its own retries, and a key
//! stays busy while its message waits for a retry, so per-key order holds across failures.
//! The commit position still only moves over contiguous finished offsets
//! ([`amgi_server::OffsetTracker`]): a crash redelivers what was not finished. The next fetched
//! batch of the partition starts once every message of this one is finished. A partition in
//! lanes holds one of the [`concurrency`](Server::concurrency) permits while it runs a batch.
//!
//! ## Commits
//!
//! Offsets are committed by the server (`enable.auto.commit=false`): every
//! [`commit_interval`](Server::commit_interval) while running (asynchronously; a position whose
//! commit failed is committed again at the next interval), synchronously when partitions are
//! revoked (after their batches in progress finished), and on shutdown. A crash loses no
//! message; what was finished after the last commit is delivered again.
//!
//! ## Joining the group
//!
//! [`Server::start`] returns once the group gave the consumer its first assignment. However long
//! that takes, the server waits (a consumer that crashed may hold the partitions until its
//! session times out), logging a `warn` every [`join_timeout`](Server::join_timeout); a
//! shutdown signal given to [`Server::run_until`] ends the wait.
//!
//! ## Command line
//!
//! [`KafkaCommand`] is `run kafka [TOPIC…] --group-id GROUP [-X key=value]…`, an
//! [`amgi_server::ServerCommand`] a framework registers. Without topics it consumes the
//! application's channels: exact addresses as topics, address templates as regex
//! subscriptions.
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
