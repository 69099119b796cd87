//! # amgi-redis
//!
//! An AMGI server on **Redis Streams** with a consumer group, at least once (or on Redis
//! Pub/Sub, at most once), built on the [`redis`] crate. Each address is a stream key (or a
//! channel).
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
//! field); every other field is a header, in entry order (a value that is not UTF-8 is a
//! bytes header). The entry id is the [`RedisBinding::stream_id`](amgi_core::RedisBinding) and
//! the stream key its `stream`. `message.send` (and the
//! [`ServerPublisher`](amgi_core::extension::ServerPublisher) of the lifespan scope) writes
//! `XADD <address> [MAXLEN ~ n] * payload <payload> <header> <value> …` (`MAXLEN` when the
//! message's [`RedisBinding::maxlen`](amgi_core::RedisBinding) is set); a header named
//! `payload` is refused,
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
//! - **Ack** → `XACK` of the batch's acked entries, sent together with the next read (the two
//!   round trips overlap); an `XACK` that fails leaves the entries pending.
//! - **Nack** → redelivered by this process after the retry delay (read again from the stream
//!   with `XRANGE`: a delivery does not keep a copy of the message), in order (entries skipped
//!   behind it come back after it, uncounted); the entry stays pending meanwhile. After
//!   `max_deliveries` (or a nack that asks for no retry) it is dead-lettered: `XADD` to
//!   `<stream>.dlq` (see [`DeadLetterPolicy`](amgi_server::DeadLetterPolicy)) with the
//!   dead-letter headers plus [`STREAM_ID_HEADER`], **then** `XACK`. A dead letter Redis
//!   refuses leaves the entry pending.
//! - **Delivery counts** are Redis's (`XPENDING`'s times-delivered): an entry read again
//!   after a restart, or claimed, counts its earlier deliveries, and one delivered
//!   `max_deliveries` times to consumers that stopped before settling it is dead-lettered
//!   without another delivery. In-process redeliveries are recorded with
//!   `XCLAIM … RETRYCOUNT n JUSTID`.
//! - **Claiming.** Entries pending on any consumer of the group for longer than
//!   [`RedisConfig::claim_idle`] (default [`DEFAULT_CLAIM_IDLE`]) are claimed with
//!   `XAUTOCLAIM` between batches, once this consumer's own pending entries were read.
//! - **Reconnect.** Connections are [`redis::aio::ConnectionManager`]s: when Redis goes away
//!   the loops log it once, retry with a backoff, log the reconnect, and read their own pending
//!   entries again first (a group Redis lost is created again). Redis down at start is an
//!   [`ErrorKind::Unreachable`] error naming the URL without its password.
//! - **Keyed lanes** ([`RedisConfig::lanes`], `--lanes N`): up to N entries of a batch at once,
//!   never two with the same `amgi-lane-key` header, each entry a batch of its own.
//! - **Stop.** Reading stops, the batches in hand get the drain deadline, and whatever is not
//!   acked stays pending: the consumer reads it again when it restarts with the same name, or
//!   another consumer claims it after the claim-idle time.
//!
//! ## Pub/Sub mode
//!
//! With [`RedisConfig::pubsub`] (`--pubsub`) each address is a channel (`SUBSCRIBE`) and each
//! pattern a `PSUBSCRIBE` (from a templated channel, `orders.{region}` → `orders.*`). A
//! message's payload is the whole message, with no headers; delivery is **at most once**: a
//! nack is logged and the message is gone, and what is published while the server is not
//! subscribed (during a reconnect) is lost. `message.send` is `PUBLISH` (headers are not sent).
//! At most [`RedisConfig::batch_size`] messages are handled at once; Pub/Sub has no flow
//! control, so what arrives meanwhile waits in memory (the `redis` crate's subscription buffer).
#![deny(missing_docs)]

/// The README's example is a doc test too.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

mod cli;
mod config;
mod connection;
mod consumer;
mod entry;
mod error;
mod publisher;
mod pubsub;
mod server;

pub use cli::RedisCommand;
pub use config::{
    DEFAULT_BATCH_SIZE, DEFAULT_BLOCK, DEFAULT_CLAIM_IDLE, DEFAULT_CONNECT_TIMEOUT, RedisConfig,
    StartFrom, default_consumer,
};
pub use entry::PAYLOAD_FIELD;
pub use error::{Error, ErrorKind};
pub use server::{STREAM_ID_HEADER, Server, ServerHandle};
