//! The quickstart example runs as the README says: it handles the three users it publishes to
//! itself, keeps serving until SIGINT, then shuts down cleanly; and it prints its AsyncAPI
//! document.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{WAIT, example, wait_with_deadline};

#[test]
fn prints_the_asyncapi_document() {
    let output = common::run("quickstart", &["asyncapi"]);
    assert!(output.status.success(), "{output:?}");
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["asyncapi"], "3.0.0");
    assert_eq!(
        document["channels"]["HandleUserCreated"]["description"],
        "Greets every new user."
    );
}

#[cfg(unix)]
#[test]
fn handles_its_messages_serves_until_interrupted_then_exits_cleanly() {
    let mut child = Command::new(example("quickstart"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines_tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });

    // Each of the three messages, in order, within the deadline.
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(error) => {
                let _ = child.kill();
                panic!("only {seen:?} within {WAIT:?}: {error}");
            }
        }
    }
    assert_eq!(
        seen,
        [
            "User created: #1 ada@example.com (c-1)",
            "User created: #2 grace@example.com (c-2)",
            "User created: #3 alan@example.com (c-3)",
        ]
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "the quickstart keeps serving after its messages"
    );

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = wait_with_deadline(&mut child, Duration::from_secs(10));
    assert!(
        status.success(),
        "graceful shutdown exits with 0: {status:?}"
    );
}
