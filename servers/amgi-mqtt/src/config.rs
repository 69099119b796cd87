//! [`MqttConfig`]: where to connect, what to consume, and how to retry and dead-letter.

use std::time::Duration;

use amgi_server::{AddressPart, ChannelAddress, DeadLetterPolicy, Deadlines, RetryPolicy};

use crate::{Credentials, MqttError, Tls};

/// Largest number of messages of one topic in a batch, unless set.
pub const DEFAULT_BATCH_SIZE: usize = 64;

/// How long the broker keeps the session (subscriptions and un-`PUBACK`ed messages) after the
/// server disconnects, unless set: one day.
pub const DEFAULT_SESSION_EXPIRY: Duration = Duration::from_hours(24);

/// How long connecting to the broker may take at start, unless set.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The quality of service the server subscribes with, and publishes a `message.send` with
/// when it has no [`MqttBinding`](amgi_core::MqttBinding).
///
/// ```
/// use amgi_mqtt::Qos;
/// assert_eq!(Qos::default(), Qos::AtLeastOnce);
/// assert_eq!("2".parse::<Qos>().unwrap(), Qos::ExactlyOnce);
/// assert!("3".parse::<Qos>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Qos {
    /// QoS 0: at most once. The broker sends each message once and expects no
    /// acknowledgement: a message in hand when the server stops is lost.
    AtMostOnce,
    /// QoS 1 (the default): at least once. A message is `PUBACK`ed once the application
    /// acked it or it was dead-lettered.
    #[default]
    AtLeastOnce,
    /// QoS 2: the broker's exactly-once handshake. A message is `PUBREC`ed once the application
    /// acked it or it was dead-lettered; as with QoS 1, the application may see a message again
    /// after a crash (what it does is at least once).
    ExactlyOnce,
}

impl Qos {
    /// The level as a number, 0 to 2.
    pub fn number(self) -> u8 {
        match self {
            Self::AtMostOnce => 0,
            Self::AtLeastOnce => 1,
            Self::ExactlyOnce => 2,
        }
    }
}

impl std::str::FromStr for Qos {
    type Err = MqttError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "0" => Ok(Self::AtMostOnce),
            "1" => Ok(Self::AtLeastOnce),
            "2" => Ok(Self::ExactlyOnce),
            other => Err(MqttError::config(format!(
                "`{other}` is not an MQTT QoS: use 0, 1 or 2"
            ))),
        }
    }
}

/// The MQTT protocol version to speak.
///
/// ```
/// use amgi_mqtt::Protocol;
/// assert_eq!(Protocol::default(), Protocol::V5);
/// assert_eq!("3.1.1".parse::<Protocol>().unwrap(), Protocol::V311);
/// assert_eq!("3".parse::<Protocol>().unwrap(), Protocol::V311);
/// assert_eq!("5".parse::<Protocol>().unwrap(), Protocol::V5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// MQTT 5 (the default): headers are user properties, bindings carry the publish
    /// properties, the session has an expiry interval.
    #[default]
    V5,
    /// MQTT 3.1.1, for brokers without MQTT 5: no user properties (a `message.send` with headers
    /// fails saying so, incoming messages have none, dead letters go without the reason
    /// headers — the reason is logged), no publish properties (those of a binding are ignored),
    /// and the session is kept by the broker's own rules (clean session off, no expiry).
    V311,
}

impl std::str::FromStr for Protocol {
    type Err = MqttError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "5" | "5.0" => Ok(Self::V5),
            "3" | "3.1.1" | "311" | "4" => Ok(Self::V311),
            other => Err(MqttError::config(format!(
                "`{other}` is not an MQTT version this server speaks: use 5 (the default) or 3.1.1"
            ))),
        }
    }
}

