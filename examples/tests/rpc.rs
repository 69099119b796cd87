//! `cargo run --example rpc`: a client's requests are answered by the `multiply` service through
//! the embedded broker, an error reply included.

mod common;

#[test]
fn every_request_is_answered_with_its_own_reply() {
    let stdout = common::stdout_of("rpc");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "multiply(6, 7) = 42",
            "multiply(-3, 14) = -42",
            "multiply(9223372036854775807, 2) failed: 9223372036854775807 × 2 does not fit in 64 bits",
        ]
    );
}

#[test]
fn documents_the_reply_of_the_service() {
    let document = common::asyncapi_of("rpc");
    assert_eq!(common::address(&document, "Multiply"), "multiply");
    let reply = &document["operations"]["receiveMultiply"]["reply"];
    assert_eq!(reply["address"]["location"], "$message.header#/reply-to");
    let channels = document["channels"].as_object().unwrap();
    assert!(
        channels.values().all(|channel| !channel["address"]
            .as_str()
            .is_some_and(|a| a.starts_with("amgi.replies."))),
        "the per-process reply address is not part of the contract: {channels:?}"
    );
}
