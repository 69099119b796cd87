//! [`Link`]: the connection to the broker, opened again with backoff when it is lost.
//!
//! Each connection is a [`Session`]: the connection, a publishing channel in confirm mode, and
//! a channel consuming the direct reply-to pseudo-queue for requests. Consumers and publishers
//! ask the link for the current session; one that found its session broken asks for a new one,
//! and the first to ask reconnects (logging the outage once), while the others wait for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amgi_core::extension::Reply;
use amgi_server::StopSignal;
use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, ConfirmSelectOptions};
use lapin::tcp::OwnedTLSConfig;
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use tokio::sync::oneshot;

use crate::error::AmqpErrorKind;
use crate::{AmqpConfig, AmqpError, AmqpUrl};

/// The pseudo-queue of RabbitMQ's direct reply-to.
pub(crate) const DIRECT_REPLY_TO: &str = "amq.rabbitmq.reply-to";

/// First and longest wait between two reconnection attempts.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

/// Requests waiting for their reply, by correlation id.
pub(crate) type ReplyWaiters = Mutex<HashMap<String, oneshot::Sender<Reply>>>;

/// One connection and its shared channels.
pub(crate) struct Session {
    /// Counts the connections of a link: 1 for the first.
    pub(crate) generation: u64,
    pub(crate) connection: Connection,
    /// Publishes `message.send`s and dead letters, in confirm mode.
    pub(crate) publisher: Channel,
    /// Publishes requests and consumes their replies (direct reply-to).
    pub(crate) requests: Channel,
}

/// The connection to the broker at `url`, reopened when lost.
pub(crate) struct Link {
    url: AmqpUrl,
    /// The certificate authorities to trust (PEM), instead of the system's.
    ca: Option<String>,
    connect_timeout: Duration,
    name: String,
    stop: Arc<StopSignal>,
    replies: Arc<ReplyWaiters>,
    current: tokio::sync::Mutex<Option<Arc<Session>>>,
}

