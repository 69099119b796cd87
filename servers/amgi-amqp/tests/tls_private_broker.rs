//! `amqps://`: the server connects over TLS (rustls) to a private RabbitMQ node that listens
//! only for TLS, trusting the node's certificate through `ca_file`; without it (the system's
//! certificate authorities) the connection is refused as unreachable.

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use amgi_amqp::{AmqpConfig, AmqpErrorKind, AmqpUrl, Server};
use amgi_core::MessageSend;
use asyncfast::prelude::*;
use tokio::sync::mpsc;

/// RabbitMQ's start script (Debian package `rabbitmq-server`), without the wrapper that
/// switches users.
const RABBITMQ_SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private RabbitMQ node listening for TLS only; stopped (by the PID it wrote) when dropped.
struct PrivateNode {
    dir: PathBuf,
    port: u16,
    child: std::process::Child,
}

impl PrivateNode {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(support::unique("tls-node"));
        std::fs::create_dir_all(&dir).unwrap();
        let certified =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
                .unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
        write("cert.pem", &certified.cert.pem());
        write("key.pem", &certified.key_pair.serialize_pem());
        let port = free_port();
        let d = dir.display();
        write(
            "rabbitmq.conf",
            &format!(
                "listeners.tcp = none\nlisteners.ssl.default = 127.0.0.1:{port}\n\
                 ssl_options.cacertfile = {d}/cert.pem\nssl_options.certfile = {d}/cert.pem\n\
                 ssl_options.keyfile = {d}/key.pem\nssl_options.verify = verify_none\n\
                 ssl_options.fail_if_no_peer_cert = false\n"
            ),
        );
        write("enabled_plugins", "[].\n");
        write("rabbitmq-env.conf", "");
        let log = std::fs::File::create(dir.join("out.log")).unwrap();
        let name = format!("amgi-tls-{}-{port}@localhost", std::process::id());
        let child = std::process::Command::new(RABBITMQ_SERVER)
            .env("RABBITMQ_CONF_ENV_FILE", dir.join("rabbitmq-env.conf"))
            .env("RABBITMQ_NODENAME", name)
            .env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq.conf"))
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
            .env("RABBITMQ_PID_FILE", dir.join("pid"))
            .env("RABBITMQ_DIST_PORT", free_port().to_string())
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| {
                panic!("{RABBITMQ_SERVER}: {error} (install the Debian package rabbitmq-server)")
            });
        Self { dir, port, child }
    }

    /// Waits until the TLS listener accepts connections (60 s at most).
    async fn ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_mins(1);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the private RabbitMQ node did not listen within 60 s; its log: {}",
                std::fs::read_to_string(self.dir.join("out.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn url(&self) -> AmqpUrl {
        AmqpUrl::new(format!("amqps://guest:guest@127.0.0.1:{}/%2f", self.port))
    }

    fn ca(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }
}

impl Drop for PrivateNode {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("pid")) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(Path::new(&self.dir));
    }
}

struct Seen(Mutex<mpsc::UnboundedSender<String>>);

#[channel("amgi-test.tls.{run}")]
async fn on_message(payload: Payload<String>, seen: State<Seen>, _run: Param<String>) {
    let Seen(sender) = &*seen;
    let _ = sender.lock().unwrap().send(payload.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn amqps_round_trip_through_a_private_tls_node() {
    let node = PrivateNode::start();
    node.ready().await;
    let queue = support::unique("tls");

    // Without the node's certificate: refused, as unreachable, the password redacted.
    let untrusted = AmqpConfig::new(node.url()).queues([queue.as_str()]);
    let error = Server::new(AsyncFast::empty(), untrusted)
        .start()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), AmqpErrorKind::Unreachable, "{error}");
    assert!(!error.to_string().contains("guest:guest"), "{error}");

    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let app = AsyncFast::empty()
        .state(Seen(Mutex::new(seen_tx)))
        .channel(handler!(on_message));
    let publisher = app.publisher();
    let config = AmqpConfig::new(node.url())
        .queues([queue.as_str()])
        .ca_file(node.ca());
    let handle = Server::new(app, config).start().await.unwrap();
    publisher
        .send(MessageSend::new(queue.as_str()).payload(&b"over TLS"[..]))
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), seen.recv())
        .await
        .expect("nothing within 10 s")
        .unwrap();
    assert_eq!(got, "over TLS");
    tokio::time::timeout(Duration::from_secs(10), handle.shutdown())
        .await
        .unwrap()
        .unwrap();
}
