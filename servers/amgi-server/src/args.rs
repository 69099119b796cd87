//! [`ServeArgs`]: the options every server's `run <name>` offers, declared once.
//!
//! A server flattens them into its own clap arguments (`#[command(flatten)]`) next to its
//! broker's options, and applies them onto its configuration with the helpers below. Each is an
//! `Option` so that a server keeps its own defaults: an option not given changes nothing.

use std::time::Duration;

use crate::{Deadlines, RetryPolicy};

/// The options of `run <name>` that every server offers, with the same names and meaning:
/// `--batch-size N`, `--max-deliveries N`, `--lanes N` and `--drain-timeout SECS`.
///
/// Flatten it into a server's arguments:
///
/// ```
/// use clap::{Args, FromArgMatches};
/// use amgi_server::ServeArgs;
///
/// /// The arguments of `run lines`.
/// #[derive(Debug, Args)]
/// struct LineArgs {
///     /// Addresses to consume.
///     #[arg(value_name = "ADDRESS")]
///     addresses: Vec<String>,
///     #[command(flatten)]
///     serve: ServeArgs,
/// }
///
/// let command = LineArgs::augment_args(clap::Command::new("lines"));
/// let matches = command.get_matches_from(["lines", "orders", "--lanes", "8"]);
/// let args = LineArgs::from_arg_matches(&matches).unwrap();
/// assert_eq!(args.addresses, ["orders"]);
/// assert_eq!(args.serve.lanes, Some(8));
/// assert_eq!(args.serve.batch_size(16), 16, "not given: the server's default");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
#[non_exhaustive]
pub struct ServeArgs {
    /// Largest number of messages in one batch [default: the server's].
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub batch_size: Option<usize>,
    /// Deliveries of one message at most, the first included, before it is dead-lettered
    /// [default: the server's, usually 5].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_deliveries: Option<u32>,
    /// Keyed lanes: run up to N messages of one partition or queue at once, never two with the
    /// same key, in order per key (the Kafka record key; on brokers without one, the
    /// `amgi-lane-key` header) [default: off, one batch at a time in order].
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub lanes: Option<usize>,
    /// Seconds the batches in hand get to finish on shutdown; what is unfinished then is not
    /// acknowledged, and delivered again [default: 30].
    #[arg(long, value_name = "SECS")]
    pub drain_timeout: Option<u64>,
}

/// Parses a count that must be at least 1.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(error) => Err(error.to_string()),
    }
}

impl ServeArgs {
    /// `--batch-size`, or the server's `default` when it was not given.
    ///
    /// ```
    /// let mut args = amgi_server::ServeArgs::default();
    /// assert_eq!(args.batch_size(64), 64);
    /// args.batch_size = Some(8);
    /// assert_eq!(args.batch_size(64), 8);
    /// ```
    pub fn batch_size(&self, default: usize) -> usize {
        self.batch_size.unwrap_or(default)
    }

    /// The server's retry policy `base` with `--max-deliveries` applied.
    ///
    /// ```
    /// use amgi_server::{RetryPolicy, ServeArgs};
    ///
    /// let mut args = ServeArgs::default();
    /// assert_eq!(args.retry(RetryPolicy::new(5)), RetryPolicy::new(5));
    /// args.max_deliveries = Some(2);
    /// assert_eq!(args.retry(RetryPolicy::new(5)).max_deliveries, 2);
    /// ```
    pub fn retry(&self, base: RetryPolicy) -> RetryPolicy {
        match self.max_deliveries {
            Some(deliveries) => base.max_deliveries(deliveries),
            None => base,
        }
    }

    /// `--drain-timeout` as a duration, if it was given.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut args = amgi_server::ServeArgs::default();
    /// assert_eq!(args.drain_timeout(), None);
    /// args.drain_timeout = Some(5);
    /// assert_eq!(args.drain_timeout(), Some(Duration::from_secs(5)));
    /// ```
    pub fn drain_timeout(&self) -> Option<Duration> {
        self.drain_timeout.map(Duration::from_secs)
    }

    /// The server's deadlines `base` with `--drain-timeout` applied to
    /// [`Deadlines::drain`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use amgi_server::{Deadlines, ServeArgs};
    ///
    /// let mut args = ServeArgs::default();
    /// assert_eq!(args.deadlines(Deadlines::default()), Deadlines::default());
    /// args.drain_timeout = Some(3);
    /// let deadlines = args.deadlines(Deadlines::default());
    /// assert_eq!(deadlines.drain, Duration::from_secs(3));
    /// assert_eq!(deadlines.close, Deadlines::default().close);
    /// ```
    pub fn deadlines(&self, base: Deadlines) -> Deadlines {
        match self.drain_timeout() {
            Some(drain) => base.drain(drain),
            None => base,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{Args, FromArgMatches};

    use super::*;

    fn parse(args: &[&str]) -> Result<ServeArgs, clap::Error> {
        let command = ServeArgs::augment_args(clap::Command::new("server"));
        let matches =
            command.try_get_matches_from(std::iter::once("server").chain(args.iter().copied()))?;
        ServeArgs::from_arg_matches(&matches)
    }

    #[test]
    fn every_option_parses() {
        let args = parse(&[
            "--batch-size",
            "16",
            "--max-deliveries",
            "3",
            "--lanes",
            "32",
            "--drain-timeout",
            "7",
        ])
        .unwrap();
        assert_eq!(args.batch_size, Some(16));
        assert_eq!(args.max_deliveries, Some(3));
        assert_eq!(args.lanes, Some(32));
        assert_eq!(args.drain_timeout(), Some(Duration::from_secs(7)));
        assert_eq!(args.retry(RetryPolicy::default()).max_deliveries, 3);
        assert_eq!(
            args.deadlines(Deadlines::default()).drain,
            Duration::from_secs(7)
        );
    }

    #[test]
    fn options_not_given_keep_the_servers_defaults() {
        let args = parse(&[]).unwrap();
        assert_eq!(args, ServeArgs::default());
        let base = RetryPolicy::new(9).multiplier(3.0);
        assert_eq!(args.retry(base), base);
        assert_eq!(args.deadlines(Deadlines::default()), Deadlines::default());
        assert_eq!(args.batch_size(100), 100);
    }

    #[test]
    fn zero_and_garbage_are_refused_naming_the_option() {
        for (option, value) in [
            ("--batch-size", "0"),
            ("--lanes", "0"),
            ("--max-deliveries", "0"),
            ("--lanes", "many"),
            ("--drain-timeout", "soon"),
        ] {
            let error = parse(&[option, value]).unwrap_err();
            assert!(
                error.to_string().contains(option),
                "{option} {value}: {error}"
            );
        }
    }

    #[test]
    fn every_option_has_help() {
        let command = ServeArgs::augment_args(clap::Command::new("server"));
        let names: Vec<_> = command
            .get_arguments()
            .map(|arg| (arg.get_long().unwrap_or_default(), arg.get_help().is_some()))
            .collect();
        assert_eq!(
            names,
            [
                ("batch-size", true),
                ("max-deliveries", true),
                ("lanes", true),
                ("drain-timeout", true)
            ]
        );
    }
}