/// The configuration of an MQTT server: a consuming builder.
///
/// ```no_run
/// use amgi_mqtt::MqttConfig;
///
/// let config = MqttConfig::new("127.0.0.1", 1883, "orders-service")
///     .topics(["orders/created", "sensors/+/temp"])
///     .group("orders")
///     .batch_size(32);
/// assert_eq!(config.subscription_filters(), ["$share/orders/orders/created", "$share/orders/sensors/+/temp"]);
/// ```
#[derive(Debug, Clone)]
pub struct MqttConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) client_id: String,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) tls: Option<Tls>,
    pub(crate) topics: Vec<String>,
    pub(crate) group: Option<String>,
    pub(crate) qos: Qos,
    pub(crate) protocol: Protocol,
    pub(crate) batch_size: usize,
    pub(crate) lanes: Option<usize>,
    pub(crate) retry: RetryPolicy,
    pub(crate) dead_letter: DeadLetterPolicy,
    pub(crate) deadlines: Deadlines,
    pub(crate) session_expiry: Duration,
    pub(crate) connect_timeout: Duration,
}

impl MqttConfig {
    /// Connects to the broker at `host`:`port` as `client_id`. The client id must be stable
    /// across restarts: it names the persistent session in which the broker keeps what the
    /// server has not acknowledged yet.
    ///
    /// ```no_run
    /// let config = amgi_mqtt::MqttConfig::new("127.0.0.1", 1883, "billing-1");
    /// ```
    pub fn new(host: impl Into<String>, port: u16, client_id: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            port,
            client_id: client_id.into(),
            credentials: None,
            tls: None,
            topics: Vec::new(),
            group: None,
            qos: Qos::default(),
            protocol: Protocol::default(),
            batch_size: DEFAULT_BATCH_SIZE,
            lanes: None,
            retry: RetryPolicy::default(),
            dead_letter: DeadLetterPolicy::default(),
            deadlines: Deadlines::default(),
            session_expiry: DEFAULT_SESSION_EXPIRY,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// Topic filters to subscribe to (exact topics, or filters with `+` and `#`).
    ///
    /// ```no_run
    /// let config = amgi_mqtt::MqttConfig::new("127.0.0.1", 1883, "c").topics(["a/b", "c/+"]);
    /// ```
    #[must_use]
    pub fn topics<I, S>(mut self, topics: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.topics.extend(topics.into_iter().map(Into::into));
        self
    }

    /// Subscribes through the shared subscription `$share/<group>/<filter>`: the servers of one
    /// group share the messages.
    ///
    /// ```no_run
    /// let config = amgi_mqtt::MqttConfig::new("127.0.0.1", 1883, "c-1").group("workers");
    /// ```
    #[must_use]
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// The QoS to subscribe with, and to publish a `message.send` with when it has no MQTT
    /// binding (default: [`Qos::AtLeastOnce`]). Dead letters are always published with QoS 1.
    ///
    /// ```no_run
    /// use amgi_mqtt::{MqttConfig, Qos};
    /// let config = MqttConfig::new("127.0.0.1", 1883, "c").qos(Qos::ExactlyOnce);
    /// ```
    #[must_use]
    pub fn qos(mut self, qos: Qos) -> Self {
        self.qos = qos;
        self
    }

    /// The protocol version (default: [`Protocol::V5`]).
    ///
    /// ```no_run
    /// use amgi_mqtt::{MqttConfig, Protocol};
    /// let config = MqttConfig::new("127.0.0.1", 1883, "c").protocol(Protocol::V311);
    /// ```
    #[must_use]
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Username and password to connect with. The password is never logged.
    ///
    /// ```no_run
    /// let password = std::env::var("MQTT_PASSWORD").unwrap_or_default();
    /// let config = amgi_mqtt::MqttConfig::new("127.0.0.1", 1883, "c").credentials("svc", password);
    /// ```
    #[must_use]
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::new(username, password));
        self
    }

    /// Connects over TLS (rustls), trusting the system's roots or a CA file. Usually with port
    /// 8883.
    ///
    /// ```no_run
    /// use amgi_mqtt::{MqttConfig, Tls};
    /// let config = MqttConfig::new("broker.example.com", 8883, "c").tls(Tls::SystemRoots);
    /// ```
    #[must_use]
    pub fn tls(mut self, tls: Tls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Largest number of messages of one topic in a batch (at least 1).
    ///
    /// ```no_run
    /// let config = amgi_mqtt::MqttConfig::new("127.0.0.1", 1883, "c").batch_size(16);
    /// ```
    #[must_use]
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Keyed lanes: run up to `lanes` messages of one topic at once, never two with the same
    /// `amgi-lane-key` header ([`amgi_server::LANE_KEY_HEADER`]), those of one key in order; a
    /// message without the header keeps no order with any other. Each message is dispatched
    /// alone, with its own retries. `PUBACK`s still go out in arrival order (MQTT requires it),
    /// each once every earlier message of the connection is finished. Default: off, one batch
    /// of a topic at a time, in order.
    ///
    /// ```no_run
    /// let config = amgi_mqtt::MqttConfig::new("127.0.0.1", 1883, "c").lanes(32);
    /// ```
    #[must_use]
    pub fn lanes(mut self, lanes: usize) -> Self {
        self.lanes = Some(lanes.max(1));
        self
    }

    /// Deliveries and backoff of nacked messages.
    ///
    /// ```no_run
    /// use amgi_server::RetryPolicy;
    /// let config = amgi_mqtt::MqttConfig::new("127.0.0.1", 1883, "c").retry(RetryPolicy::new(3));
    /// ```
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Where a message goes after its last nack (default: `<topic>.dlq`).
    ///
    /// ```no_run
    /// use amgi_server::DeadLetterPolicy;
    /// let config = amgi_mqtt::MqttConfig::new("127.0.0.1", 1883, "c")
    ///     .dead_letter(DeadLetterPolicy::address("dead/letters"));
    /// ```
    #[must_use]
    pub fn dead_letter(mut self, dead_letter: DeadLetterPolicy) -> Self {
        self.dead_letter = dead_letter;
        self
    }

    /// How long the batches in hand get on shutdown, and closing the connection.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use amgi_server::Deadlines;
    /// let config = amgi_mqtt::MqttConfig::new("127.0.0.1", 1883, "c")
    ///     .deadlines(Deadlines::default().drain(Duration::from_secs(5)));
    /// ```
    #[must_use]
    pub fn deadlines(mut self, deadlines: Deadlines) -> Self {
        self.deadlines = deadlines;
        self
    }

    /// How long the broker keeps the session after a disconnect (at least one second; MQTT
    /// counts whole seconds).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let config = amgi_mqtt::MqttConfig::new("127.0.0.1", 1883, "c")
    ///     .session_expiry(Duration::from_secs(3600));
    /// ```
    #[must_use]
    pub fn session_expiry(mut self, expiry: Duration) -> Self {
        self.session_expiry = expiry.max(Duration::from_secs(1));
        self
    }

    /// How long connecting at start may take before [`start`](crate::Server::start) fails as
    /// unreachable.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let config = amgi_mqtt::MqttConfig::new("127.0.0.1", 1883, "c")
    ///     .connect_timeout(Duration::from_secs(2));
    /// ```
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.max(Duration::from_secs(1));
        self
    }

    /// `host:port`, as errors and logs name the broker.
    pub fn broker_address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The filters subscribed to: the topics, each under `$share/<group>/` when a group is set.
    pub fn subscription_filters(&self) -> Vec<String> {
        self.topics
            .iter()
            .map(|topic| match &self.group {
                Some(group) => format!("$share/{group}/{topic}"),
                None => topic.clone(),
            })
            .collect()
    }
}

