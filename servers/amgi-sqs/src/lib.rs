//! # amgi-sqs
//!
//! An AMGI server on **Amazon SQS**, at least once, built on [`aws_sdk_sqs`] (credentials and
//! region from the standard AWS chain through `aws-config`). Each address is a queue.
//!
//! ```no_run
//! # async fn f(app: impl amgi_core::Application) -> Result<(), amgi_sqs::Error> {
//! use amgi_sqs::{Server, SqsConfig};
//!
//! let config = SqsConfig::new()
//!     .queue("orders")
//!     .map("user.created", "user-created")
//!     .max_deliveries(3);
//! Server::new(app, config)
//!     .run_until(amgi_server::shutdown_signal())
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! From an AsyncFast application: `app run sqs user.created=user-created` (see [`SqsCommand`]).
//!
//! ## Semantics
//!
//! - **Receiving.** Each queue has a long-poll loop (`ReceiveMessage`, up to 10 messages,
//!   [`SqsConfig::wait_time`]); one receive is one batch, and up to [`SqsConfig::in_flight`]
//!   batches of a queue are handled at once. A standard queue promises no order: its batches
//!   are unordered. A FIFO queue's receive is split into one **ordered** batch per message
//!   group; groups run in parallel.
//! - **Ack** → `DeleteMessageBatch`, coalesced across the batches in flight (10 per call,
//!   flushed when full or after [`SqsConfig::linger`]).
//! - **Nack** → `ChangeMessageVisibility` to the retry delay (whole seconds, rounded up): SQS
//!   delivers it again then, and its `ApproximateReceiveCount` counts the delivery. On a FIFO
//!   queue the group stays blocked behind it; the messages of its batch after it are
//!   **skipped** and made visible again at once (visibility 0), their delivery not counted.
//! - **Dead letters.** When the queue has a `RedrivePolicy`, SQS moves a message after its
//!   `maxReceiveCount`; the server only changes visibility. Otherwise the server sends a message
//!   delivered `max_deliveries` times (or nacked with [`NackRetry::Never`](amgi_core::NackRetry))
//!   to `<queue>-dlq` (created when missing; `<stem>-dlq.fifo` for FIFO queues) with the
//!   dead-letter headers and [`MESSAGE_ID_HEADER`], **then** deletes it. A `NackRetry::Never`
//!   nack on a queue with a redrive policy goes straight to the policy's target queue.
//! - **Visibility.** While a batch runs longer than half the visibility timeout, the server
//!   extends its messages' visibility by a whole timeout, every half timeout.
//! - **Stop.** Receiving stops, the batches in hand get the drain deadline, and whatever is not
//!   acked is left to its visibility timeout: SQS delivers it again.
//!
//! ## Messages
//!
//! The body is the payload when it is text SQS accepts; otherwise it is base64 with the
//! attribute [`PAYLOAD_ATTRIBUTE`]` = base64` (`none` and `empty` for a missing or empty
//! payload). Headers are message attributes (String, or Binary for bytes that are not text;
//! Number attributes arrive as their text), in name order on receipt. Headers that cannot be
//! attributes one by one (a repeated name, a name SQS refuses, an empty value, more than 10)
//! travel together, in order, in the Binary attribute [`HEADERS_ATTRIBUTE`]. The
//! [`SqsBinding`](amgi_core::SqsBinding) carries the message group id, the deduplication id, the
//! receive count, the message id and the sent timestamp inbound, and the group id, deduplication
//! id and delay outbound.
#![deny(missing_docs)]

/// The README's example is a doc test too.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

mod batcher;
mod calls;
mod cli;
mod client;
mod config;
mod error;
mod message;
mod publisher;
mod server;

pub use cli::SqsCommand;
pub use config::{
    DEFAULT_BATCH_SIZE, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DEAD_LETTER_SUFFIX, DEFAULT_IN_FLIGHT,
    DEFAULT_LINGER, DEFAULT_WAIT_TIME, QueueMapping, SqsConfig, is_valid_queue_name,
};
pub use error::{Error, ErrorKind};
pub use message::{HEADERS_ATTRIBUTE, PAYLOAD_ATTRIBUTE};
pub use server::{MESSAGE_ID_HEADER, Server, ServerHandle};
