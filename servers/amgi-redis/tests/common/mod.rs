//! What the tests against the real Redis share: the URL, unique names, and XADD/XRANGE from
//! outside the server.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use amgi_core::{Headers, MessageSend};
use bytes::Bytes;
use redis::aio::MultiplexedConnection;

pub mod app;

/// The Redis the tests use.
pub const URL: &str = "redis://127.0.0.1:6379";

/// How to start it.
pub const START: &str = "scripts/brokers-up (or: redis-server --daemonize yes --bind 127.0.0.1 \
     --port 6379 --save '' --appendonly no)";

/// A bound on every wait.
pub const WAIT: Duration = Duration::from_secs(10);

/// A connection to the test Redis, or a failed test naming the command that starts it.
pub async fn connect() -> MultiplexedConnection {
    let client = redis::Client::open(URL).unwrap();
    let connecting = client.get_multiplexed_async_connection();
    match tokio::time::timeout(Duration::from_secs(3), connecting).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => panic!("no Redis on 127.0.0.1:6379 ({error}); start one with {START}"),
        Err(elapsed) => panic!("no Redis on 127.0.0.1:6379 ({elapsed}); start one with {START}"),
    }
}

/// A name no other test (of this run or an earlier one) uses.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("test.{prefix}.{}.{nanos}.{n}", std::process::id())
}

/// `XADD` of `message` as another producer would write it: `payload`, then the headers.
pub async fn publish(connection: &mut MultiplexedConnection, message: &MessageSend) {
    let mut command = redis::cmd("XADD");
    command.arg(&*message.address).arg("*");
    if let Some(payload) = &message.payload {
        command.arg("payload").arg(payload.as_ref());
    }
    for (name, value) in &message.headers {
        command.arg(name.as_ref()).arg(value.as_ref());
    }
    if message.payload.is_none() && message.headers.is_empty() {
        command.arg("payload").arg("");
    }
    let _: String = command.query_async(connection).await.unwrap();
}

/// Every entry of `stream`: its id and its fields in order.
pub async fn entries(
    connection: &mut MultiplexedConnection,
    stream: &str,
) -> Vec<(String, Headers)> {
    let entries: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XRANGE")
        .arg(stream)
        .arg("-")
        .arg("+")
        .query_async(connection)
        .await
        .unwrap();
    entries
        .into_iter()
        .map(|(id, values)| {
            let mut fields = Headers::new();
            for pair in values.chunks(2) {
                fields.append(Bytes::from(pair[0].clone()), Bytes::from(pair[1].clone()));
            }
            (id, fields)
        })
        .collect()
}

/// How many entries of `stream` are pending in `group`.
pub async fn pending(connection: &mut MultiplexedConnection, stream: &str, group: &str) -> i64 {
    let summary: redis::Value = redis::cmd("XPENDING")
        .arg(stream)
        .arg(group)
        .query_async(connection)
        .await
        .unwrap();
    match summary {
        redis::Value::Array(parts) => match parts.first() {
            Some(redis::Value::Int(count)) => *count,
            other => panic!("XPENDING: {other:?}"),
        },
        other => panic!("XPENDING: {other:?}"),
    }
}

/// Polls `check` every 50 ms until it holds, failing after [`WAIT`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The entry ids of `stream` (for checking which entries a server handled).
pub async fn ids(connection: &mut MultiplexedConnection, stream: &str) -> Vec<String> {
    entries(connection, stream)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

/// Deletes `keys` (streams and their dead-letter streams) once a test is done with them.
pub async fn delete(connection: &mut MultiplexedConnection, keys: &[&str]) {
    let _: i64 = redis::cmd("DEL")
        .arg(keys)
        .query_async(connection)
        .await
        .unwrap();
}

/// The payload of a received message, as text.
pub fn text(message: &amgi_core::MessageReceive) -> String {
    String::from_utf8_lossy(message.payload.as_deref().unwrap_or_default()).into_owned()
}
