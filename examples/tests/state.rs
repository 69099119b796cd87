//! `cargo run --example state`: registered state reaches every handler call, and is shared with
//! the code that registered it.

mod common;

#[test]
fn state_is_shared_by_every_message() {
    let stdout = common::stdout_of("state");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "Hello, Ada (#1)",
            "Hello, Grace (#2)",
            "Hello, Alan (#3)",
            "greeted 3 users",
        ]
    );
}

#[test]
fn documents_itself_with_the_asyncapi_command() {
    let document = common::asyncapi_of("state");
    assert_eq!(common::address(&document, "Greet"), "user.created");
}
