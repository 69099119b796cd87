//! Dependency cleanup runs after the messages a handler returned were published, and is told the
//! final outcome: a transaction must roll back when publishing fails (the message is then nacked
//! and redelivered, and committing would run its side effect twice).

use std::sync::{Arc, Mutex};

use asyncfast::MessageContext;
use asyncfast::amgi::MessageSend;
use asyncfast::extract::{Dep, FromMessage, ParamSpec};
use asyncfast::prelude::*;
use asyncfast::testing::TestClient;

#[derive(Default)]
struct Ledger(Mutex<Vec<&'static str>>);

/// A unit of work committed when the message succeeded, rolled back otherwise.
struct Transaction(Arc<Ledger>);

impl FromMessage for Transaction {
    type Rejection = std::convert::Infallible;

    async fn from_message(
        ctx: &mut MessageContext<'_>,
        _spec: &'static ParamSpec,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(ctx.state().get::<Ledger>().expect("ledger state")))
    }

    async fn cleanup(value: Arc<Self>, succeeded: bool) {
        let entry = if succeeded { "commit" } else { "rollback" };
        value.0.0.lock().unwrap().push(entry);
    }
}

#[channel("payment.received")]
async fn record_payment(_tx: Dep<Transaction>) -> MessageSend {
    MessageSend::new("payment.recorded").payload("{}")
}

async fn client(ledger: &Arc<Ledger>) -> TestClient {
    TestClient::new(
        AsyncFast::empty()
            .state_arc(Arc::clone(ledger))
            .channel(handler!(record_payment)),
    )
    .await
}

#[tokio::test]
async fn a_failed_publish_rolls_back() {
    let ledger = Arc::new(Ledger::default());
    let client = client(&ledger).await;
    client.fail_publishes_to("payment.recorded");
    let outcome = client.publish("payment.received").payload("{}").await;
    let reason = outcome.assert_nacked();
    assert!(reason.contains("payment.recorded"), "{reason}");
    assert_eq!(*ledger.0.lock().unwrap(), ["rollback"]);
}

#[tokio::test]
async fn a_published_outcome_commits() {
    let ledger = Arc::new(Ledger::default());
    let client = client(&ledger).await;
    client
        .publish("payment.received")
        .payload("{}")
        .await
        .assert_acked()
        .assert_sent("payment.recorded");
    assert_eq!(*ledger.0.lock().unwrap(), ["commit"]);
}
