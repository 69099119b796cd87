//! Running the example binaries, every wait bounded.

// Each test file uses part of this module.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long an example may take.
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// `target/<profile>/examples/<name>`, built by `cargo test` alongside the tests.
pub(crate) fn example(name: &str) -> PathBuf {
    let mut path = std::env::current_exe().unwrap();
    path.pop(); // the test binary
    path.pop(); // deps
    path.push("examples");
    path.push(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo test -p examples` (which builds the examples)",
        path.display()
    );
    path
}

/// Runs example `name` with `args` to completion, within [`WAIT`].
pub(crate) fn run(name: &str, args: &[&str]) -> Output {
    let child = Command::new(example(name))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (done, output) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    output.recv_timeout(WAIT).map_or_else(
        |_| {
            kill(pid);
            panic!("example `{name}` did not finish within {WAIT:?}");
        },
        Result::unwrap,
    )
}

/// Runs example `name` and returns its standard output, checking that it exited with 0.
pub(crate) fn stdout_of(name: &str) -> String {
    let output = run(name, &[]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "example `{name}` failed: {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The AsyncAPI document example `name` prints with `-- asyncapi`.
pub(crate) fn asyncapi_of(name: &str) -> serde_json::Value {
    let output = run(name, &["asyncapi"]);
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("a JSON document")
}

/// The address of channel `channel` in `document`.
pub(crate) fn address<'a>(document: &'a serde_json::Value, channel: &str) -> &'a str {
    document["channels"][channel]["address"]
        .as_str()
        .unwrap_or_else(|| panic!("no channel `{channel}` in {document}"))
}

/// Waits for `child` to exit, at most `timeout`.
pub(crate) fn wait_with_deadline(child: &mut Child, timeout: Duration) -> ExitStatus {
    let pid = child.id();
    let (done, status) = mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let _ = done.send(child.wait());
        });
        status.recv_timeout(timeout).map_or_else(
            |_| {
                kill(pid);
                panic!("the process did not exit within {timeout:?}");
            },
            Result::unwrap,
        )
    })
}

fn kill(pid: u32) {
    if cfg!(unix) {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
}
