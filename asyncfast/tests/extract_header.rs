//! `Header<T>`: names, aliases, optional headers, defaults and rejections.

use asyncfast::prelude::*;
use asyncfast::testing::TestClient;

#[derive(Debug, PartialEq)]
struct TenantId(u32);

impl std::str::FromStr for TenantId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(TenantId)
    }
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

asyncfast::header_value!(TenantId);

#[channel("headers")]
async fn on_headers(
    correlation_id: Header<String>,
    #[header(alias = "Idempotency-Key")] key: Header<Option<String>>,
    #[header(default = 1)] attempt: Header<u32>,
    tenant: Header<Option<TenantId>>,
) -> Result<(), String> {
    let summary = format!("{}|{:?}|{}|{:?}", *correlation_id, *key, *attempt, *tenant);
    match summary.as_str() {
        "c-1|None|1|None" | "c-2|Some(\"k-9\")|3|Some(TenantId(42))" => Ok(()),
        other => Err(format!("unexpected {other}")),
    }
}

async fn client() -> TestClient {
    TestClient::new(AsyncFast::empty().channel(handler!(on_headers))).await
}

#[tokio::test]
async fn name_is_the_parameter_with_dashes() {
    client()
        .await
        .publish("headers")
        .header("correlation-id", "c-1")
        .await
        .assert_acked();
}

#[tokio::test]
async fn alias_optional_default_and_custom_types() {
    client()
        .await
        .publish("headers")
        .header("correlation-id", "c-2")
        .header("Idempotency-Key", "k-9")
        .header("attempt", "3")
        .header("tenant", "42")
        .await
        .assert_acked();
}

#[tokio::test]
async fn missing_header_nacks_naming_it() {
    let client = client().await;
    let outcome = client.publish("headers").await;
    assert_eq!(outcome.assert_nacked(), "missing header `correlation-id`");
    // Lookups are case-sensitive.
    let outcome = client
        .publish("headers")
        .header("Correlation-Id", "c-1")
        .await;
    assert_eq!(outcome.assert_nacked(), "missing header `correlation-id`");
}

#[tokio::test]
async fn unparsable_header_nacks_saying_why() {
    let client = client().await;
    let outcome = client
        .publish("headers")
        .header("correlation-id", "c-1")
        .header("attempt", "three")
        .await;
    assert_eq!(
        outcome.assert_nacked(),
        "invalid header `attempt`: invalid digit found in string"
    );
    let outcome = client
        .publish("headers")
        .header("correlation-id", &b"\xff"[..])
        .await;
    assert!(
        outcome
            .assert_nacked()
            .starts_with("invalid header `correlation-id`: it is not valid UTF-8")
    );
    let outcome = client
        .publish("headers")
        .header("correlation-id", "c-1")
        .header("tenant", "acme")
        .await;
    assert_eq!(
        outcome.assert_nacked(),
        "invalid header `tenant`: invalid digit found in string"
    );
}