/// The MQTT topic filter of an address template: each placeholder must be a whole
/// `/`-separated level, and becomes `+` (`sensors/{id}/temp` → `sensors/+/temp`). MQTT levels
/// are separated by `/` only, so a placeholder next to a `.` (`orders.{region}`) has no filter:
/// that is a configuration error saying to name the addresses instead.
///
/// ```
/// use amgi_mqtt::topic_filter;
/// use amgi_server::{AddressPart, ChannelAddress};
///
/// let sensors = ChannelAddress::new("sensors/{id}/temp", vec![
///     AddressPart::Literal("sensors/".into()),
///     AddressPart::Placeholder("id".into()),
///     AddressPart::Literal("/temp".into()),
/// ]);
/// assert_eq!(topic_filter(&sensors).unwrap(), "sensors/+/temp");
/// let orders = ChannelAddress::new("orders.{region}", vec![
///     AddressPart::Literal("orders.".into()),
///     AddressPart::Placeholder("region".into()),
/// ]);
/// assert!(topic_filter(&orders).unwrap_err().to_string().contains("orders.{region}"));
/// ```
pub fn topic_filter(address: &ChannelAddress) -> Result<String, MqttError> {
    let mut filter = String::new();
    let parts = address.parts();
    for (index, part) in parts.iter().enumerate() {
        match part {
            AddressPart::Literal(text) => {
                if text.contains(['+', '#']) {
                    return Err(MqttError::config(format!(
                        "the address `{}` contains an MQTT wildcard (`+` or `#`)",
                        address.template()
                    )));
                }
                filter.push_str(text);
            }
            AddressPart::Placeholder(_) => {
                let starts_level = filter.is_empty() || filter.ends_with('/');
                let ends_level = match parts.get(index + 1) {
                    None => true,
                    Some(AddressPart::Literal(next)) => next.starts_with('/'),
                    Some(_) => false,
                };
                if !starts_level || !ends_level {
                    return Err(MqttError::config(format!(
                        "the address template `{}` has no MQTT topic filter: a placeholder must \
                         be a whole `/`-separated level (`sensors/{{id}}/temp`); name the \
                         addresses to consume on the command line instead",
                        address.template()
                    )));
                }
                filter.push('+');
            }
            _ => {
                return Err(MqttError::config(format!(
                    "the address template `{}` has a part this server does not know",
                    address.template()
                )));
            }
        }
    }
    Ok(filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(text: &str) -> ChannelAddress {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(AddressPart::Literal(rest[..open].into()));
            }
            let close = rest.find('}').unwrap();
            parts.push(AddressPart::Placeholder(rest[open + 1..close].into()));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(AddressPart::Literal(rest.into()));
        }
        ChannelAddress::new(text, parts)
    }

    #[test]
    fn whole_level_placeholders_become_plus() {
        for (address, filter) in [
            ("sensors/{id}/temp", "sensors/+/temp"),
            ("{site}/status", "+/status"),
            ("a/{b}/{c}", "a/+/+"),
            ("{all}", "+"),
            ("orders.created", "orders.created"),
        ] {
            assert_eq!(topic_filter(&template(address)).unwrap(), filter);
        }
    }

    #[test]
    fn partial_level_placeholders_are_refused() {
        for address in [
            "orders.{region}",
            "a/x{b}",
            "a/{b}x/c",
            "{a}.{b}",
            "a/{b}{c}",
        ] {
            let error = topic_filter(&template(address)).unwrap_err();
            assert!(error.to_string().contains(address), "{error}");
        }
    }

    #[test]
    fn wildcards_in_literals_are_refused() {
        assert!(topic_filter(&template("a/+/b")).is_err());
        assert!(topic_filter(&template("a/#")).is_err());
    }

    #[test]
    fn groups_share_each_filter() {
        let config = MqttConfig::new("h", 1, "c").topics(["a/+", "b"]).group("g");
        assert_eq!(
            config.subscription_filters(),
            ["$share/g/a/+", "$share/g/b"]
        );
        assert_eq!(config.broker_address(), "h:1");
    }
}
