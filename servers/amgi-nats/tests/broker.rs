//! The broker itself: NATS down at start is a clear error naming the URL and the fix, and a
//! private `nats-server` restarted under a running server (same port and store directory) is
//! survived — the JetStream consumer and the core subscription both carry on.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use amgi_core::BoxApplication;
use amgi_nats::{NatsConfig, NatsErrorKind, Server};
use common::app::{Action, TestApp};
use common::{WAIT, unique};
use tokio::process::{Child, Command};

/// A port nothing listens on (free a moment ago).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `nats-server` of this test alone, with JetStream, on `port` and storing in `dir`.
struct PrivateNats {
    port: u16,
    dir: PathBuf,
    /// Arguments after the address, port and store (TLS).
    extra: Vec<String>,
    child: Option<Child>,
}

impl PrivateNats {
    /// Starts one, or `None` (with a message saying so) when `nats-server` is not on the PATH.
    async fn start() -> Option<Self> {
        Self::start_with(|_| Vec::new()).await
    }

    /// Like [`Self::start`], with more arguments made from the store directory.
    async fn start_with(extra: impl FnOnce(&std::path::Path) -> Vec<String>) -> Option<Self> {
        if Command::new("nats-server")
            .arg("--version")
            .output()
            .await
            .is_err()
        {
            eprintln!(
                "SKIPPED: `nats-server` is not on the PATH (Debian package `nats-server`); this \
                 test runs a private one"
            );
            return None;
        }
        let dir = std::env::temp_dir().join(unique("amgi-nats-store"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut nats = Self {
            port: free_port(),
            extra: extra(&dir),
            dir,
            child: None,
        };
        nats.spawn().await;
        Some(nats)
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        let child = Command::new("nats-server")
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.dir)
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("cannot start nats-server");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the private nats-server did not listen on {} within 10 s",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills it (SIGKILL) and starts it again on the same port and store.
    async fn restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
        self.spawn().await;
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn nats_down_at_start_is_a_clear_error_naming_the_url_and_the_fix() {
    let url = format!("nats://127.0.0.1:{}", free_port());
    let (app, _) = TestApp::new(|_, _| Action::Ack);
    let config = NatsConfig::new(&url)
        .subjects(["a"])
        .connect_timeout(Duration::from_secs(1));
    let error = tokio::time::timeout(WAIT, Server::new(BoxApplication::new(app), config).start())
        .await
        .expect("start did not give up within 10 s")
        .unwrap_err();
    assert_eq!(error.kind(), NatsErrorKind::Unreachable);
    assert!(error.is_retryable());
    let message = error.to_string();
    assert!(message.contains(&url), "{message}");
    assert!(
        message.contains("nats-server -a 127.0.0.1 -p 4222 -js"),
        "{message}"
    );
}

/// Publishes until it works (the test's client reconnects too).
async fn publish_retrying(context: &async_nats::jetstream::Context, subject: &str, payload: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let attempt = async {
            context
                .publish(subject.to_owned(), payload.to_owned().into())
                .await?
                .await
                .map_err(async_nats::Error::from)
        };
        match tokio::time::timeout(Duration::from_secs(2), attempt).await {
            Ok(Ok(_)) => return,
            _ => assert!(
                tokio::time::Instant::now() < deadline,
                "could not publish after the restart"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_restart_is_survived_by_the_jetstream_consumer() {
    // The server's log (connection lost, reconnected) shows with a failure.
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let Some(mut nats) = PrivateNats::start().await else {
        return;
    };
    let client = async_nats::connect(nats.url()).await.unwrap();
    let context = async_nats::jetstream::new(client.clone());
    let subject = "restart.orders";
    context
        .create_stream(async_nats::jetstream::stream::Config {
            name: "RESTART".into(),
            subjects: vec![subject.into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let (app, mut seen) = TestApp::new(|_, _| Action::Ack);
    let config = NatsConfig::new(nats.url())
        .subjects([subject])
        .jetstream("RESTART", "worker")
        .ack_wait(Duration::from_secs(1));
    let handle = Server::new(BoxApplication::new(app), config)
        .start()
        .await
        .unwrap();
    publish_retrying(&context, subject, "before").await;
    let (_, message) = tokio::time::timeout(WAIT, seen.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(message.payload.as_deref(), Some(&b"before"[..]));

    nats.restart().await;
    publish_retrying(&context, subject, "after").await;
    // At least once: "before" comes again when its ack was lost with the killed server.
    loop {
        let (_, message) = tokio::time::timeout(Duration::from_secs(30), seen.recv())
            .await
            .expect("the consumer did not resume within 30 s of the restart")
            .unwrap();
        match message.payload.as_deref() {
            Some(b"after") => break,
            Some(b"before") => {}
            other => panic!("unexpected message {other:?}"),
        }
    }
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_restart_is_survived_by_the_core_subscription() {
    let Some(mut nats) = PrivateNats::start().await else {
        return;
    };
    let (app, mut seen) = TestApp::new(|_, _| Action::Ack);
    let config = NatsConfig::new(nats.url()).subjects(["restart.core"]);
    let handle = Server::new(BoxApplication::new(app), config)
        .start()
        .await
        .unwrap();
    nats.restart().await;
    // At most once: what is published before the server subscribed again is lost, so publish
    // until one arrives.
    let client = async_nats::connect(nats.url()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        client
            .publish("restart.core", "after".into())
            .await
            .unwrap();
        if let Ok(Some((_, message))) =
            tokio::time::timeout(Duration::from_millis(200), seen.recv()).await
        {
            assert_eq!(message.payload.as_deref(), Some(&b"after"[..]));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the core subscription did not come back within 20 s of the restart"
        );
    }
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_consumes_over_tls_trusting_a_ca_file() {
    let mut ca = PathBuf::new();
    let Some(nats) = PrivateNats::start_with(|dir| {
        let certified =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
                .unwrap();
        ca = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&ca, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
        vec![
            "--tls".into(),
            "--tlscert".into(),
            ca.display().to_string(),
            "--tlskey".into(),
            key.display().to_string(),
        ]
    })
    .await
    else {
        return;
    };
    let url = format!("tls://127.0.0.1:{}", nats.port);
    let (app, mut seen) = TestApp::new(|_, _| Action::Ack);
    let config = NatsConfig::new(&url).subjects(["tls.orders"]).ca_file(&ca);
    let handle = Server::new(BoxApplication::new(app), config)
        .start()
        .await
        .unwrap();
    let client = async_nats::ConnectOptions::new()
        .add_root_certificates(ca.clone())
        .require_tls(true)
        .connect(&url)
        .await
        .unwrap();
    client
        .publish("tls.orders", "over tls".into())
        .await
        .unwrap();
    let (_, message) = tokio::time::timeout(WAIT, seen.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(message.payload.as_deref(), Some(&b"over tls"[..]));
    tokio::time::timeout(WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();

    // Trusting another certificate: unreachable, naming the URL.
    let other = nats.dir.join("other.pem");
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    std::fs::write(&other, certified.cert.pem()).unwrap();
    let (app, _) = TestApp::new(|_, _| Action::Ack);
    let config = NatsConfig::new(&url)
        .subjects(["tls.orders"])
        .ca_file(other)
        .connect_timeout(Duration::from_secs(2));
    let error = tokio::time::timeout(WAIT, Server::new(BoxApplication::new(app), config).start())
        .await
        .expect("start did not give up within 10 s")
        .unwrap_err();
    assert_eq!(error.kind(), NatsErrorKind::Unreachable);
    assert!(error.to_string().contains(&url), "{error}");
}
