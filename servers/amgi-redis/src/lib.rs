//! # amgi-redis
//!
//! An AMGI server on **Redis Streams** with a consumer group, at least once, built on the
//! [`redis`] crate. Each address is a stream key.
//!
//! ```no_run
//! # async fn f(app: impl amgi_core::Application) -> Result<(), amgi_redis::Error> {
//! use amgi_redis::{RedisConfig, Server};
//!
//! let config = RedisConfig::new("redis://127.0.0.1:6379", "billing")
//!     .stream("orders")
//!     .consumer("billing-1")
//!     .max_deliveries(3);
//! Server::new(app, config)
//!     .run_until(amgi_server::shutdown_signal())
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! From an AsyncFast application: `app run redis orders --group billing --url redis://127.0.0.1:6379`
//! (see [`RedisCommand`]).
//!
//! ## Entries and messages
//!
//! An entry's field `payload` is the message's payload (none when the entry has no such
//! field); every other field is a header, in entry order. The entry id is the
//! [`RedisBinding::stream_id`](amgi_core::RedisBinding). `message.send` (and the
//! [`ServerPublisher`](amgi_core::extension::ServerPublisher) of the lifespan scope) writes
//! `XADD <address> * payload <payload> <header> <value> …`; a header named `payload` is refused,
//! and a message with neither payload nor headers is written with an empty `payload` (an entry
//! needs a field).
//!
//! ## Semantics
//!
//! - **Group and consumer.** On start the group is created on each stream when missing
//!   (`XGROUP CREATE … MKSTREAM`, from the start of the stream or, with
//!   [`StartFrom::Latest`], from its end). The consumer name should be stable
//!   ([`default_consumer`]: the host name).
//! - **Reading.** Each stream has its own loop: first the consumer's own pending entries
//!   (`XREADGROUP … 0`), then new ones (`>`, blocking at most [`RedisConfig::block`] so that a
//!   stop is noticed). One reply (at most [`RedisConfig::batch_size`] entries) is one ordered
//!   batch, and the next read waits until it is settled: never more entries in flight per
//!   stream than the batch size.
//! - **Ack** → `XACK`.
//! - **Nack** → redelivered by this process after the retry delay, in order (entries skipped
//!   behind it come back after it, uncounted); the entry stays pending meanwhile. After
//!   `max_deliveries` (or a nack that asks for no retry) it is dead-lettered: `XADD` to
//!   `<stream>.dlq` (see [`DeadLetterPolicy`](amgi_server::DeadLetterPolicy)) with the
//!   dead-letter headers plus [`STREAM_ID_HEADER`], **then** `XACK`. A dead letter Redis
//!   refuses leaves the entry pending.
//! - **Delivery counts** are kept in process: an entry read again after a restart starts
//!   counting from zero.
//! - **Stop.** Reading stops, the batches in hand get the drain deadline, and whatever is not
//!   acked stays pending: the consumer reads it again when it restarts with the same name.
//!   Entries pending on a consumer that never comes back are not claimed by others (no
//!   `XAUTOCLAIM` yet).
#![deny(missing_docs)]

/// The README's example is a doc test too.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

mod cli;
mod config;
mod entry;
mod error;
mod server;

pub use cli::RedisCommand;
pub use config::{
    DEFAULT_BATCH_SIZE, DEFAULT_BLOCK, DEFAULT_CONNECT_TIMEOUT, RedisConfig, StartFrom,
    default_consumer,
};
pub use entry::PAYLOAD_FIELD;
pub use error::{Error, ErrorKind};
pub use server::{STREAM_ID_HEADER, Server, ServerHandle};
