//! A second Ctrl-C while a graceful shutdown waits for a handler exits the process at once, with
//! status 130, instead of waiting out the drain deadline.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use integration_tests::WAIT;

fn interrupt(pid: u32) {
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn kill(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
}

#[test]
fn a_second_interrupt_exits_at_once() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stuck_handler"))
        .arg("run")
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
    let pid = child.id();
    let (exit_tx, exit) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = exit_tx.send(child.wait().unwrap());
    });
    if lines.recv_timeout(WAIT).as_deref() != Ok("started") {
        kill(pid);
        panic!("the handler did not start within {WAIT:?}");
    }

    interrupt(pid);
    // Graceful shutdown waits for the handler (up to the 30 s drain deadline).
    if let Ok(status) = exit.recv_timeout(Duration::from_millis(500)) {
        panic!("exited before the drain deadline: {status:?}");
    }
    interrupt(pid);
    let Ok(status) = exit.recv_timeout(Duration::from_secs(10)) else {
        kill(pid);
        panic!("a second interrupt did not end the process");
    };
    assert_eq!(status.code(), Some(amgi_server::FORCED_EXIT_CODE));
}
