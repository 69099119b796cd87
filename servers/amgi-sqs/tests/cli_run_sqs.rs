//! `app run sqs …` through AsyncFast (feature `sqs`): serving with credentials from the
//! standard AWS chain (here the environment, in a child process: tests cannot set the
//! environment of their own process), never logging them; and the command line's errors.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use asyncfast::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;

/// Set in the child process that runs the served scenario.
const CHILD: &str = "AMGI_SQS_CLI_CHILD";

/// The secret key the child gets from its environment: it must appear in no output.
const SECRET: &str = "cli-test-secret-never-logged";

#[derive(Debug, Deserialize, JsonSchema)]
struct UserCreated {
    id: u64,
}

#[channel("user.created")]
async fn on_user_created(payload: Payload<UserCreated>, seen: State<mpsc::UnboundedSender<u64>>) {
    let _ = seen.send(payload.0.id);
}

/// The error `run sqs ARGS…` ends with.
async fn run_sqs_error(args: &[&str]) -> String {
    let app = AsyncFast::empty().channel(handler!(on_user_created));
    let all = ["app", "run", "sqs"].iter().chain(args).copied();
    let result = timeout(
        common::WAIT,
        app.run_with_args_until(all, std::future::pending),
    )
    .await
    .expect("fails in time");
    match result {
        Err(error) => error.to_string(),
        Ok(()) => panic!("run sqs {args:?} should fail"),
    }
}

#[tokio::test]
async fn an_address_with_dots_needs_a_mapping_and_the_error_names_it() {
    let message = run_sqs_error(&[]).await;
    assert!(message.contains("user.created=user-created"), "{message}");
}

#[tokio::test]
async fn a_batch_size_above_ten_is_refused() {
    let message = run_sqs_error(&["user.created=user-created", "--batch-size", "11"]).await;
    assert!(message.contains("--batch-size"), "{message}");
}

#[tokio::test]
async fn an_address_without_a_channel_is_refused() {
    let message = run_sqs_error(&["orders"]).await;
    assert!(message.contains("`user.created`"), "{message}");
}

/// In the child: serve a queue through `run sqs`, handle one message, stop.
async fn serve_once() {
    common::require_moto().await;
    let queue = common::unique("cli-users");
    let url = common::create_queue(&queue, &[]).await;
    common::send(&url, r#"{"id":7}"#).await;
    let (seen, mut handled) = mpsc::unbounded_channel::<u64>();
    let app = AsyncFast::empty()
        .state(seen)
        .channel(handler!(on_user_created));
    let mapping = format!("user.created={queue}");
    let args = [
        "app",
        "run",
        "sqs",
        mapping.as_str(),
        "--endpoint-url",
        common::ENDPOINT,
        "--region",
        "us-east-1",
        "--wait-time",
        "1",
        "--max-deliveries",
        "2",
        "--batch-size",
        "10",
    ]
    .map(String::from);
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(app.run_with_args_until(args, || async {
        let _ = stopped.await;
    }));
    assert_eq!(common::next(&mut handled).await, 7);
    common::eventually("the message to be deleted", || async {
        common::depth(&url).await == 0
    })
    .await;
    stop.send(()).unwrap();
    timeout(common::WAIT, serving)
        .await
        .expect("graceful shutdown in time")
        .expect("not cancelled")
        .expect("served without error");
}

#[test]
fn run_sqs_serves_with_credentials_from_the_environment_and_never_logs_them() {
    if std::env::var_os(CHILD).is_some() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(serve_once());
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "run_sqs_serves_with_credentials_from_the_environment_and_never_logs_them",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env("AWS_ACCESS_KEY_ID", "AKIDCLITEST")
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "info")
        .env_remove("AWS_PROFILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_mins(1);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the child did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut output = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    assert!(status.success(), "the child failed:\n{output}");
    assert!(output.contains("serving on SQS"), "{output}");
    assert!(
        !output.contains(SECRET),
        "the secret key was logged:\n{output}"
    );
}
