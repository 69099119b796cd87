//! `message.send` and the lifespan publisher: `XADD` on streams (with `MAXLEN ~ n` from the
//! [`RedisBinding`](amgi_core::RedisBinding)), `PUBLISH` in Pub/Sub mode.

use amgi_core::batch::Publisher;
use amgi_core::{EventFuture, MessageSend, SendError};
use bytes::Bytes;
use redis::aio::ConnectionManager;

use crate::entry;

/// `XADD <address> [MAXLEN ~ n] * payload … header …`.
pub(crate) struct StreamPublisher(pub(crate) ConnectionManager);

impl Publisher for StreamPublisher {
    fn publish(&self, message: MessageSend) -> EventFuture<'_, Result<(), SendError>> {
        EventFuture::boxed(async move {
            entry::check_headers(&message.headers)?;
            let fields = entry::fields(&message.headers, message.payload.as_ref());
            let maxlen = message.bindings.redis().and_then(|binding| binding.maxlen);
            xadd(self.0.clone(), &message.address, maxlen, &fields)
                .await
                .map_err(SendError::transport)
        })
    }
}

/// `PUBLISH <address> <payload>`: Pub/Sub messages have no headers, so a message's headers
/// are not sent.
pub(crate) struct ChannelPublisher(pub(crate) ConnectionManager);

impl Publisher for ChannelPublisher {
    fn publish(&self, message: MessageSend) -> EventFuture<'_, Result<(), SendError>> {
        EventFuture::boxed(async move {
            if !message.headers.is_empty() {
                tracing::debug!(channel = %message.address, headers = message.headers.len(),
                    "Redis Pub/Sub carries no headers: published without them");
            }
            let payload = message.payload.unwrap_or_default();
            let mut connection = self.0.clone();
            redis::cmd("PUBLISH")
                .arg(&*message.address)
                .arg(payload.as_ref())
                .query_async::<i64>(&mut connection)
                .await
                .map(drop)
                .map_err(SendError::transport)
        })
    }
}

/// `XADD stream [MAXLEN ~ maxlen] * field value …`.
pub(crate) async fn xadd(
    mut connection: ConnectionManager,
    stream: &str,
    maxlen: Option<u64>,
    fields: &[(Bytes, Bytes)],
) -> redis::RedisResult<()> {
    let mut command = redis::cmd("XADD");
    command.arg(stream);
    if let Some(maxlen) = maxlen {
        command.arg("MAXLEN").arg("~").arg(maxlen);
    }
    command.arg("*");
    for (name, value) in fields {
        command.arg(name.as_ref()).arg(value.as_ref());
    }
    command.query_async::<redis::Value>(&mut connection).await?;
    Ok(())
}
