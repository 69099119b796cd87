//! `rediss://` with a password: a private `redis-server` with TLS (a certificate of a CA made
//! for the test, with `openssl`) and `requirepass`; the server consumes through it.
//!
//! The client trusts the platform's roots, and `SSL_CERT_FILE` names them: the test runs
//! itself again in a child process with that variable set (setting it in this process would
//! need `unsafe`). Skipped, saying so, when `redis-server` or `openssl` is not on PATH.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use amgi_core::MessageSend;
use amgi_redis::{RedisConfig, Server};
use common::app::{Action, TestApp};

const CHILD: &str = "AMGI_REDIS_TLS_URL";
const PASSWORD: &str = "tls-s3cret";

fn run(command: &mut Command) -> bool {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A CA, and a certificate for 127.0.0.1 it signed, in `dir`: `false` without `openssl`.
fn certificates(dir: &Path) -> bool {
    let openssl = |args: &[&str]| run(Command::new("openssl").args(args).current_dir(dir));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=amgi test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]) && openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]) && std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").is_ok()
        && openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ])
}

/// A TLS-only `redis-server` on `port` with a password, killed when dropped.
struct TlsRedis(Child);

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rediss_with_a_password_consumes() {
    if let Ok(url) = std::env::var(CHILD) {
        return consume_over_tls(&url).await;
    }
    let dir = std::env::temp_dir().join(common::unique("amgi-redis-tls"));
    std::fs::create_dir_all(&dir).unwrap();
    if !certificates(&dir) {
        eprintln!("SKIPPED: no openssl on PATH to make the test's certificates");
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spawned = Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .args([
            "--tls-cert-file",
            "server.pem",
            "--tls-key-file",
            "server.key",
        ])
        .args(["--tls-ca-cert-file", "ca.pem", "--tls-auth-clients", "no"])
        .args([
            "--requirepass",
            PASSWORD,
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let _redis = match spawned {
        Ok(child) => TlsRedis(child),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("SKIPPED: redis-server is not on PATH (apt-get install redis-server)");
            return;
        }
        Err(error) => panic!("redis-server did not start: {error}"),
    };
    let this_test = std::env::current_exe().unwrap();
    let ca = dir.join("ca.pem");
    let child = tokio::task::spawn_blocking(move || {
        Command::new(this_test)
            .args(["--exact", "rediss_with_a_password_consumes", "--nocapture"])
            .env(CHILD, format!("rediss://:{PASSWORD}@127.0.0.1:{port}"))
            .env("SSL_CERT_FILE", ca)
            .output()
    });
    let output = tokio::time::timeout(common::WAIT * 2, child)
        .await
        .expect("the child test did not finish")
        .unwrap()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(output.status.success(), "the TLS test failed:\n{text}");
    assert!(text.contains("1 passed"), "the child ran no test:\n{text}");
}

/// In the child: serve a stream over `url` (`rediss://` with a password) and receive an entry.
async fn consume_over_tls(url: &str) {
    // This test's own client connects before the server does: it needs a process-level rustls
    // provider too when the workspace also links aws-lc-rs (through the AWS SDK).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = redis::Client::open(url).unwrap();
    // The server may take a moment to listen.
    let mut redis = None;
    for _ in 0..100 {
        if let Ok(connection) = client.get_multiplexed_async_connection().await {
            redis = Some(connection);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut redis = redis.expect("no TLS connection to the private redis-server");
    let (app, mut received) = TestApp::new(|_, _| Action::Ack);
    let config = RedisConfig::new(url, "g")
        .stream("tls.orders")
        .consumer("tls")
        .block(Duration::from_millis(100));
    let debug = format!("{config:?}");
    assert!(!debug.contains(PASSWORD), "{debug}");
    let handle = Server::new(app, config).start().await.unwrap();
    common::publish(
        &mut redis,
        &MessageSend::new("tls.orders").payload("over TLS"),
    )
    .await;
    let (_, message) = tokio::time::timeout(common::WAIT, received.recv())
        .await
        .expect("no message over TLS")
        .unwrap();
    assert_eq!(common::text(&message), "over TLS");
    handle.shutdown().await.unwrap();
}
