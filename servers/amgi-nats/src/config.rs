//! [`NatsConfig`]: where to connect, what to consume, and how (core NATS or a JetStream pull
//! consumer).

use std::path::PathBuf;
use std::time::Duration;

use amgi_server::{AddressPart, ChannelAddress, DeadLetterPolicy, Deadlines, RetryPolicy};

use crate::NatsError;

/// Default largest number of messages in a batch.
pub const DEFAULT_BATCH_SIZE: usize = 64;
/// Default time connecting at start may take.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default JetStream ack wait of a consumer this server creates: a message not acked within it
/// is delivered again (while a handler runs, "in progress" acks extend it).
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);

/// How to authenticate. Secrets are never logged.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// No credentials (or those of the URL).
    #[default]
    None,
    /// A user and password.
    UserPassword {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// A token.
    Token(String),
    /// A `.creds` file (JWT and `NKey` seed).
    CredsFile(PathBuf),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::UserPassword { user, .. } => write!(f, "UserPassword({user}, ***)"),
            Self::Token(_) => f.write_str("Token(***)"),
            Self::CredsFile(path) => write!(f, "CredsFile({})", path.display()),
        }
    }
}

/// The JetStream side of a configuration: the stream and the durable pull consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JetStream {
    /// The stream to consume (it must exist).
    pub stream: String,
    /// The durable consumer's name (created when missing).
    pub durable: String,
    /// The ack wait of a consumer this server creates.
    pub ack_wait: Duration,
}

/// The configuration of a [`Server`](crate::Server): a consuming builder.
///
/// ```no_run
/// use amgi_nats::NatsConfig;
///
/// let core = NatsConfig::new("nats://127.0.0.1:4222").subjects(["orders.*"]).group("billing");
/// let jetstream = NatsConfig::new("nats://127.0.0.1:4222")
///     .subjects(["orders.created"])
///     .jetstream("ORDERS", "billing");
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct NatsConfig {
    /// The server URL(s), comma-separated (`nats://`, `tls://`).
    pub url: String,
    /// Subjects to consume (wildcards allowed).
    pub subjects: Vec<String>,
    /// Core NATS queue group.
    pub group: Option<String>,
    /// JetStream stream and durable consumer; core NATS when `None`.
    pub jetstream: Option<JetStream>,
    /// Credentials.
    pub auth: Auth,
    /// A PEM file of CA certificates to trust for `tls://`.
    pub ca_file: Option<PathBuf>,
    /// Largest number of messages in a batch.
    pub batch_size: usize,
    /// Keyed lanes (see [`NatsConfig::lanes`]).
    pub lanes: Option<usize>,
    /// Deliveries and backoff of nacked messages (JetStream).
    pub retry: RetryPolicy,
    /// Where a message goes after its last nack (JetStream).
    pub dead_letter: DeadLetterPolicy,
    /// Drain and close deadlines.
    pub deadlines: Deadlines,
    /// How long connecting at start may take.
    pub connect_timeout: Duration,
}

