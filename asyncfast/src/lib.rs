//! # AsyncFast
//!
//! Typed handlers for message brokers, on [AMGI](amgi_core): write an `async fn` whose parameters
//! say what it needs from a message, mark it with `#[channel("address")]`, and run.
//!
//! ```no_run
//! use asyncfast::prelude::*;
//! use schemars::JsonSchema;
//! use serde::Deserialize;
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct UserCreated { id: u64, email: String }
//!
//! /// Greets every new user.
//! #[channel("user.created")]
//! async fn handle_user_created(payload: Payload<UserCreated>, correlation_id: Header<String>) {
//!     println!("User created: {} ({})", payload.email, *correlation_id);
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), asyncfast::Error> {
//!     AsyncFast::new().run().await
//! }
//! ```
//!
//! The same handler, tested without a broker:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use asyncfast::prelude::*;
//! use asyncfast::testing::TestClient;
//! # #[derive(serde::Deserialize, schemars::JsonSchema)]
//! # struct UserCreated { id: u64, email: String }
//! # #[channel("user.created")]
//! # async fn handle_user_created(payload: Payload<UserCreated>, correlation_id: Header<String>) {}
//!
//! let client = TestClient::new(AsyncFast::empty().channel(handler!(handle_user_created))).await;
//! client
//!     .publish("user.created")
//!     .header("correlation-id", "c-1")
//!     .json(&serde_json::json!({"id": 1, "email": "a@example.com"}))
//!     .await
//!     .assert_acked();
//! # });
//! ```
//!
//! ## Pieces
//!
//! * [`#[channel]`](macro@channel) turns a function into a handler; [`AsyncFast::new`] collects
//!   every handler of the binary, [`AsyncFast::empty`]`.channel(`[`handler!`]`(f))` a chosen
//!   set.
//! * [`extract`]: the parameters a handler can take ([`Payload`], [`Header`], [`Param`],
//!   [`State`], [`MessageSender`], bindings, dependencies).
//! * [`outcome`]: what a handler returns, and how that becomes an ack or nack.
//! * [`#[derive(Message)]`](macro@Message): messages to publish.
//! * [`Nack`]: a nack that says how the server is to retry the message
//!   ([`Nack::retry_after`], [`Nack::reject`]).
//! * [`middleware`], lifespan hooks ([`AsyncFast::on_startup`]), [`testing`], and
//!   [`AsyncFast::publisher`]: a [`Publisher`] that sends from outside any handler.
//! * The command line ([`AsyncFast::run`]): `run` serves on a server whose
//!   [`amgi_server::ServerCommand`] a cargo feature registers (`memory`, on by default; `kafka`)
//!   or [`AsyncFast::serve_on`] adds; `asyncapi` prints the AsyncAPI document. This crate holds
//!   no server code: any AMGI server also runs an [`AsyncFast`] directly.
#![deny(missing_docs)]

mod app;
pub mod asyncapi;
mod cli;
mod context;
mod dispatch;
mod error;
pub mod extract;
mod handler;
pub mod middleware;
pub mod outcome;
pub mod reply;
pub mod request;
mod router;
mod sender;
pub mod testing;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

/// The guide page `docs/guide/kafka.md`, compiled as doc tests with the `kafka` feature (its
/// code needs a broker to run, so it is `no_run`).
#[cfg(all(doctest, feature = "kafka"))]
#[doc = include_str!("../../docs/guide/kafka.md")]
mod kafka_guide {}

/// The AMQP guide (`docs/guide/amqp.md`), compiled as doc tests with the `amqp` feature (its
/// code needs a broker to run, so it is `no_run`).
#[cfg(all(doctest, feature = "amqp"))]
#[doc = include_str!("../../docs/guide/amqp.md")]
mod amqp_guide {}

/// The MQTT guide (`docs/guide/mqtt.md`), compiled as doc tests with the `mqtt` feature (its
/// code needs a broker to run, so it is `no_run`).
#[cfg(all(doctest, feature = "mqtt"))]
#[doc = include_str!("../../docs/guide/mqtt.md")]
mod mqtt_guide {}

/// The NATS guide (`docs/guide/nats.md`), compiled as doc tests with the `nats` feature (its
/// code needs a NATS server to run, so it is `no_run`).
#[cfg(all(doctest, feature = "nats"))]
#[doc = include_str!("../../docs/guide/nats.md")]
mod nats_guide {}

/// The guide page `docs/guide/redis.md`, compiled as doc tests with the `redis` feature (its
/// code needs a Redis to run, so it is `no_run`).
#[cfg(all(doctest, feature = "redis"))]
#[doc = include_str!("../../docs/guide/redis.md")]
mod redis_guide {}

/// `docs/guide/sqs.md`: its code blocks are doc tests (with the `sqs` feature).
#[cfg(all(doctest, feature = "sqs"))]
#[doc = include_str!("../../docs/guide/sqs.md")]
mod sqs_guide {}

/// The guide page `docs/guide/lambda.md`, compiled as doc tests with the `lambda` feature (its
/// synthetic-event test runs; serving needs the Lambda Runtime API, so that code is `no_run`).
#[cfg(all(doctest, feature = "lambda"))]
#[doc = include_str!("../../docs/guide/lambda.md")]
mod lambda_guide {}

pub use amgi_core as amgi;
pub use amgi_server;
pub use app::{AsyncFast, DEFAULT_MESSAGE_CONCURRENCY};
pub use context::MessageContext;
pub use error::{Error, HandlerNotReady, StartupError};
pub use extract::{Header, Param, Payload, State};
pub use handler::{ChannelMeta, Handler};
pub use outcome::{IntoOutcome, Nack, NackKind, Outcome};
pub use reply::Reply;
pub use request::{Request, RequestError};
pub use router::{RouteError, TemplateError};
pub use sender::{EncodeError, Message, MessageSender, Publisher, SendMessageError};

/// Marks an `async fn` (or a plain `fn`, run on the blocking pool) as the handler of a channel.
///
/// ```
/// use asyncfast::prelude::*;
///
/// /// Reacts to orders of one region.
/// #[channel("orders.{region}", name = "on_order")]
/// async fn handle_order(region: Param<String>, body: Payload<serde_json::Value>) {}
/// ```
///
/// Options: `name = "…"` (default: the function's name), `description = "…"` (default: the doc
/// comment), `crate = path` (where `asyncfast` is, for re-exporters). Parameter attributes:
/// `#[header(alias = "Name", default = expr)]`. The function stays callable as written; the
/// macro adds a hidden handler type, registered for [`AsyncFast::new`] and named by
/// [`handler!`].
pub use asyncfast_macros::channel;

/// Names the handler of a `#[channel]` function, for [`AsyncFast::channel`].
///
/// ```
/// use asyncfast::prelude::*;
///
/// mod users {
///     use asyncfast::prelude::*;
///     #[channel("user.created")]
///     pub async fn on_created(id: Payload<u64>) {}
/// }
///
/// let app = AsyncFast::empty().channel(handler!(users::on_created));
/// ```
pub use asyncfast_macros::handler;

/// Derives [`Message`](trait@Message): `#[message(address = "…")]` on the struct, and on fields
/// `#[payload]`, `#[header(alias = "…")]` or `#[binding(kafka_key)]`; fields named in the
/// address template fill its placeholders. See the [trait](trait@Message). Also derives
/// [`DescribeMessage`](asyncapi::DescribeMessage), the message's part of the AsyncAPI document
/// (the payload type must implement `JsonSchema`).
pub use asyncfast_macros::Message;

/// The names most applications need.
pub mod prelude {
    pub use crate::extract::{Header, Param, Payload, State};
    pub use crate::{AsyncFast, Message, MessageSender, channel, handler};
}

#[cfg(test)]
mod send_checks {
    fn assert_send<T: Send>() {}
    fn assert_sync<T: Sync>() {}

    #[test]
    fn public_types_are_send() {
        assert_send::<crate::AsyncFast>();
        assert_sync::<crate::AsyncFast>();
        assert_send::<crate::MessageSender>();
        assert_sync::<crate::MessageSender>();
        assert_send::<crate::testing::TestClient>();
        assert_send::<crate::Outcome>();
        assert_send::<crate::MessageContext<'static>>();
    }
}
