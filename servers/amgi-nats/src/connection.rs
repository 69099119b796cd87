//! Connecting: options from the [`NatsConfig`], an event callback that logs connection losses
//! and reconnects, and a clear error when NATS is down at start.

use async_nats::{Client, ConnectOptions, Event};

use crate::config::Auth;
use crate::{NatsConfig, NatsError, NatsErrorKind};

/// Connects to the configured server(s). async-nats reconnects by itself afterwards (without
/// limit); each loss and reconnect is logged.
pub(crate) async fn connect(config: &NatsConfig) -> Result<Client, NatsError> {
    ensure_crypto_provider();
    let url = config.redacted_url();
    let mut options = match &config.auth {
        Auth::None => ConnectOptions::new(),
        Auth::UserPassword { user, password } => {
            ConnectOptions::with_user_and_password(user.clone(), password.clone())
        }
        Auth::Token(token) => ConnectOptions::with_token(token.clone()),
        Auth::CredsFile(path) => {
            ConnectOptions::with_credentials_file(path)
                .await
                .map_err(|error| {
                    NatsError::new(
                        NatsErrorKind::Config,
                        format!("cannot read the credentials file {}", path.display()),
                        Some(Box::new(error)),
                    )
                })?
        }
    };
    if let Some(ca) = &config.ca_file {
        options = options.add_root_certificates(ca.clone()).require_tls(true);
    }
    let logged_url = url.clone();
    options = options
        .name("amgi-nats")
        .connection_timeout(config.connect_timeout)
        .max_reconnects(None)
        .event_callback(move |event| {
            let url = logged_url.clone();
            async move {
                match event {
                    Event::Disconnected => {
                        tracing::warn!(%url, "connection to NATS lost: reconnecting");
                    }
                    Event::Connected => tracing::info!(%url, "connected to NATS"),
                    Event::SlowConsumer(sid) => tracing::warn!(%url, subscription = sid,
                        "slow consumer: NATS dropped messages of a core subscription"),
                    // Each failed reconnect attempt: the loss was logged already.
                    Event::ClientError(error) => {
                        tracing::debug!(%url, %error, "NATS client error");
                    }
                    other => tracing::warn!(%url, event = %other, "NATS connection event"),
                }
            }
        });
    let connecting = options.connect(config.url.as_str());
    let connected = tokio::time::timeout(config.connect_timeout, connecting).await;
    let error: Box<dyn std::error::Error + Send + Sync> = match connected {
        Ok(Ok(client)) => return Ok(client),
        Ok(Err(error)) => Box::new(error),
        Err(elapsed) => Box::new(elapsed),
    };
    Err(NatsError::new(
        NatsErrorKind::Unreachable,
        format!(
            "cannot connect to NATS at {url} within {:?}: {error}. Is nats-server running? \
             Start one with `nats-server -a 127.0.0.1 -p 4222 -js` (JetStream needs `-js`), or \
             pass --url",
            config.connect_timeout
        ),
        Some(error),
    ))
}

/// Makes rustls's `ring` provider the process default unless one is installed already: in a
/// program that also links another provider (aws-lc-rs, through the AWS SDK), rustls cannot pick
/// one by itself and a TLS connection would panic.
fn ensure_crypto_provider() {
    // An error only says that a provider is installed already, which is what is wanted.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
