//! Connection loss: a server whose connection the broker closes reconnects and loses nothing;
//! a server killed (its runtime dropped, no shutdown) holding unacknowledged messages loses
//! nothing either: a new server on the queue gets them. The outage is logged once.

mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amgi_amqp::Server;
use asyncfast::prelude::*;
use support::{Outside, config, unique};
use tokio::sync::{Notify, mpsc};

/// Reports the numbers handled; from `stall_from` on, hangs instead (saying so).
struct Handled {
    sender: Mutex<mpsc::UnboundedSender<u32>>,
    stall_from: Option<u32>,
    stalled: Notify,
}

#[channel("amgi-test.loss.{run}")]
async fn on_number(payload: Payload<String>, handled: State<Handled>, _run: Param<String>) {
    let number: u32 = payload.0.parse().unwrap();
    if handled.stall_from.is_some_and(|from| number >= from) {
        handled.stalled.notify_one();
        std::future::pending::<()>().await;
    }
    let _ = handled.sender.lock().unwrap().send(number);
}

fn handling(stall_from: Option<u32>) -> (AsyncFast, Arc<Handled>, mpsc::UnboundedReceiver<u32>) {
    let (sender, handled_rx) = mpsc::unbounded_channel();
    let handled = Arc::new(Handled {
        sender: Mutex::new(sender),
        stall_from,
        stalled: Notify::new(),
    });
    let app = AsyncFast::empty()
        .state_arc(Arc::clone(&handled))
        .channel(handler!(on_number));
    (app, handled, handled_rx)
}

/// Waits until every number of `expected` was handled (within 30 s).
async fn until_handled(
    handled: &mut mpsc::UnboundedReceiver<u32>,
    seen: &mut BTreeSet<u32>,
    expected: std::ops::RangeInclusive<u32>,
) {
    let all = tokio::time::timeout(Duration::from_secs(30), async {
        while !expected.clone().all(|n| seen.contains(&n)) {
            seen.insert(handled.recv().await.unwrap());
        }
    });
    all.await
        .unwrap_or_else(|_| panic!("not all of {expected:?} handled within 30 s: {seen:?}"));
}

/// What the server logged (at `info` and above) in this test binary.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Installs the global subscriber writing here, once.
    fn capture() -> &'static Self {
        static LOGS: std::sync::OnceLock<Logs> = std::sync::OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = Self::default();
            let writer = logs.clone();
            tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .with_max_level(tracing::Level::INFO)
                .init();
            logs
        })
    }

    /// The lines containing `text`.
    fn count(&self, text: &str) -> usize {
        let logs = self.0.lock().unwrap();
        String::from_utf8_lossy(&logs)
            .lines()
            .filter(|line| line.contains(text))
            .count()
    }
}

/// `rabbitmqctl`, failing the test with the command's output when it fails.
async fn rabbitmqctl(args: &[&str]) -> String {
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new("rabbitmqctl")
            .args(args)
            .output(),
    )
    .await
    .expect("rabbitmqctl did not answer within 30 s")
    .expect("rabbitmqctl (RabbitMQ's CLI, installed with rabbitmq-server) is needed");
    assert!(output.status.success(), "rabbitmqctl {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_closed_by_the_broker_is_opened_again_and_nothing_is_lost() {
    let logs = Logs::capture();
    let queue = unique("loss");
    let outside = Outside::connect().await;
    let (app, _, mut handled) = handling(None);
    let handle = Server::new(app, config(&[&queue])).start().await.unwrap();
    let mut seen = BTreeSet::new();
    for n in 1..=10_u32 {
        outside.publish(&queue, &[], n.to_string().as_bytes()).await;
    }
    until_handled(&mut handled, &mut seen, 1..=10).await;

    // The server's connection is named after its queues.
    let connections = rabbitmqctl(&["list_connections", "-q", "pid", "client_properties"]).await;
    let line = (connections.lines())
        .find(|line| line.contains(&queue))
        .unwrap_or_else(|| panic!("no connection of the server in {connections}"));
    let pid = line.split_whitespace().next().unwrap();
    rabbitmqctl(&["close_connection", pid, "amgi-amqp reconnection test"]).await;

    for n in 11..=20_u32 {
        outside.publish(&queue, &[], n.to_string().as_bytes()).await;
    }
    until_handled(&mut handled, &mut seen, 1..=20).await;
    // The outage is logged once, and so is its end.
    assert_eq!(logs.count("connection to the AMQP broker lost"), 1);
    assert_eq!(logs.count("reconnected to the AMQP broker"), 1);
    assert_eq!(logs.count("guest:guest"), 0, "the password is never logged");
    tokio::time::timeout(Duration::from_secs(10), handle.shutdown())
        .await
        .unwrap()
        .unwrap();
    outside.delete(&[&queue]).await;
}

#[test]
fn a_killed_server_loses_nothing_a_new_one_gets_what_it_held() {
    let queue = unique("loss");
    let main = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let outside = main.block_on(Outside::connect());
    let killed = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (app, first, mut first_handled) = handling(Some(6));
    let config = config(&[&queue]).batch_size(4);
    let handle = killed
        .block_on(Server::new(app, config.clone()).start())
        .unwrap();
    std::mem::forget(handle); // never shut down gracefully: killed with its runtime
    main.block_on(async {
        for n in 1..=12_u32 {
            outside.publish(&queue, &[], n.to_string().as_bytes()).await;
        }
        tokio::time::timeout(Duration::from_secs(10), first.stalled.notified())
            .await
            .expect("the first server did not reach message 6 within 10 s");
    });
    killed.shutdown_background();
    main.block_on(async {
        let mut seen = BTreeSet::new();
        while let Ok(n) = first_handled.try_recv() {
            seen.insert(n);
        }
        assert_eq!(seen, (1..=5).collect(), "the first server handled 1 to 5");
        let (app, _, mut handled) = handling(None);
        let handle = Server::new(app, config).start().await.unwrap();
        until_handled(&mut handled, &mut seen, 1..=12).await;
        tokio::time::timeout(Duration::from_secs(10), handle.shutdown())
            .await
            .unwrap()
            .unwrap();
        outside.delete(&[&queue]).await;
    });
}
