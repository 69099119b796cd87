//! A private Mosquitto for one test: its own free port, its own persistence directory (the
//! session survives a restart), optionally a TLS listener. Never the shared broker on 1883.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// A Mosquitto child process; killed when dropped.
pub struct PrivateBroker {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

/// A self-signed certificate for 127.0.0.1 and its key, as PEM files in `dir`.
pub struct TlsFiles {
    pub ca: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// Generates the certificate (rcgen) for `127.0.0.1` and `localhost`.
    pub fn generate(dir: &Path) -> Self {
        let certified =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
                .unwrap();
        let ca = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&ca, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
        Self { ca, key }
    }
}

impl PrivateBroker {
    /// Starts Mosquitto on a free loopback port with persistence in a fresh directory; with
    /// `tls`, the listener speaks TLS with a generated certificate (see [`Self::tls_files`]).
    pub async fn start(tls: bool) -> Self {
        Self::start_with(tls, None).await
    }

    /// Starts Mosquitto on a free loopback port that admits only `username` with `password`
    /// (a password file made with `mosquitto_passwd`; anonymous clients are refused).
    pub async fn start_with_password(username: &str, password: &str) -> Self {
        Self::start_with(false, Some((username, password))).await
    }

    async fn start_with(tls: bool, credentials: Option<(&str, &str)>) -> Self {
        let dir = std::env::temp_dir().join(super::unique("amgi-mqtt-broker"));
        std::fs::create_dir_all(&dir).unwrap();
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let mut conf = format!(
            "listener {port} 127.0.0.1\nallow_anonymous {}\npersistence true\n\
             persistence_location {}/\nuser root\n",
            credentials.is_none(),
            dir.display()
        );
        if let Some((username, password)) = credentials {
            let file = dir.join("passwords");
            let status = std::process::Command::new("mosquitto_passwd")
                .arg("-b")
                .arg("-c")
                .arg(&file)
                .arg(username)
                .arg(password)
                .status()
                .expect("cannot run `mosquitto_passwd` (Debian: apt-get install mosquitto)");
            assert!(status.success(), "mosquitto_passwd failed");
            writeln!(conf, "password_file {}", file.display()).unwrap();
        }
        if tls {
            let files = TlsFiles::generate(&dir);
            let ca = files.ca.display();
            let key = files.key.display();
            writeln!(conf, "certfile {ca}\nkeyfile {key}").unwrap();
        }
        std::fs::write(dir.join("mosquitto.conf"), conf).unwrap();
        let mut broker = Self {
            port,
            dir,
            child: None,
        };
        broker.run().await;
        broker
    }

    /// The generated certificate (for a TLS broker).
    pub fn tls_files(&self) -> TlsFiles {
        TlsFiles {
            ca: self.dir.join("cert.pem"),
            key: self.dir.join("key.pem"),
        }
    }

    /// Runs `mosquitto -c <conf>` and waits until its port accepts connections (10 s at most).
    async fn run(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("cannot run `mosquitto` (Debian: apt-get install mosquitto)");
        self.child = Some(child);
        let deadline = Instant::now() + super::WAIT;
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "the private mosquitto did not listen on {} within 10 s",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the broker gracefully (SIGTERM: it saves its sessions) and waits until it exited.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id().expect("mosquitto already reaped").to_string();
        let status = std::process::Command::new("kill")
            .arg(&pid)
            .status()
            .unwrap();
        assert!(status.success(), "kill {pid} failed");
        tokio::time::timeout(super::WAIT, child.wait())
            .await
            .expect("mosquitto did not exit within 10 s of SIGTERM")
            .unwrap();
    }

    /// Starts the broker again on the same port, with the same persistence directory.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.run().await;
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