impl Link {
    /// Connects to `url` (an [`Unreachable`](AmqpErrorKind::Unreachable) error naming the
    /// redacted URL when it cannot, within `connect_timeout`).
    pub(crate) async fn open(
        config: &AmqpConfig,
        name: String,
        stop: Arc<StopSignal>,
    ) -> Result<Arc<Self>, AmqpError> {
        let ca = match &config.ca_file {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|error| {
                AmqpError::config(format!(
                    "--ca-file {}: cannot read it ({error})",
                    path.display()
                ))
            })?),
            None => None,
        };
        let (url, connect_timeout) = (config.url.clone(), config.connect_timeout);
        let link = Self {
            url,
            ca,
            connect_timeout,
            name,
            stop,
            replies: Arc::default(),
            current: tokio::sync::Mutex::new(None),
        };
        let session = link.connect(1).await?;
        *link.current.lock().await = Some(Arc::new(session));
        Ok(Arc::new(link))
    }

    pub(crate) fn url(&self) -> &AmqpUrl {
        &self.url
    }

    pub(crate) fn replies(&self) -> &Arc<ReplyWaiters> {
        &self.replies
    }

    /// The current session; when it is `broken` (its generation) or closed, a new one, after
    /// as many attempts as it takes. `None` once the server stops.
    pub(crate) async fn session(&self, broken: Option<u64>) -> Option<Arc<Session>> {
        let mut current = self.current.lock().await;
        let generation = match current.as_ref() {
            Some(session)
                if Some(session.generation) != broken
                    && session.connection.status().connected() =>
            {
                return Some(Arc::clone(session));
            }
            Some(session) => session.generation,
            None => 0,
        };
        if self.stop.is_set() {
            return None;
        }
        if let Some(old) = current.take() {
            let _ = old.connection.close(320, "reconnecting".into()).await;
        }
        tracing::warn!(broker = %self.url, "connection to the AMQP broker lost: reconnecting");
        let mut delay = BACKOFF.0;
        let mut attempts = 0_u32;
        loop {
            match self.connect(generation + 1).await {
                Ok(session) => {
                    tracing::info!(broker = %self.url, attempts = attempts + 1, "reconnected to the AMQP broker");
                    let session = Arc::new(session);
                    *current = Some(Arc::clone(&session));
                    return Some(session);
                }
                Err(error) => {
                    attempts += 1;
                    tracing::debug!(broker = %self.url, %error, attempts, "reconnection failed");
                }
            }
            self.stop
                .run_until_stopped(tokio::time::sleep(delay))
                .await?;
            delay = (delay * 2).min(BACKOFF.1);
        }
    }

    /// Closes the current connection (what is not acknowledged goes back to its queue).
    pub(crate) async fn close(&self) {
        if let Some(session) = self.current.lock().await.take() {
            let _ = session.connection.close(200, "shutdown".into()).await;
        }
    }

    /// Opens a session: the connection, the publishing channel and the requests channel.
    async fn connect(&self, generation: u64) -> Result<Session, AmqpError> {
        let unreachable = |detail: String| {
            AmqpError::new(
                AmqpErrorKind::Unreachable,
                format!(
                    "cannot connect to the AMQP broker at {}: {detail}; start it (RabbitMQ: \
                     `rabbitmq-server -detached`, or scripts/brokers-up) or pass the right --url",
                    self.url
                ),
                None,
            )
        };
        ensure_crypto_provider();
        let properties =
            ConnectionProperties::default().with_connection_name(self.name.clone().into());
        let tls = OwnedTLSConfig {
            cert_chain: self.ca.clone(),
            ..OwnedTLSConfig::default()
        };
        let runtime =
            lapin::runtime::default_runtime().map_err(|error| unreachable(error.to_string()))?;
        let connect = Connection::connect_with_config(self.url.secret(), properties, tls, runtime);
        let connection = match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => return Err(unreachable(redact(&error.to_string(), &self.url))),
            Err(_) => {
                return Err(unreachable(format!(
                    "no answer within {:?}",
                    self.connect_timeout
                )));
            }
        };
        let channels = async {
            let publisher = connection.create_channel().await?;
            publisher
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            let requests = connection.create_channel().await?;
            let replies = requests
                .basic_consume(
                    DIRECT_REPLY_TO.into(),
                    "amgi-replies".into(),
                    BasicConsumeOptions {
                        no_ack: true,
                        ..BasicConsumeOptions::default()
                    },
                    FieldTable::default(),
                )
                .await?;
            Ok::<_, lapin::Error>((publisher, requests, replies))
        };
        let (publisher, requests, replies) = channels
            .await
            .map_err(|error| unreachable(redact(&error.to_string(), &self.url)))?;
        tokio::spawn(route_replies(replies, Arc::clone(&self.replies)));
        Ok(Session {
            generation,
            connection,
            publisher,
            requests,
        })
    }
}

/// Hands each reply to the request waiting for its correlation id.
async fn route_replies(mut replies: lapin::Consumer, waiters: Arc<ReplyWaiters>) {
    while let Some(Ok(mut delivery)) = replies.next().await {
        let id = delivery
            .properties
            .correlation_id()
            .as_ref()
            .map(ToString::to_string);
        let Some(id) = id else { continue };
        let waiter = (waiters.lock())
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&id);
        if let Some(waiter) = waiter {
            let (message, _) = crate::message::incoming(&mut delivery);
            let _ = waiter.send(Reply::new(message.headers, message.payload));
        }
    }
}

/// `text` without the password of `url`, should the client have quoted it.
pub(crate) fn redact(text: &str, url: &AmqpUrl) -> String {
    let secret = url.secret();
    let redacted = url.redacted();
    let text = text.replace(secret, &redacted);
    match password(secret) {
        Some(password) if !password.is_empty() => text.replace(password, "***"),
        _ => text,
    }
}

/// The password of an AMQP URL.
fn password(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    Some(&userinfo[userinfo.find(':')? + 1..])
}

/// Makes rustls's `ring` provider the process default unless one is installed already: in a
/// program that also links another provider (aws-lc-rs, through the AWS SDK), rustls cannot pick
/// one by itself and a TLS connection would panic.
fn ensure_crypto_provider() {
    // An error only says that a provider is installed already, which is what is wanted.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_taken_out_of_error_texts() {
        let url = AmqpUrl::new("amqp://app:s3cret@rabbit:5672/%2f");
        let text = "failed: amqp://app:s3cret@rabbit:5672/%2f refused (password s3cret)";
        let redacted = redact(text, &url);
        assert!(!redacted.contains("s3cret"), "{redacted}");
        assert!(
            redacted.contains("amqp://app:***@rabbit:5672/%2f"),
            "{redacted}"
        );
    }
}
