//! [`ServerCommand`]: how a server offers `run <name>` to an application's command line, and
//! what the application tells it ([`ServeContext`], [`AppChannels`]).
//!
//! A server crate implements the trait once (its `cli.rs`: clap arguments and their mapping
//! onto its configuration); a framework registers it, builds the `run` subcommand from
//! [`ServerCommand::command`] and, when the user picks it, calls [`ServerCommand::serve`] with
//! the parsed arguments. The framework never sees the server's options, and the server never
//! sees the framework.

use std::fmt;
use std::sync::Arc;

use amgi_core::BoxApplication;
use futures_util::future::BoxFuture;

use crate::ServeError;

/// One channel of the application: its address template, split into parts.
///
/// ```
/// use amgi_server::{AddressPart, ChannelAddress};
///
/// let exact = ChannelAddress::new("user.created", vec![AddressPart::Literal("user.created".into())]);
/// assert_eq!(exact.exact(), Some("user.created"));
/// let template = ChannelAddress::new("orders.{region}", vec![
///     AddressPart::Literal("orders.".into()),
///     AddressPart::Placeholder("region".into()),
/// ]);
/// assert_eq!(template.exact(), None);
/// assert_eq!(template.regex(), r"^orders\.[^./]+$");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelAddress {
    template: String,
    parts: Vec<AddressPart>,
}

/// A piece of an address template.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressPart {
    /// Text that appears as is (separators included).
    Literal(String),
    /// A placeholder: one or more characters other than the separators `.` and `/`.
    Placeholder(String),
}

/// The characters that separate address segments; a placeholder never spans one.
pub const ADDRESS_SEPARATORS: [char; 2] = ['.', '/'];

impl ChannelAddress {
    /// A channel address from its template text and parts.
    pub fn new(template: impl Into<String>, parts: Vec<AddressPart>) -> Self {
        Self {
            template: template.into(),
            parts,
        }
    }

    /// The template as written, e.g. `orders.{region}`.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// The parts, in order.
    pub fn parts(&self) -> &[AddressPart] {
        &self.parts
    }

    /// The address itself when the template has no placeholder.
    pub fn exact(&self) -> Option<&str> {
        self.parts
            .iter()
            .all(|part| matches!(part, AddressPart::Literal(_)))
            .then_some(self.template.as_str())
    }

    /// A regular expression (POSIX extended and PCRE alike) matching the addresses of the
    /// template, anchored at both ends: literals escaped, each placeholder `[^./]+`. Kafka's
    /// regex subscriptions take it as `^…$`.
    pub fn regex(&self) -> String {
        let mut regex = String::from("^");
        for part in &self.parts {
            match part {
                AddressPart::Literal(text) => {
                    for c in text.chars() {
                        if "\\.+*?()|[]{}^$".contains(c) {
                            regex.push('\\');
                        }
                        regex.push(c);
                    }
                }
                AddressPart::Placeholder(_) => regex.push_str("[^./]+"),
            }
        }
        regex.push('$');
        regex
    }
}

/// The application's channels, as a server needs them to choose what to consume.
#[derive(Clone)]
pub struct AppChannels {
    channels: Vec<ChannelAddress>,
    matcher: Arc<dyn Fn(&str) -> bool + Send + Sync>,
}

impl fmt::Debug for AppChannels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.channels).finish()
    }
}

