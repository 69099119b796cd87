//! `Payload<T>`: JSON, raw, optional, and decode errors that name the field.

use asyncfast::prelude::*;
use asyncfast::testing::TestClient;
use bytes::Bytes;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize, JsonSchema)]
struct UserCreated {
    id: u64,
    email: String,
    #[serde(default)]
    tags: Vec<String>,
}

#[channel("user.created")]
async fn on_user(user: Payload<UserCreated>) -> Result<(), String> {
    if user.id == 0 {
        return Err(format!("user {} has id 0", user.email));
    }
    assert!(user.tags.len() <= 3);
    Ok(())
}

#[channel("raw.bytes")]
async fn on_bytes(body: Payload<Bytes>) -> Result<(), String> {
    (body[..] == b"\x00\x01binary"[..])
        .then_some(())
        .ok_or_else(|| format!("got {body:?}"))
}

#[channel("raw.text")]
async fn on_text(body: Payload<String>) -> Result<(), String> {
    (*body == "plain text, not JSON")
        .then_some(())
        .ok_or_else(|| format!("got {:?}", *body))
}

#[channel("maybe")]
async fn on_maybe(body: Payload<Option<UserCreated>>) -> Result<(), String> {
    match &*body {
        None => Ok(()),
        Some(user) if user.id == 7 => Ok(()),
        Some(user) => Err(format!("unexpected user {}", user.id)),
    }
}

async fn client() -> TestClient {
    TestClient::new(
        AsyncFast::empty()
            .channel(handler!(on_user))
            .channel(handler!(on_bytes))
            .channel(handler!(on_text))
            .channel(handler!(on_maybe)),
    )
    .await
}

#[tokio::test]
async fn json_payload_is_decoded() {
    let client = client().await;
    client
        .publish("user.created")
        .json(&json!({"id": 1, "email": "a@example.com", "tags": ["new"]}))
        .await
        .assert_acked();
}

#[tokio::test]
async fn bad_field_nacks_with_the_field_path() {
    let client = client().await;
    let outcome = client
        .publish("user.created")
        .payload(r#"{"id":1,"email":"a@example.com","tags":["new",3]}"#)
        .await;
    assert_eq!(
        outcome.assert_nacked(),
        "invalid payload at `tags[1]`: invalid type: integer `3`, expected a string at line 1 \
         column 47"
    );
    let outcome = client
        .publish("user.created")
        .payload(r#"{"id":"x"}"#)
        .await;
    assert!(
        outcome
            .assert_nacked()
            .starts_with("invalid payload at `id`: invalid type: string"),
        "{outcome:?}"
    );
    let outcome = client.publish("user.created").payload(r#"{"id":1}"#).await;
    assert_eq!(
        outcome.assert_nacked(),
        "invalid payload: missing field `email` at line 1 column 8"
    );
    let outcome = client.publish("user.created").payload("{not json").await;
    assert_eq!(
        outcome.assert_nacked(),
        "invalid payload: key must be a string at line 1 column 2"
    );
}

#[tokio::test]
async fn missing_payload_nacks() {
    let client = client().await;
    assert_eq!(
        client.publish("user.created").await.assert_nacked(),
        "the message has no payload"
    );
}

#[tokio::test]
async fn raw_payloads() {
    let client = client().await;
    client
        .publish("raw.bytes")
        .payload(&b"\x00\x01binary"[..])
        .await
        .assert_acked();
    client
        .publish("raw.text")
        .payload("plain text, not JSON")
        .await
        .assert_acked();
    let reason = client.publish("raw.text").payload(&b"\xff\xfe"[..]).await;
    assert!(
        reason
            .assert_nacked()
            .starts_with("payload is not valid UTF-8")
    );
}

#[tokio::test]
async fn optional_payload() {
    let client = client().await;
    client.publish("maybe").await.assert_acked();
    client
        .publish("maybe")
        .json(&json!({"id": 7, "email": "x"}))
        .await
        .assert_acked();
}

#[tokio::test]
async fn handler_error_nacks_with_its_display() {
    let client = client().await;
    let outcome = client
        .publish("user.created")
        .json(&json!({"id": 0, "email": "zero@example.com"}))
        .await;
    assert_eq!(outcome.assert_nacked(), "user zero@example.com has id 0");
}
