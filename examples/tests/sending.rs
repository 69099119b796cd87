//! `cargo run --example sending`: a returned `#[derive(Message)]` is published to its address and
//! handled there; a message sent through `MessageSender` too.

mod common;

#[test]
fn returned_and_sent_messages_reach_their_channels() {
    let stdout = common::stdout_of("sending");
    let mut lines: Vec<&str> = stdout.lines().collect();
    // Three addresses, consumed concurrently: compare as a set, then check causality per order.
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "confirmed: order 1 for ada, 1000 cents (order-1)",
            "confirmed: order 2 for grace, 2000 cents (order-2)",
            "email: Welcome, ada!",
            "email: Welcome, grace!",
            "placed: order 1 for ada",
            "placed: order 2 for grace",
        ]
    );
    let position = |line: &str| stdout.lines().position(|l| l == line).unwrap();
    assert!(
        position("placed: order 1 for ada")
            < position("confirmed: order 1 for ada, 1000 cents (order-1)")
    );
    assert!(position("placed: order 2 for grace") < position("email: Welcome, grace!"));
}

#[test]
fn documents_itself_with_the_asyncapi_command() {
    let document = common::asyncapi_of("sending");
    assert_eq!(
        common::address(&document, "OnOrderConfirmed"),
        "order.{id}.confirmed"
    );
}
