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
fn documents_itself_with_the_asyncapi_command() {
    let document = common::asyncapi_of("publisher");
    assert_eq!(common::address(&document, "OnOrder"), "order.placed");
}
