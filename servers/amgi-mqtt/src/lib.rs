//! # amgi-mqtt
//!
//! An AMGI server for MQTT brokers (built on the `rumqttc` client): MQTT 5 by default, 3.1.1 on
//! request ([`Protocol`]); QoS 1, **at least once**, by default, 0 and 2 selectable ([`Qos`]);
//! on a persistent session; TLS with rustls ([`Tls`]) and username/password
//! ([`Credentials`]).
//!
//! ```no_run
//! # async fn f(app: amgi_core::BoxApplication) -> Result<(), amgi_mqtt::MqttError> {
//! use amgi_mqtt::{MqttConfig, Server};
//!
//! let config = MqttConfig::new("127.0.0.1", 1883, "orders-1")
//!     .topics(["orders/created", "sensors/+/temp"])
//!     .batch_size(32);
//! let handle = Server::new(app, config).start().await?;
//! tokio::signal::ctrl_c().await.ok();
//! handle.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! From an AsyncFast application's command line: `run mqtt [ADDRESS…] --client-id ID` (see
//! [`MqttCommand`]). The guide, `docs/guide/mqtt.md`, has the details.
//!
//! ## Semantics
//!
//! - **Addresses are topics.** The server subscribes (with its [`Qos`]) to the application's exact
//!   addresses, and to a `+` filter for each address template whose placeholders are whole
//!   `/`-separated levels (`sensors/{id}/temp` → `sensors/+/temp`). MQTT levels are separated
//!   by `/` only: a `.` is an ordinary character, so `orders.created` is one level and
//!   `orders.{region}` has no filter (a configuration error; name the addresses instead).
//!   With a group, each filter is subscribed as `$share/<group>/<filter>`.
//! - **Session.** The client connects with clean start off and a session expiry interval
//!   ([`MqttConfig::session_expiry`]), under a client id that must stay the same across
//!   restarts: the broker keeps the subscriptions and what was not acknowledged while the
//!   server is away, and delivers it when it is back.
//! - **Batches.** Messages of one topic that arrived together form one ordered batch (up to
//!   the batch size); topics run side by side, each in order.
//! - **Ack** → `PUBACK` (QoS 2: `PUBREC`), sent only once the application acked the message
//!   (manual acks), in the order the messages arrived, as MQTT requires: a message waiting for
//!   its retry holds back the `PUBACK`s of those after it. QoS 0 has no acknowledgement.
//! - **Lanes** ([`MqttConfig::lanes`]): the messages of a topic run side by side, never two
//!   with the same `amgi-lane-key` header.
//! - **Nack** → MQTT has no nack: the message is kept in the process and dispatched again
//!   after the retry delay, before anything after it on its topic (skipped messages follow it,
//!   uncounted). After its last delivery it is published to `<topic>.dlq` with QoS 1 and the
//!   dead-letter headers, and once the broker acked that, the original is `PUBACK`ed. A dead
//!   letter that a `+` filter of this server matches is acknowledged, not consumed. (MQTT
//!   3.1.1: no reason headers, the reason is logged.)
//! - **Stop** → no new batch; those in hand get the drain deadline; what is not acknowledged
//!   then is delivered again by the broker on the next connection (`DUP`). The same happens
//!   after a crash: at least once.
//! - **Headers** are MQTT 5 user properties, in order, repeats kept. A value that is not UTF-8
//!   travels as base64, its position listed in the user property
//!   [`BINARY_VALUES_PROPERTY`] (`amgi-binary-values`), and arrives as the same bytes; names
//!   must be UTF-8. An empty payload arrives as no payload.
//! - **Bindings.** Incoming messages carry an [`amgi_core::MqttBinding`] with their QoS, retain
//!   flag, topic, content type, response topic, correlation data and message expiry interval.
//! - **`message.send`** publishes with the QoS, retain flag and MQTT 5 properties of its
//!   `MqttBinding` (the configured [`Qos`] without one) and completes on the broker's `PUBACK`
//!   (QoS 1) or `PUBCOMP` (QoS 2); a QoS 0 send completes once handed to the connection.
#![deny(missing_docs)]

mod binding;
mod cli;
mod client;
mod config;
mod connection;
mod error;
mod headers;
mod publisher;
mod server;
mod tls;

pub use cli::MqttCommand;
pub use config::{
    DEFAULT_BATCH_SIZE, DEFAULT_CONNECT_TIMEOUT, DEFAULT_SESSION_EXPIRY, MqttConfig, Protocol, Qos,
    topic_filter,
};
pub use error::{MqttError, MqttErrorKind};
pub use headers::BINARY_VALUES_PROPERTY;
pub use server::{Server, ServerHandle};
pub use tls::{Credentials, Tls};

/// The README's example is a doc test too.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}