impl AppChannels {
    /// The channels, and the application's own test of whether an address has a channel (its
    /// router: one implementation of template matching).
    pub fn new(
        channels: Vec<ChannelAddress>,
        matcher: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> Self {
        Self {
            channels,
            matcher: Arc::new(matcher),
        }
    }

    /// The channels.
    pub fn channels(&self) -> &[ChannelAddress] {
        &self.channels
    }

    /// Whether some channel takes messages of `address`.
    pub fn matches(&self, address: &str) -> bool {
        (self.matcher)(address)
    }

    /// The channels' templates, comma-separated, for messages.
    pub fn describe(&self) -> String {
        if self.channels.is_empty() {
            return "(none)".to_owned();
        }
        self.channels
            .iter()
            .map(|c| format!("`{}`", c.template()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The addresses to consume: `given` on the command line, each checked against the
    /// channels, or when none is given, every channel's exact address. Templates are returned
    /// separately for the server to map onto its native patterns.
    ///
    /// Fails with a [`ServeError`] of kind [`Config`](crate::ServeErrorKind::Config) that lists
    /// the channels when a given address has no channel, or when nothing would be consumed.
    ///
    /// ```
    /// use amgi_server::{AddressPart, AppChannels, ChannelAddress};
    ///
    /// let channels = AppChannels::new(
    ///     vec![ChannelAddress::new("user.created", vec![AddressPart::Literal("user.created".into())])],
    ///     |address| address == "user.created",
    /// );
    /// assert_eq!(channels.resolve(&[]).unwrap().exact, ["user.created"]);
    /// let error = channels.resolve(&["user.deleted".into()]).unwrap_err();
    /// assert!(error.to_string().contains("`user.created`"), "{error}");
    /// ```
    pub fn resolve(&self, given: &[String]) -> Result<Subscription, ServeError> {
        if !given.is_empty() {
            let unknown: Vec<&str> = given
                .iter()
                .filter(|address| !self.matches(address))
                .map(String::as_str)
                .collect();
            if !unknown.is_empty() {
                return Err(ServeError::config(format!(
                    "no channel of the application takes {}: its channels are {}",
                    unknown
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    self.describe()
                )));
            }
            let mut exact = Vec::new();
            for address in given {
                if !exact.contains(address) {
                    exact.push(address.clone());
                }
            }
            return Ok(Subscription {
                exact,
                templates: Vec::new(),
            });
        }
        let mut subscription = Subscription::default();
        for channel in &self.channels {
            match channel.exact() {
                Some(address) => subscription.exact.push(address.to_owned()),
                None => subscription.templates.push(channel.clone()),
            }
        }
        if subscription.exact.is_empty() && subscription.templates.is_empty() {
            return Err(ServeError::config(
                "the application has no channel: there is nothing to consume",
            ));
        }
        Ok(subscription)
    }
}

/// What a server consumes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Subscription {
    /// Addresses to consume as they are.
    pub exact: Vec<String>,
    /// Templates to consume through the broker's own patterns (a Kafka regex subscription, an
    /// MQTT `+` filter, a NATS `*` subject), or to refuse with a clear error where the broker
    /// has none.
    pub templates: Vec<ChannelAddress>,
}

/// What a framework hands a server command to serve with.
pub struct ServeContext {
    /// The application.
    pub app: BoxApplication,
    /// Its channels.
    pub channels: AppChannels,
    /// Completes when the server is to shut down gracefully (by default
    /// [`shutdown_signal`](crate::shutdown_signal): SIGINT or SIGTERM, a second one exits).
    pub shutdown: BoxFuture<'static, ()>,
}

impl fmt::Debug for ServeContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeContext")
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

/// A server's `run <name>` command.
///
/// ```
/// use amgi_server::{ServeContext, ServeError, ServerCommand};
/// use futures_util::future::BoxFuture;
///
/// /// `run nowhere`: consumes nothing, until shutdown.
/// struct Nowhere;
///
/// impl ServerCommand for Nowhere {
///     fn name(&self) -> &'static str {
///         "nowhere"
///     }
///
///     fn command(&self) -> clap::Command {
///         clap::Command::new("nowhere").about("Serve on nothing at all")
///     }
///
///     fn serve(&self, _args: clap::ArgMatches, cx: ServeContext) -> BoxFuture<'static, Result<(), ServeError>> {
///         Box::pin(async move {
///             cx.shutdown.await;
///             Ok(())
///         })
///     }
/// }
/// ```
pub trait ServerCommand: Send + Sync + 'static {
    /// The subcommand's name: `kafka` for `run kafka`.
    fn name(&self) -> &'static str;

    /// The subcommand with its arguments, named [`name`](Self::name) (for clap derive:
    /// `Args::augment_args(clap::Command::new(name))`).
    fn command(&self) -> clap::Command;

    /// Serves `cx.app` with the parsed arguments until `cx.shutdown` completes, then shuts down
    /// gracefully. Logs one `info` line when serving starts (server, addresses, group).
    fn serve(
        &self,
        args: clap::ArgMatches,
        cx: ServeContext,
    ) -> BoxFuture<'static, Result<(), ServeError>>;
}
