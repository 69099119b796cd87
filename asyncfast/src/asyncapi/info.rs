//! The application's `info` and `servers`: [`Server`], and the settings kept on
//! [`AsyncFast`](crate::AsyncFast).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A server the application connects to, for the document's `servers`.
///
/// ```no_run
/// use asyncfast::asyncapi::Server;
///
/// let app = asyncfast::AsyncFast::new().server(
///     "production",
///     Server::new("kafka.example.com:9092", "kafka").description("The production cluster."),
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    host: String,
    protocol: String,
    protocol_version: Option<String>,
    pathname: Option<String>,
    title: Option<String>,
    summary: Option<String>,
    description: Option<String>,
    bindings: Map<String, Value>,
}

impl Server {
    /// A server at `host` (`name:port`, no scheme) speaking `protocol` (`kafka`, `mqtt`, `amqp`,
    /// `nats`, `redis`, `sqs`, …).
    ///
    /// ```no_run
    /// let server = asyncfast::asyncapi::Server::new("broker.example.com:1883", "mqtt");
    /// ```
    pub fn new(host: impl Into<String>, protocol: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            protocol: protocol.into(),
            protocol_version: None,
            pathname: None,
            title: None,
            summary: None,
            description: None,
            bindings: Map::new(),
        }
    }

    /// Sets the protocol version (such as `3.7.0` for Kafka).
    ///
    /// ```no_run
    /// let server = asyncfast::asyncapi::Server::new("kafka:9092", "kafka").protocol_version("3.7.0");
    /// ```
    #[must_use]
    pub fn protocol_version(mut self, version: impl Into<String>) -> Self {
        self.protocol_version = Some(version.into());
        self
    }

    /// Sets the path after the host (such as a virtual host).
    ///
    /// ```no_run
    /// let server = asyncfast::asyncapi::Server::new("rabbit:5672", "amqp").pathname("/production");
    /// ```
    #[must_use]
    pub fn pathname(mut self, pathname: impl Into<String>) -> Self {
        self.pathname = Some(pathname.into());
        self
    }

    /// Sets a human-friendly title.
    ///
    /// ```no_run
    /// let server = asyncfast::asyncapi::Server::new("kafka:9092", "kafka").title("Production");
    /// ```
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets a one-line summary.
    ///
    /// ```no_run
    /// let server = asyncfast::asyncapi::Server::new("kafka:9092", "kafka").summary("Orders cluster");
    /// ```
    #[must_use]
    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = Some(summary.into());
        self
    }

    /// Sets the description.
    ///
    /// ```no_run
    /// let server = asyncfast::asyncapi::Server::new("kafka:9092", "kafka").description("Three brokers.");
    /// ```
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets `field` of the server bindings object of the server's protocol, such as MQTT's
    /// `clientId`, `cleanSession`, `sessionExpiryInterval` or `keepAlive`. AsyncFast adds the
    /// `bindingVersion` it writes for Kafka (0.5.0) and MQTT (0.2.0).
    ///
    /// ```
    /// use asyncfast::asyncapi::Server;
    ///
    /// let server = Server::new("broker.example.com:1883", "mqtt")
    ///     .binding("clientId", "billing-1")
    ///     .binding("cleanSession", false)
    ///     .binding("sessionExpiryInterval", 3600);
    /// let app = asyncfast::AsyncFast::empty().server("production", server);
    /// let document = app.asyncapi();
    /// let bindings = &document["servers"]["production"]["bindings"]["mqtt"];
    /// assert_eq!(bindings["clientId"], "billing-1");
    /// assert_eq!(bindings["bindingVersion"], "0.2.0");
    /// ```
    #[must_use]
    pub fn binding(mut self, field: impl Into<String>, value: impl Into<Value>) -> Self {
        self.bindings.insert(field.into(), value.into());
        self
    }

    pub(crate) fn to_value(&self) -> Value {
        let mut object = Map::new();
        object.insert("host".to_owned(), self.host.clone().into());
        object.insert("protocol".to_owned(), self.protocol.clone().into());
        let optional = [
            ("protocolVersion", &self.protocol_version),
            ("pathname", &self.pathname),
            ("title", &self.title),
            ("summary", &self.summary),
            ("description", &self.description),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                object.insert(key.to_owned(), value.clone().into());
            }
        }
        if !self.bindings.is_empty() {
            let mut binding = self.bindings.clone();
            if let Some(version) = crate::extract::binding_version(&self.protocol) {
                binding.insert("bindingVersion".to_owned(), version.into());
            }
            let mut bindings = Map::new();
            bindings.insert(self.protocol.clone(), binding.into());
            object.insert("bindings".to_owned(), bindings.into());
        }
        object.into()
    }
}

/// What the application says about itself for the document: `info` and `servers`. Unset
/// fields default to the package that defines the application's channels.
#[derive(Debug, Clone, Default)]
pub(crate) struct Info {
    pub(crate) title: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) servers: BTreeMap<String, Server>,
}
