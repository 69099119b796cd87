//! `cargo run --example middleware`: layers run in the order they were added, outermost first,
//! and an inner layer can turn a message away before the handler, which the outer one sees.

mod common;

#[test]
fn layers_wrap_the_handler_in_order() {
    let stdout = common::stdout_of("middleware");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4 + 5 * 2, "{stdout}");
    assert!(lines[0].starts_with("log: message ") && lines[0].ends_with(" on jobs"));
    assert_eq!(
        lines[1..4],
        ["auth: token accepted", "handler: resize", "log: acked"]
    );
    // Turned away by `RequireToken` on each of its five deliveries; `Log`, outside it, sees it.
    for delivery in lines[4..].chunks(2) {
        assert!(delivery[0].starts_with("log: message "), "{stdout}");
        assert_eq!(delivery[1], "log: nacked: no `token` header");
    }
}

#[test]
fn documents_itself_with_the_asyncapi_command() {
    let document = common::asyncapi_of("middleware");
    assert_eq!(common::address(&document, "OnJob"), "jobs");
}
