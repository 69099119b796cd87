//! Routing: exact addresses, templates, unknown addresses, and conflicts rejected at start.

use asyncfast::prelude::*;
use asyncfast::testing::{TestClient, TestMessage};
use asyncfast::{ChannelMeta, Error, Handler, MessageContext, Outcome, RouteError};

#[channel("orders.{region}")]
async fn any_region(region: Param<String>) -> Result<(), String> {
    Err(format!("template got {}", *region))
}

#[channel("orders.eu")]
async fn eu_only() {}

#[channel("orders.{country}")]
async fn by_country(country: Param<String>) {
    let _ = country;
}

/// A hand-written handler: its address is not checked at compile time.
struct Malformed;

static MALFORMED: ChannelMeta = ChannelMeta::new("orders.{bad", "malformed");

impl Handler for Malformed {
    fn meta(&self) -> &'static ChannelMeta {
        &MALFORMED
    }

    async fn call(&self, _ctx: &mut MessageContext<'_>) -> Outcome {
        Outcome::ack()
    }
}

#[channel("orders.eu", name = "second_eu")]
async fn eu_again() {}

#[tokio::test]
async fn exact_addresses_win_over_templates() {
    let app = AsyncFast::empty()
        .channel(handler!(any_region))
        .channel(handler!(eu_only));
    let client = TestClient::new(app).await;
    client.publish("orders.eu").await.assert_acked();
    assert_eq!(
        client.publish("orders.us").await.assert_nacked(),
        "template got us"
    );
}

#[tokio::test]
async fn unknown_address_nacks() {
    let client = TestClient::new(AsyncFast::empty().channel(handler!(eu_only))).await;
    let outcome = client
        .batch("nowhere")
        .message(TestMessage::new())
        .message(TestMessage::new())
        .await;
    for outcome in outcome.outcomes() {
        assert_eq!(
            outcome.nack_reason(),
            Some("no channel for address `nowhere`")
        );
    }
}

#[tokio::test]
async fn overlapping_templates_are_rejected_at_start() {
    let app = AsyncFast::empty()
        .channel(handler!(any_region))
        .channel(handler!(by_country));
    let error = app.validate().unwrap_err();
    assert!(error.is_definition_error());
    let Error::Routes(routes) = &error else {
        panic!("{error}")
    };
    assert!(matches!(&routes[..], [RouteError::Overlap { example, .. }] if example == "orders.x"));
    assert_eq!(
        error.to_string(),
        "invalid channels: address templates `orders.{region}` (handler `any_region`) and \
         `orders.{country}` (handler `by_country`) overlap: both match `orders.x`"
    );
    let startup = TestClient::try_new(app).await.unwrap_err().to_string();
    assert!(startup.starts_with("application startup failed: invalid channels: address templates"));
}

#[tokio::test]
async fn duplicate_and_malformed_addresses_are_rejected() {
    let app = AsyncFast::empty()
        .channel(handler!(eu_only))
        .channel(handler!(eu_again))
        .channel(Malformed);
    assert_eq!(
        app.validate().unwrap_err().to_string(),
        "invalid channels: handlers `eu_only` and `second_eu` both handle address `orders.eu`; \
         handler `malformed`: invalid address `orders.{bad`: unclosed placeholder: `{` at byte 7 \
         has no `}`"
    );
}
