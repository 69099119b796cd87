//! `Param<T>`: address placeholders.

use asyncfast::prelude::*;
use asyncfast::testing::TestClient;

#[channel("orders.{region}.{id}")]
async fn on_order(region: Param<String>, id: Param<u64>) -> Result<(), String> {
    if *region == "eu" && *id == 42 {
        Ok(())
    } else {
        Err(format!("got {} {}", *region, *id))
    }
}

#[channel("sensors/{sensor}/temperature")]
async fn on_temperature(sensor: Param<String>, reading: Payload<f64>) -> Result<(), String> {
    (*sensor == "s-1" && (*reading - 21.5).abs() < f64::EPSILON)
        .then_some(())
        .ok_or_else(|| "wrong reading".to_owned())
}

async fn client() -> TestClient {
    TestClient::new(
        AsyncFast::empty()
            .channel(handler!(on_order))
            .channel(handler!(on_temperature)),
    )
    .await
}

#[tokio::test]
async fn placeholders_bind_to_parameters() {
    let client = client().await;
    client.publish("orders.eu.42").await.assert_acked();
    client
        .publish("sensors/s-1/temperature")
        .json(&21.5)
        .await
        .assert_acked();
}

#[tokio::test]
async fn unparsable_placeholder_nacks() {
    let client = client().await;
    let outcome = client.publish("orders.eu.forty-two").await;
    assert_eq!(
        outcome.assert_nacked(),
        "invalid value `forty-two` for address placeholder `{id}`: invalid digit found in string"
    );
}

#[tokio::test]
async fn addresses_that_do_not_match_the_template_are_unroutable() {
    let client = client().await;
    let outcome = client.publish("orders.eu").await;
    assert_eq!(
        outcome.assert_nacked(),
        "no channel for address `orders.eu`"
    );
    let outcome = client.publish("orders.eu.42.extra").await;
    assert_eq!(
        outcome.assert_nacked(),
        "no channel for address `orders.eu.42.extra`"
    );
}
