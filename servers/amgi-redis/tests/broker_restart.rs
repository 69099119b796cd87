//! A Redis restart while the server runs: on a private `redis-server` (a child of this test, on
//! a free port, without persistence) killed and started again on the same port, the streams
//! server reconnects, creates its group again, and keeps consuming; the Pub/Sub server
//! subscribes again.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use amgi_core::MessageSend;
use amgi_redis::{RedisConfig, Server};
use common::app::{Action, Received, TestApp};
use redis::aio::MultiplexedConnection;
use tokio::sync::mpsc::UnboundedReceiver;

/// A `redis-server` child process, killed when dropped.
struct PrivateRedis {
    child: Child,
    port: u16,
}

impl PrivateRedis {
    /// Starts one on `port`, or `None` when `redis-server` is not on PATH.
    async fn start(port: u16) -> Option<Self> {
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
            Err(error) => panic!("redis-server did not start: {error}"),
        };
        let redis = Self { child, port };
        redis.connect().await;
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A connection, once the server accepts them (within the wait).
    async fn connect(&self) -> MultiplexedConnection {
        let client = redis::Client::open(self.url()).unwrap();
        let deadline = tokio::time::Instant::now() + common::WAIT;
        loop {
            if let Ok(Ok(connection)) = tokio::time::timeout(
                Duration::from_secs(1),
                client.get_multiplexed_async_connection(),
            )
            .await
            {
                return connection;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the private redis-server on port {} did not accept connections",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills it (SIGKILL) and waits until it is gone.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn next(received: &mut UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(common::WAIT, received.recv())
        .await
        .expect("no message within the wait")
        .expect("the application is gone")
}

async fn subscribed(redis: &MultiplexedConnection, channel: &str) {
    common::eventually("the subscription", || {
        let (mut redis, channel) = (redis.clone(), channel.to_owned());
        async move {
            let counts: Vec<(String, i64)> = redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(&channel)
                .query_async(&mut redis)
                .await
                .unwrap_or_default();
            counts.first().is_some_and(|(_, count)| *count == 1)
        }
    })
    .await;
}

async fn publish(redis: &mut MultiplexedConnection, channel: &str, payload: &str) {
    let _: i64 = redis::cmd("PUBLISH")
        .arg(channel)
        .arg(payload)
        .query_async(redis)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_reconnects_after_redis_restarts_and_keeps_consuming() {
    // `--nocapture` shows the outage logged once and the reconnect.
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let port = free_port();
    let Some(mut private) = PrivateRedis::start(port).await else {
        eprintln!(
            "SKIPPED: redis-server is not on PATH (apt-get install redis-server); this test \
             starts a private one to kill and restart"
        );
        return;
    };
    let (stream, channel) = ("restart.stream", "restart.channel");
    let (streams_app, mut from_stream) = TestApp::new(|_, _| Action::Ack);
    let config = RedisConfig::new(private.url(), "g")
        .stream(stream)
        .consumer("restart")
        .block(Duration::from_millis(100));
    let streams = Server::new(streams_app, config).start().await.unwrap();
    let (pubsub_app, mut from_channel) = TestApp::new(|_, _| Action::Ack);
    let config = RedisConfig::new(private.url(), "")
        .pubsub(true)
        .stream(channel);
    let pubsub = Server::new(pubsub_app, config).start().await.unwrap();

    let mut redis = private.connect().await;
    common::publish(&mut redis, &MessageSend::new(stream).payload("before")).await;
    assert_eq!(common::text(&next(&mut from_stream).await.1), "before");
    subscribed(&redis, channel).await;
    publish(&mut redis, channel, "before").await;
    assert_eq!(common::text(&next(&mut from_channel).await.1), "before");

    private.kill();
    let private = PrivateRedis::start(port)
        .await
        .expect("redis-server started a moment ago");
    let mut redis = private.connect().await;
    // Nothing persisted: the stream and its group are gone, and come back.
    common::publish(&mut redis, &MessageSend::new(stream).payload("after")).await;
    assert_eq!(common::text(&next(&mut from_stream).await.1), "after");
    common::eventually("the XACK", || {
        let mut redis = redis.clone();
        async move { common::pending(&mut redis, stream, "g").await == 0 }
    })
    .await;
    subscribed(&redis, channel).await;
    publish(&mut redis, channel, "after").await;
    assert_eq!(common::text(&next(&mut from_channel).await.1), "after");

    streams.shutdown().await.unwrap();
    pubsub.shutdown().await.unwrap();
}
