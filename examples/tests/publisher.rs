//! `cargo run --example publisher`: messages published from a background task through
//! `AsyncFast::publisher()` reach the handler through the server that runs the application.

mod common;

#[test]
fn a_background_task_publishes_through_the_server() {
    let stdout = common::stdout_of("publisher");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["order 1: tea", "order 2: scones", "order 3: jam"]
    );
}

#[test]
fn logs_where_it_serves_without_any_setup() {
    // `run` installs a tracing subscriber writing to standard error (the example installs none),
    // and the server says where it serves.
    let output = common::run("publisher", &[]);
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let serving = stderr
        .lines()
        .find(|line| line.contains("serving on the embedded in-memory broker"))
        .unwrap_or_else(|| panic!("no serving line in:\n{stderr}"));
    assert!(serving.contains("INFO"), "{serving}");
    assert!(serving.contains("order.placed"), "{serving}");
}

#[test]
fn documents_itself_with_the_asyncapi_command() {
    let document = common::asyncapi_of("publisher");
    assert_eq!(common::address(&document, "OnOrder"), "order.placed");
}
