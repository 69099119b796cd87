//! The tests of `examples/testing.rs`, as they would sit in a service's own `tests/`: the
//! application through `TestClient`, and the handler called as a plain function. One more test
//! runs the example itself.

#[allow(dead_code)] // its `main` runs as the example; here only the application is used
#[path = "../testing.rs"]
mod app;

mod common;

use asyncfast::prelude::*;
use asyncfast::testing::TestClient;
use serde_json::json;

#[tokio::test]
async fn a_signup_is_acked_and_sends_a_welcome_email() {
    let client = TestClient::new(app::app()).await;
    client
        .publish("user.signed_up")
        .json(&json!({"email": "ada@example.com"}))
        .await
        .assert_acked()
        .assert_sent_json(
            "email.welcome",
            &json!({"text": "Welcome, ada@example.com!"}),
        );
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_bad_address_is_nacked_and_sends_nothing() {
    let client = TestClient::new(app::app()).await;
    let outcome = client
        .publish("user.signed_up")
        .json(&json!({"email": "nobody"}))
        .await;
    assert_eq!(outcome.assert_nacked(), "`nobody` is not an e-mail address");
    outcome.assert_nothing_sent();
}

#[tokio::test]
async fn a_malformed_payload_is_nacked_naming_the_missing_field() {
    let client = TestClient::new(app::app()).await;
    let outcome = client
        .publish("user.signed_up")
        .json(&json!({"mail": "typo@example.com"}))
        .await;
    assert_eq!(
        outcome.assert_nacked(),
        "invalid payload: missing field `email` at line 1 column 27"
    );
}

#[tokio::test]
async fn the_handler_is_a_plain_function_too() {
    let signup = Payload(app::Signup {
        email: "grace@example.com".into(),
    });
    let email = app::on_signup(signup).await.unwrap();
    assert_eq!(email.body.text, "Welcome, grace@example.com!");
}

#[test]
fn the_example_prints_the_outcomes() {
    let stdout = common::stdout_of("testing");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            r#"acked, sent to email.welcome: {"text":"Welcome, ada@example.com!"}"#,
            "nacked: `nobody` is not an e-mail address",
            "nacked: invalid payload: missing field `email` at line 1 column 27",
        ]
    );
}

#[test]
fn documents_itself_with_the_asyncapi_command() {
    let document = common::asyncapi_of("testing");
    assert_eq!(common::address(&document, "OnSignup"), "user.signed_up");
}
