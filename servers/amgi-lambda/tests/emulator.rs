//! Through the real Lambda Runtime API emulator of `cargo lambda watch` (installed by
//! `scripts/install-cargo-lambda`): this test binary, re-run as the function process, is an
//! AsyncFast application whose `run` sees `AWS_LAMBDA_RUNTIME_API` and serves Lambda
//! invocations; the test invokes it over HTTP and checks the partial batch response, that
//! lifespan startup ran before the first invocation, and that SIGTERM runs lifespan shutdown.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use amgi_lambda::testing::{KafkaEventBuilder, KafkaRecord, SqsEventBuilder, SqsRecord};
use asyncfast::prelude::*;
use serde_json::{Value, json};

/// Set in the function process this test starts.
const FUNCTION_ENV: &str = "AMGI_LAMBDA_EMULATOR_FUNCTION";
const WAIT: Duration = Duration::from_secs(30);
/// Starts the lines the function process prints for the test.
const MARK: &str = "amgi-lambda-test:";

/// Refuses the payload `bad`.
#[channel("orders")]
async fn on_order(body: Payload<String>) -> Result<(), String> {
    println!("{MARK} order {}", body.as_str());
    if body.as_str() == "bad" {
        Err("bad order".to_owned())
    } else {
        Ok(())
    }
}

/// The function process: `app run` with the Lambda runtime's variables set. In the test run
/// itself (without the variable) it has nothing to do.
#[test]
fn function_process() {
    if std::env::var_os(FUNCTION_ENV).is_none() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = AsyncFast::new()
        .on_startup(|_: asyncfast::amgi::StateMap| async {
            println!("{MARK} startup");
            Ok::<(), std::io::Error>(())
        })
        .on_shutdown(|_: asyncfast::amgi::StateMap| async {
            println!("{MARK} shutdown");
            Ok::<(), std::io::Error>(())
        });
    runtime.block_on(app.run_with_args(["app", "run"])).unwrap();
}

/// Kills the process when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cargo_lambda() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bin = root.join(".brokers/cargo-lambda/bin/cargo-lambda");
    assert!(
        bin.exists(),
        "no cargo-lambda at {}: install it with scripts/install-cargo-lambda",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + WAIT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "cargo lambda watch did not listen on 127.0.0.1:{port} within {WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `POST /2015-03-31/functions/_/invocations` with `event`: the status and the JSON body.
fn invoke(port: u16, event: &Value) -> (u16, Value) {
    let body = event.to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        stream,
        "POST /2015-03-31/functions/_/invocations HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head}"));
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status, body)
}

#[test]
fn the_emulator_gets_the_partial_batch_response_of_an_sqs_invocation() {
    let port = free_port();
    let manifest_dir = env!("CARGO_MANIFEST_DIR");
    let _emulator = Killed(
        Command::new(cargo_lambda())
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .current_dir(manifest_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start cargo lambda watch"),
    );
    wait_for_port(port);
    let mut function = Killed(
        Command::new(std::env::current_exe().unwrap())
            .args(["function_process", "--exact", "--nocapture"])
            .env(FUNCTION_ENV, "1")
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt"),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the function process"),
    );

    let event = SqsEventBuilder::new("arn:aws:sqs:us-east-1:123456789012:orders")
        .record(SqsRecord::new("m-1", "good"))
        .record(SqsRecord::new("m-2", "bad"))
        .record(SqsRecord::new("m-3", "good too"))
        .record(SqsRecord::new("m-4", "good").md5_of_body("00000000000000000000000000000000"))
        .build();
    let (status, body) = invoke(port, &event);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"batchItemFailures": [{"itemIdentifier": "m-2"}, {"itemIdentifier": "m-4"}]})
    );

    // A Kafka nack fails the invocation (AMGI_KAFKA_ON_NACK=fail, the default).
    let event = KafkaEventBuilder::new()
        .record(KafkaRecord::new("orders", 0, 5).value("bad"))
        .build();
    let (_, body) = invoke(port, &event);
    assert_eq!(body["errorType"], "amgi_lambda::KafkaNacked", "{body}");

    // SIGTERM: lifespan shutdown runs and the process exits successfully.
    let pid = function.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = function.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the function did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    let mut stdout = String::new();
    function
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let marks: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix(MARK))
        .map(str::trim)
        .collect();
    // Startup before the first invocation, shutdown last; the records of a standard queue's
    // batch run concurrently, so their order is not checked.
    assert_eq!(marks.first(), Some(&"startup"), "{stdout}");
    assert_eq!(marks.last(), Some(&"shutdown"), "{stdout}");
    let mut handled = marks[1..marks.len() - 1].to_vec();
    handled.sort_unstable();
    assert_eq!(
        handled,
        ["order bad", "order bad", "order good", "order good too"],
        "{stdout}"
    );
}
