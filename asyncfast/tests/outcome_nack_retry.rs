//! How each nack asks the server to retry (the AMGI `nack.retry` extension): the framework's own
//! nacks for what can never succeed are `Never`; handler errors follow the server's policy; a
//! handler chooses with `Nack::retry_after` and `Nack::reject`.

use std::time::Duration;

use asyncfast::Nack;
use asyncfast::amgi::NackRetry;
use asyncfast::prelude::*;
use asyncfast::testing::TestClient;

#[channel("orders")]
async fn order(id: Payload<u32>) -> Result<(), Nack> {
    match *id {
        1 => Err(Nack::retry_after(Duration::from_secs(30), "rate limited")),
        2 => Err(Nack::reject("not ours")),
        3 => Err(Nack::error("database down")),
        _ => Ok(()),
    }
}

#[channel("refunds")]
async fn refund(_id: Payload<u32>) -> Result<(), String> {
    Err("ledger closed".to_owned())
}

async fn client() -> TestClient {
    TestClient::new(
        AsyncFast::empty()
            .channel(handler!(order))
            .channel(handler!(refund)),
    )
    .await
}

#[tokio::test]
async fn handlers_choose_how_to_retry() {
    let client = client().await;
    let retry = async |id: &str| {
        client
            .publish("orders")
            .payload(id.to_owned())
            .await
            .nack_retry()
    };
    assert_eq!(
        retry("1").await,
        Some(NackRetry::After(Duration::from_secs(30)))
    );
    assert_eq!(retry("2").await, Some(NackRetry::Never));
    assert_eq!(retry("3").await, Some(NackRetry::Policy));
    assert_eq!(retry("4").await, None);
    let plain_error = client.publish("refunds").payload("1").await;
    assert_eq!(plain_error.nack_reason(), Some("ledger closed"));
    assert_eq!(plain_error.nack_retry(), Some(NackRetry::Policy));
}

#[tokio::test]
async fn what_can_never_succeed_is_never_retried() {
    let client = client().await;
    let undecodable = client.publish("orders").payload("not a number").await;
    assert_eq!(undecodable.nack_retry(), Some(NackRetry::Never));
    let unroutable = client.publish("nowhere").payload("1").await;
    assert_eq!(unroutable.nack_retry(), Some(NackRetry::Never));
}