/// The URL without its password or token; [`Auth`] hides its secrets too.
impl std::fmt::Debug for NatsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsConfig")
            .field("url", &self.redacted_url())
            .field("subjects", &self.subjects)
            .field("group", &self.group)
            .field("jetstream", &self.jetstream)
            .field("auth", &self.auth)
            .field("ca_file", &self.ca_file)
            .field("batch_size", &self.batch_size)
            .field("lanes", &self.lanes)
            .field("retry", &self.retry)
            .field("dead_letter", &self.dead_letter)
            .field("deadlines", &self.deadlines)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl NatsConfig {
    /// Connects to `url` (`nats://host:port`, `tls://host:port`; several separated by commas).
    ///
    /// ```no_run
    /// let config = amgi_nats::NatsConfig::new("nats://127.0.0.1:4222");
    /// ```
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            subjects: Vec::new(),
            group: None,
            jetstream: None,
            auth: Auth::None,
            ca_file: None,
            batch_size: DEFAULT_BATCH_SIZE,
            lanes: None,
            retry: RetryPolicy::default(),
            dead_letter: DeadLetterPolicy::default(),
            deadlines: Deadlines::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// Subjects to consume: exact subjects, or with the wildcards `*` and `>`.
    ///
    /// ```no_run
    /// let config = amgi_nats::NatsConfig::new("nats://127.0.0.1").subjects(["a.b", "c.*"]);
    /// ```
    #[must_use]
    pub fn subjects<I, S>(mut self, subjects: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.subjects.extend(subjects.into_iter().map(Into::into));
        self
    }

    /// Core NATS: subscribe in queue group `group`, so that the servers of one group share the
    /// messages (each goes to one of them).
    ///
    /// ```no_run
    /// let config = amgi_nats::NatsConfig::new("nats://127.0.0.1").group("workers");
    /// ```
    #[must_use]
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// JetStream, at least once: consume `stream` through the durable pull consumer `durable`
    /// (created when missing, filtered to the subjects).
    ///
    /// ```no_run
    /// let config = amgi_nats::NatsConfig::new("nats://127.0.0.1").jetstream("ORDERS", "billing");
    /// ```
    #[must_use]
    pub fn jetstream(mut self, stream: impl Into<String>, durable: impl Into<String>) -> Self {
        self.jetstream = Some(JetStream {
            stream: stream.into(),
            durable: durable.into(),
            ack_wait: DEFAULT_ACK_WAIT,
        });
        self
    }

    /// The ack wait of a JetStream consumer this server creates (an existing consumer keeps its
    /// own). No effect on core NATS.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let config = amgi_nats::NatsConfig::new("nats://127.0.0.1")
    ///     .jetstream("ORDERS", "billing")
    ///     .ack_wait(Duration::from_secs(10));
    /// ```
    #[must_use]
    pub fn ack_wait(mut self, ack_wait: Duration) -> Self {
        if let Some(jetstream) = &mut self.jetstream {
            jetstream.ack_wait = ack_wait.max(Duration::from_millis(100));
        }
        self
    }

    /// How to authenticate. Secrets are never logged.
    ///
    /// ```no_run
    /// use amgi_nats::{Auth, NatsConfig};
    /// let token = std::env::var("NATS_TOKEN").unwrap_or_default();
    /// let config = NatsConfig::new("nats://127.0.0.1").auth(Auth::Token(token));
    /// ```
    #[must_use]
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Trust the CA certificates of this PEM file for `tls://` URLs (otherwise the system's).
    ///
    /// ```no_run
    /// let config = amgi_nats::NatsConfig::new("tls://nats.example.com:4222").ca_file("ca.pem");
    /// ```
    #[must_use]
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Largest number of messages in a batch (at least 1): in core NATS, of those that arrived
    /// together; in JetStream, also the most messages pulled ahead.
    ///
    /// ```no_run
    /// let config = amgi_nats::NatsConfig::new("nats://127.0.0.1").batch_size(16);
    /// ```
    #[must_use]
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Keyed lanes: run up to `lanes` messages of a batch at once, never two with the same
    /// `amgi-lane-key` header ([`amgi_server::LANE_KEY_HEADER`]); each message is then a batch
    /// of its own. Default: off, a batch at a time, in order.
    ///
    /// ```no_run
    /// let config = amgi_nats::NatsConfig::new("nats://127.0.0.1").lanes(8);
    /// ```
    #[must_use]
    pub fn lanes(mut self, lanes: usize) -> Self {
        self.lanes = Some(lanes.max(1));
        self
    }

    /// Deliveries and backoff of nacked messages (JetStream; core NATS never redelivers).
    ///
    /// ```no_run
    /// use amgi_server::RetryPolicy;
    /// let config = amgi_nats::NatsConfig::new("nats://127.0.0.1").retry(RetryPolicy::new(3));
    /// ```
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Where a message goes after its last nack (default: `<subject>.dlq`).
    ///
    /// ```no_run
    /// use amgi_server::DeadLetterPolicy;
    /// let config = amgi_nats::NatsConfig::new("nats://127.0.0.1")
    ///     .dead_letter(DeadLetterPolicy::address("dead.letters"));
    /// ```
    #[must_use]
    pub fn dead_letter(mut self, dead_letter: DeadLetterPolicy) -> Self {
        self.dead_letter = dead_letter;
        self
    }

    /// How long the batches in hand get on shutdown.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use amgi_server::Deadlines;
    /// let config = amgi_nats::NatsConfig::new("nats://127.0.0.1")
    ///     .deadlines(Deadlines::default().drain(Duration::from_secs(5)));
    /// ```
    #[must_use]
    pub fn deadlines(mut self, deadlines: Deadlines) -> Self {
        self.deadlines = deadlines;
        self
    }

    /// How long connecting at start may take before [`start`](crate::Server::start) fails as
    /// unreachable.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let config = amgi_nats::NatsConfig::new("nats://127.0.0.1")
    ///     .connect_timeout(Duration::from_secs(2));
    /// ```
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.max(Duration::from_millis(100));
        self
    }

    /// The URL without a password or token, as errors and logs name it.
    ///
    /// ```
    /// let config = amgi_nats::NatsConfig::new("nats://u:secret@h:4222");
    /// assert_eq!(config.redacted_url(), "nats://u:***@h:4222");
    /// ```
    pub fn redacted_url(&self) -> String {
        self.url
            .split(',')
            .map(|url| {
                let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
                let Some((credentials, host)) = rest.rsplit_once('@') else {
                    return url.to_owned();
                };
                let user = credentials.split_once(':').map_or("***", |(user, _)| user);
                let hidden = if credentials.contains(':') {
                    format!("{user}:***")
                } else {
                    "***".to_owned()
                };
                let prefix = if scheme.is_empty() {
                    String::new()
                } else {
                    format!("{scheme}://")
                };
                format!("{prefix}{hidden}@{host}")
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The NATS subject of an address template: each placeholder must be a whole `.`-separated
/// token, and becomes `*` (`orders.{region}` → `orders.*`).
///
/// ```
/// use amgi_nats::subject_filter;
/// use amgi_server::{AddressPart, ChannelAddress};
///
/// let orders = ChannelAddress::new("orders.{region}", vec![
///     AddressPart::Literal("orders.".into()),
///     AddressPart::Placeholder("region".into()),
/// ]);
/// assert_eq!(subject_filter(&orders).unwrap(), "orders.*");
/// let partial = ChannelAddress::new("orders-{region}", vec![
///     AddressPart::Literal("orders-".into()),
///     AddressPart::Placeholder("region".into()),
/// ]);
/// assert!(subject_filter(&partial).unwrap_err().to_string().contains("orders-{region}"));
/// ```
pub fn subject_filter(address: &ChannelAddress) -> Result<String, NatsError> {
    let mut filter = String::new();
    let parts = address.parts();
    for (index, part) in parts.iter().enumerate() {
        match part {
            AddressPart::Literal(text) => {
                if text.contains(['*', '>']) {
                    return Err(NatsError::config(format!(
                        "the address `{}` contains a NATS wildcard (`*` or `>`)",
                        address.template()
                    )));
                }
                filter.push_str(text);
            }
            AddressPart::Placeholder(_) => {
                let starts_token = filter.is_empty() || filter.ends_with('.');
                let ends_token = match parts.get(index + 1) {
                    None => true,
                    Some(AddressPart::Literal(next)) => next.starts_with('.'),
                    Some(_) => false,
                };
                if !starts_token || !ends_token {
                    return Err(NatsError::config(format!(
                        "the address template `{}` has no NATS subject: a placeholder must be a \
                         whole `.`-separated token (`orders.{{region}}`); name the subjects to \
                         consume on the command line instead",
                        address.template()
                    )));
                }
                filter.push('*');
            }
            _ => {
                return Err(NatsError::config(format!(
                    "the address template `{}` has a part this server does not know",
                    address.template()
                )));
            }
        }
    }
    Ok(filter)
}

/// Whether `subject` matches the NATS subject `filter` (with `*` and `>`).
pub(crate) fn subject_matches(filter: &str, subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for pattern in filter.split('.') {
        match (pattern, tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (pattern, Some(token)) if pattern == token => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
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
    fn whole_token_placeholders_become_stars() {
        for (address, filter) in [
            ("orders.{region}", "orders.*"),
            ("{site}.status", "*.status"),
            ("a.{b}.{c}", "a.*.*"),
            ("{all}", "*"),
            ("orders.created", "orders.created"),
        ] {
            assert_eq!(subject_filter(&template(address)).unwrap(), filter);
        }
    }

    #[test]
    fn partial_token_placeholders_and_wildcards_are_refused() {
        for address in ["orders-{region}", "a.x{b}", "a.{b}x.c", "a.{b}{c}", "a/{b}"] {
            let error = subject_filter(&template(address)).unwrap_err();
            assert!(error.to_string().contains(address), "{error}");
        }
        assert!(subject_filter(&template("a.*")).is_err());
        assert!(subject_filter(&template("a.>")).is_err());
    }

    #[test]
    fn subjects_match_filters() {
        assert!(subject_matches("a.*", "a.b"));
        assert!(!subject_matches("a.*", "a.b.c"));
        assert!(subject_matches("a.>", "a.b.c"));
        assert!(!subject_matches("a.>", "a"));
        assert!(subject_matches("a.b", "a.b"));
        assert!(!subject_matches("a.b", "a.b.dlq"));
    }

    #[test]
    fn secrets_are_redacted() {
        let config = NatsConfig::new("nats://tok@h:1,nats://h2:2");
        assert_eq!(config.redacted_url(), "nats://***@h:1,nats://h2:2");
        let auth = Auth::UserPassword {
            user: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
        assert!(!format!("{:?}", Auth::Token("t0k".into())).contains("t0k"));
        let config = NatsConfig::new("nats://u:hunter2@h:1").auth(auth);
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
