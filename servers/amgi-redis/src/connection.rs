//! Connections to Redis: the first one, which fails clearly when Redis is down, the
//! reconnecting [`ConnectionManager`]s the server then works with, group creation, and the
//! log of an outage (once when it starts, once when it ends).

use std::time::{Duration, Instant};

use redis::AsyncConnectionConfig;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::config::redact;
use crate::{Error, ErrorKind, RedisConfig};

/// How to start a Redis on this machine, for the message of an unreachable error.
const START_HINT: &str = "redis-server --daemonize yes --bind 127.0.0.1 --port 6379";

/// The first wait after a failed command, doubled up to [`MAX_BACKOFF`] while Redis stays
/// unreachable.
const MIN_BACKOFF: Duration = Duration::from_millis(100);

/// The longest wait between two attempts while Redis is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The Redis a server talks to: its client and its URL as logs may show it.
pub(crate) struct Redis {
    pub(crate) client: redis::Client,
    pub(crate) url: String,
    connect_timeout: Duration,
}

impl Redis {
    /// The client for `config`'s URL, or a [`ErrorKind::Config`] error naming `--url`.
    pub(crate) fn open(config: &RedisConfig) -> Result<Self, Error> {
        ensure_crypto_provider();
        let url = config.redacted_url();
        let client = redis::Client::open(config.url.as_str()).map_err(|error| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "--url {url} is not a Redis URL (redis://[USER][:PASSWORD@]HOST:PORT[/DB], \
                     rediss:// for TLS)"
                ),
                redact_error(&error, &config.url),
            )
        })?;
        Ok(Self {
            client,
            url,
            connect_timeout: config.connect_timeout,
        })
    }

    /// Connects once, failing as [`ErrorKind::Unreachable`] (naming the URL, without its
    /// password, and how to start a Redis) within the connect timeout.
    pub(crate) async fn check(&self, raw_url: &str) -> Result<(), Error> {
        let options = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.connect_timeout));
        let connecting = async {
            let mut connection = self
                .client
                .get_multiplexed_async_connection_with_config(&options)
                .await?;
            redis::cmd("PING")
                .query_async::<redis::Value>(&mut connection)
                .await
        };
        let unreachable = |cause: Box<dyn std::error::Error + Send + Sync>| {
            let message = format!(
                "Redis unreachable at {} (set --url; start one with `{START_HINT}`)",
                self.url
            );
            Error::new(ErrorKind::Unreachable, message, cause)
        };
        match tokio::time::timeout(self.connect_timeout, connecting).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(unreachable(redact_error(&error, raw_url).into())),
            Err(elapsed) => Err(unreachable(elapsed.into())),
        }
    }

    /// A connection that reconnects by itself after Redis went away: a command fails while
    /// Redis is unreachable, and the next one after it is back succeeds. Connects lazily.
    pub(crate) fn manager(
        &self,
        response_timeout: Option<Duration>,
    ) -> Result<ConnectionManager, Error> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(response_timeout)
            .set_min_delay(MIN_BACKOFF)
            .set_max_delay(MAX_BACKOFF)
            .set_number_of_retries(2);
        ConnectionManager::new_lazy_with_config(self.client.clone(), config).map_err(|error| {
            Error::new(
                ErrorKind::Config,
                format!("cannot manage connections to {}", self.url),
                error.to_string(),
            )
        })
    }
}

/// The client error's message, with the URL's password redacted should it appear.
pub(crate) fn redact_error(error: &redis::RedisError, url: &str) -> String {
    let message = error.to_string();
    let redacted = redact(url);
    if redacted == url {
        message
    } else {
        message.replace(url, &redacted)
    }
}

/// `XGROUP CREATE stream group <start> MKSTREAM`, accepting a group that exists.
pub(crate) async fn create_group(
    mut connection: ConnectionManager,
    stream: &str,
    config: &RedisConfig,
) -> Result<(), Error> {
    let created: redis::RedisResult<()> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(stream)
        .arg(&config.group)
        .arg(config.start.id())
        .arg("MKSTREAM")
        .query_async(&mut connection)
        .await;
    match created {
        Err(error) if error.code() != Some("BUSYGROUP") => Err(Error::new(
            ErrorKind::Command,
            format!(
                "could not create consumer group `{}` on stream `{stream}`",
                config.group
            ),
            error,
        )),
        _ => Ok(()),
    }
}

/// Whether Redis answered that the group (or the stream) does not exist: Redis restarted
/// without persistence, or someone deleted the key.
pub(crate) fn is_no_group(error: &redis::RedisError) -> bool {
    error.code() == Some("NOGROUP")
}

/// An outage of one loop's connection: logged once when it starts and once when it ends,
/// with a growing wait between attempts meanwhile.
pub(crate) struct Outage {
    what: String,
    url: String,
    since: Option<Instant>,
    backoff: Duration,
}

impl Outage {
    /// No outage yet, for the loop described by `what` (`stream orders`).
    pub(crate) fn new(what: String, url: String) -> Self {
        Self {
            what,
            url,
            since: None,
            backoff: MIN_BACKOFF,
        }
    }

    /// A command failed with `error`: logs the start of the outage (the first failure only)
    /// and waits before the next attempt, or returns `false` when `stop` is set first.
    pub(crate) async fn failed(&mut self, error: String, stop: &amgi_server::StopSignal) -> bool {
        if self.since.is_none() {
            self.since = Some(Instant::now());
            tracing::warn!(url = %self.url, what = %self.what, %error,
                "Redis connection lost; reconnecting (entries not acked stay pending and are \
                 read again)");
        } else {
            tracing::debug!(url = %self.url, what = %self.what, %error, "still reconnecting");
        }
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        stop.run_until_stopped(tokio::time::sleep(wait))
            .await
            .is_some()
    }

    /// A command succeeded: logs the end of the outage, if there was one.
    pub(crate) fn succeeded(&mut self) {
        if let Some(since) = self.since.take() {
            tracing::info!(url = %self.url, what = %self.what, outage = ?since.elapsed(),
                "reconnected to Redis");
            self.backoff = MIN_BACKOFF;
        }
    }
}

/// Makes rustls's `ring` provider the process default unless one is installed already: in a
/// program that also links another provider (aws-lc-rs, through the AWS SDK), rustls cannot pick
/// one by itself and a TLS connection would panic.
fn ensure_crypto_provider() {
    // An error only says that a provider is installed already, which is what is wanted.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
