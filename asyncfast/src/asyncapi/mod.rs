//! The AsyncAPI document of an application ([`AsyncFast::asyncapi`]), and the contract check
//! that tells whether a new document breaks an old one ([`contract`]).
//!
//! The document is a fold over the application's handlers: each handler parameter documents
//! itself ([`FromMessage::document`](crate::extract::FromMessage::document) writes into an
//! [`OperationDoc`]), the return type and `#[channel(…, sends = [A])]` list the messages the
//! handler sends ([`DescribeOutcome`], [`Sends`]), and `#[derive(Message)]` documents each
//! message ([`DescribeMessage`]). Schemas come from one `schemars` generator per document; named
//! types are defined once under `#/components/schemas/` and referenced with `$ref`.
//!
//! Names follow the Python AsyncFast: the handler `on_hello` gives the channel `OnHello`, its
//! message `OnHelloMessage` (headers schema `OnHelloMessageHeaders`) and the operation
//! `receiveOnHello`; a sent message type `OrderProcessed` gives the channel and message
//! `OrderProcessed` and the operation `sendOrderProcessed`. A name used twice gets a number
//! (`OrderProcessed2`), in the order the channels were added.
//!
//! ```
//! use asyncfast::prelude::*;
//!
//! /// Greets users.
//! #[channel("user.created")]
//! async fn on_user_created(email: Payload<String>, correlation_id: Header<String>) {}
//!
//! let doc = AsyncFast::empty().title("Users").channel(handler!(on_user_created)).asyncapi();
//! assert_eq!(doc["asyncapi"], "3.0.0");
//! assert_eq!(doc["channels"]["OnUserCreated"]["address"], "user.created");
//! assert_eq!(doc["operations"]["receiveOnUserCreated"]["summary"], "Greets users.");
//! assert_eq!(
//!     doc["components"]["schemas"]["OnUserCreatedMessageHeaders"]["required"],
//!     serde_json::json!(["correlation-id"])
//! );
//! ```

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::AsyncFast;

mod builder;
pub(crate) mod cli;
pub mod contract;
mod doc;
mod error;
mod info;
mod outgoing;
mod schema;

pub use doc::{HeaderDoc, OperationDoc, ParameterDoc, PayloadDoc};
pub use error::AsyncApiError;
pub(crate) use info::Info;
pub use info::Server;
pub use outgoing::{DescribeMessage, DescribeOutcome, Sends};

#[doc(hidden)]
pub mod __private {
    //! What the extractors and macro output use.
    pub use super::schema::{Probe, ViaBytes, ViaDisplay, ViaJsonSchema};
    use super::{HeaderDoc, OperationDoc, ParameterDoc, PayloadDoc};
    use crate::extract::HeaderValue;
    pub use schemars;

    /// A string.
    pub fn string_schema() -> schemars::Schema {
        super::schema::string()
    }

    /// The payload of `Payload<T>`.
    pub fn received_payload<T: schemars::JsonSchema + 'static>(
        doc: &mut OperationDoc<'_>,
    ) -> PayloadDoc {
        super::schema::received_payload::<T>(doc.generator())
    }

    /// The payload of a `#[payload]` field of type `T`.
    pub fn sent_payload<T: schemars::JsonSchema + 'static>(doc: &mut OperationDoc<'_>) {
        let payload = super::schema::sent_payload::<T>(doc.generator());
        doc.payload(payload);
    }

    /// A `#[header]` field of type `T`.
    pub fn sent_header<T: HeaderValue>(
        doc: &mut OperationDoc<'_>,
        name: &str,
        description: Option<&str>,
    ) {
        let schema = T::schema(doc.generator());
        let mut header = HeaderDoc::new(name, schema).required(T::REQUIRED);
        if let Some(description) = description {
            header = header.description(description);
        }
        doc.header(header);
    }

    /// A field filling the address placeholder `name`.
    pub fn sent_parameter(
        doc: &mut OperationDoc<'_>,
        name: &str,
        description: Option<&str>,
        schema: schemars::Schema,
    ) {
        let mut parameter = ParameterDoc::new().schema(schema);
        if let Some(description) = description {
            parameter = parameter.description(description);
        }
        doc.parameter(name, parameter);
    }

    /// A `#[binding(…)]` field documented in the message bindings: `field` of `protocol`'s
    /// message binding object (`key` for `kafka_key`, `correlationData` for
    /// `mqtt_correlation_data`, `responseTopic` for `mqtt_response_topic`) has `schema`.
    pub fn sent_message_binding(
        doc: &mut OperationDoc<'_>,
        protocol: &str,
        field: &str,
        description: Option<&str>,
        mut schema: schemars::Schema,
    ) {
        if let Some(description) = description {
            schema.insert("description".to_owned(), description.into());
        }
        crate::extract::document_message_binding(doc, protocol, field, schema.to_value());
    }
}

