//! The quickstart example runs as written: it serves until SIGINT, then shuts down cleanly, and
//! prints its AsyncAPI document.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `target/<profile>/examples/quickstart`, built by `cargo test` alongside this test.
fn example() -> PathBuf {
    let mut path = std::env::current_exe().unwrap();
    path.pop(); // the test binary
    path.pop(); // deps
    path.push("examples");
    path.push(format!("quickstart{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo test -p examples` (which builds examples)",
        path.display()
    );
    path
}

#[test]
fn prints_the_asyncapi_document() {
    let output = Command::new(example()).arg("asyncapi").output().unwrap();
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
fn serves_until_interrupted_then_exits_cleanly() {
    let mut child = Command::new(example())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the example should keep serving"
    );
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "no graceful shutdown within 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}
