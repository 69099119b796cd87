//! `cargo run --example dependencies`: a dependency built on another one, computed once per
//! message, committed after a successful handler and rolled back after a failed one; a
//! dependency's rejection nacks without running the handler.

mod common;

#[test]
fn dependencies_are_resolved_shared_and_cleaned_up() {
    let stdout = common::stdout_of("dependencies");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "begin (ada)",
            "transfer of 50 by ada",
            "commit (ada)",
            // Delivered five times, rolled back each time, then dead-lettered.
            "begin (bob)",
            "rollback (bob)",
            "begin (bob)",
            "rollback (bob)",
            "begin (bob)",
            "rollback (bob)",
            "begin (bob)",
            "rollback (bob)",
            "begin (bob)",
            "rollback (bob)",
            "rejected: bob may not transfer 500",
            "rejected: no `user-id` header: anonymous transfers are refused",
        ]
    );
}

#[test]
fn documents_itself_with_the_asyncapi_command() {
    let document = common::asyncapi_of("dependencies");
    assert_eq!(common::address(&document, "OnTransfer"), "transfers");
}