/// The AsyncAPI version `asyncapi()` writes by default (what the Python AsyncFast emits).
pub const ASYNCAPI_VERSION: &str = "3.0.0";

/// The AsyncAPI version of a document. Both versions share the structure AsyncFast writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpecVersion {
    /// AsyncAPI 3.0.0, the default.
    #[default]
    V3_0_0,
    /// AsyncAPI 3.1.0, the latest.
    V3_1_0,
}

impl SpecVersion {
    /// The version string, such as `3.0.0`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V3_0_0 => "3.0.0",
            Self::V3_1_0 => "3.1.0",
        }
    }
}

impl fmt::Display for SpecVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version string AsyncFast does not write.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unsupported AsyncAPI version `{0}`: use 3.0.0 or 3.1.0")]
#[non_exhaustive]
pub struct UnsupportedVersion(pub String);

impl FromStr for SpecVersion {
    type Err = UnsupportedVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "3.0.0" | "3.0" => Ok(Self::V3_0_0),
            "3.1.0" | "3.1" => Ok(Self::V3_1_0),
            other => Err(UnsupportedVersion(other.to_owned())),
        }
    }
}

/// `handle_user_created` → `HandleUserCreated`.
///
/// ```
/// assert_eq!(asyncfast::asyncapi::pascal_case("handle_user_created"), "HandleUserCreated");
/// assert_eq!(asyncfast::asyncapi::pascal_case("order-v2.done"), "OrderV2Done");
/// ```
pub fn pascal_case(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// The AsyncAPI 3.0.0 document of `app`; the same as [`AsyncFast::asyncapi`].
///
/// ```
/// let doc = asyncfast::asyncapi::document(&asyncfast::AsyncFast::empty());
/// assert_eq!(doc["asyncapi"], "3.0.0");
/// ```
pub fn document(app: &AsyncFast) -> Value {
    app.asyncapi()
}

impl AsyncFast {
    /// The application's AsyncAPI 3.0.0 document: `info`, `servers`, a channel, message and
    /// `receive…` operation per handler, a channel, message and `send…` operation per message
    /// type the handlers send, and the schemas under `components`. Object keys are sorted, so
    /// the JSON text is the same from one run to the next.
    ///
    /// ```
    /// use asyncfast::prelude::*;
    ///
    /// #[channel("orders.{region}")]
    /// async fn on_order(region: Param<String>, order: Payload<serde_json::Value>) {}
    ///
    /// let doc = AsyncFast::empty().channel(handler!(on_order)).asyncapi();
    /// assert_eq!(doc["operations"]["receiveOnOrder"]["action"], "receive");
    /// assert!(doc["channels"]["OnOrder"]["parameters"]["region"].is_object());
    /// ```
    pub fn asyncapi(&self) -> Value {
        self.asyncapi_for(SpecVersion::default())
    }

    /// The document, for AsyncAPI `version`.
    ///
    /// ```
    /// use asyncfast::asyncapi::SpecVersion;
    ///
    /// let doc = asyncfast::AsyncFast::empty().asyncapi_for(SpecVersion::V3_1_0);
    /// assert_eq!(doc["asyncapi"], "3.1.0");
    /// ```
    pub fn asyncapi_for(&self, version: SpecVersion) -> Value {
        builder::build(self, version)
    }

    /// Declares a server the application runs against, for the document's `servers` (keyed by
    /// `name`; a name given twice keeps the last server).
    ///
    /// ```no_run
    /// use asyncfast::asyncapi::Server;
    ///
    /// let app = asyncfast::AsyncFast::new()
    ///     .server("production", Server::new("kafka.example.com:9092", "kafka").description("Orders."))
    ///     .server("local", Server::new("localhost:9092", "kafka"));
    /// ```
    #[must_use]
    pub fn server(mut self, name: impl Into<String>, server: Server) -> Self {
        self.info.servers.insert(name.into(), server);
        self
    }
}

/// The guide page `docs/guide/asyncapi.md`, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/guide/asyncapi.md")]
mod guide {}
