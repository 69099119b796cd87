//! # amgi-amqp
//!
//! An AMGI server for AMQP 0-9-1 brokers such as RabbitMQ (built on the `lapin` client):
//! queues consumed with manual acks, **at least once**; `message.send` with publisher
//! confirms; dead-letter queues; requests over direct reply-to; TLS with `amqps://`.
//!
//! ```no_run
//! # async fn f(app: amgi_core::BoxApplication) -> Result<(), amgi_amqp::AmqpError> {
//! use amgi_amqp::{AmqpConfig, AmqpUrl, Server};
//!
//! let url = AmqpUrl::new("amqp://guest:guest@127.0.0.1:5672/%2f");
//! let config = AmqpConfig::new(url).queues(["orders"]).bind("amq.topic", "orders.#");
//! let handle = Server::new(app, config).start().await?;
//! tokio::signal::ctrl_c().await.ok();
//! handle.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! From an AsyncFast application's command line: `run amqp [QUEUE…] --url amqp://…` (see
//! [`AmqpCommand`]). The guide, `docs/guide/amqp.md`, has the details.
//!
//! ## Semantics
//!
//! - **Addresses are queues**, declared durable when missing (or required to exist:
//!   [`AmqpConfig::declare`]), bound to exchanges as configured ([`AmqpConfig::bind`],
//!   [`AmqpConfig::bind_headers`]). A queue that exists with arguments of its own (a quorum
//!   queue, a dead-letter exchange) is used as it is.
//! - **Batches.** What arrived together on a queue, up to the batch size, is one ordered
//!   batch; the prefetch (`basic.qos`) is the batch size. Queues run side by side.
//! - **Ack** → `basic.ack`, only once the application acked the message (manual acks).
//! - **Nack** → the message stays unacknowledged in the process and is dispatched again after
//!   the retry delay, before anything after it (skipped messages follow it, uncounted). The
//!   delivery count starts from what the broker reports — a quorum queue's `x-delivery-count`
//!   header, so the count survives requeues after a crash or a lost connection; on a classic
//!   queue a `redelivered` message counts one earlier delivery — and counts each nack. After
//!   the last delivery, or at once for `NackRetry::Never`, it is published (confirmed) to
//!   `<queue>.dlq` (declared durable) with the dead-letter headers, then acked. A queue
//!   that has an `x-dead-letter-exchange` of its own (the server sees it when its plain
//!   declaration is refused for that argument), or every queue with [`DeadLetters::Broker`]
//!   (`--broker-dead-letters`, for `--no-declare`), gets its dead letters rejected
//!   (`basic.nack`, `requeue=false`) instead: RabbitMQ routes them to that exchange with its
//!   `x-death` header, and the reason is logged.
//! - **Stop** → no new batch; those in hand get the drain deadline; what is not acknowledged
//!   then goes back to its queue when the channel closes. The same happens after a crash or a
//!   lost connection: at least once. A lost connection is opened again with backoff.
//! - **Headers** are the headers table (see [the mapping](#headers)); **bindings**: incoming
//!   messages carry an [`amgi_core::AmqpBinding`] with exchange, routing key and properties.
//! - **`message.send`** publishes to the default exchange with the address as routing key
//!   (or to the exchange and routing key of its `AmqpBinding`), persistent unless the binding
//!   says otherwise, and completes on the broker's publisher confirm.
//! - **Requests** (`lifespan.requester`): published with `reply_to = amq.rabbitmq.reply-to`
//!   and a correlation id; replies to requests go to their `reply_to` on the default exchange
//!   with the request's correlation id.
//!
//! ## Headers
//!
//! Long strings and byte arrays arrive as their bytes, a field array as one header per
//! element, every other field type as text (integers, floats, booleans, timestamps in
//! seconds, nested tables as `{name=value,…}`). Headers are sent as long strings, a repeated
//! name as a field array. AMQP tables are unordered: headers arrive sorted by name, unless
//! their publisher listed their order in [`HEADER_ORDER`] (as this server does when the order
//! is not sorted).
#![deny(missing_docs)]

mod cli;
mod config;
mod error;
mod link;
mod message;
mod publisher;
mod server;

pub use cli::AmqpCommand;
pub use config::{
    AmqpConfig, AmqpUrl, DEFAULT_BATCH_SIZE, DEFAULT_CONNECT_TIMEOUT, DeadLetters, HeadersMatch,
    QueueBinding,
};
pub use error::{AmqpError, AmqpErrorKind};
pub use message::HEADER_ORDER;
pub use server::{Server, ServerHandle};
