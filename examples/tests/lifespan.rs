//! `cargo run --example lifespan`: the startup hook runs first and provides the state handlers
//! use; the shutdown hook runs last, after every message.

mod common;

#[test]
fn hooks_run_around_the_messages() {
    let stdout = common::stdout_of("lifespan");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "startup: pool opened",
            "query: SELECT 1",
            "query: SELECT 2",
            "shutdown: pool closed after 2 queries",
        ]
    );
}

#[test]
fn documents_itself_with_the_asyncapi_command() {
    let document = common::asyncapi_of("lifespan");
    assert_eq!(common::address(&document, "OnQuery"), "queries");
}
