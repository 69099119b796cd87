//! `cargo run --example headers`: names, alias, optional and defaulted headers reach the handler;
//! a missing and an unparsable header are rejected with reasons that name the header.

mod common;

#[test]
fn headers_are_extracted_and_bad_ones_rejected_with_their_name() {
    let stdout = common::stdout_of("headers");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            r#"order c-1: key Some("k-1"), priority 5"#,
            "order c-2: key None, priority 1",
            "rejected: missing header `correlation-id`",
            "rejected: invalid header `priority`: invalid digit found in string",
        ]
    );
}

#[test]
fn documents_itself_with_the_asyncapi_command() {
    let document = common::asyncapi_of("headers");
    assert_eq!(common::address(&document, "OnOrder"), "orders.created");
}
