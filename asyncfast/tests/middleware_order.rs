//! Middleware: order, short-circuit, rewriting outcomes, seeing panics as nacks.

use std::sync::{Arc, Mutex};

use asyncfast::middleware::{Middleware, Next};
use asyncfast::prelude::*;
use asyncfast::testing::TestClient;
use asyncfast::{MessageContext, NackKind, Outcome};

type Log = Arc<Mutex<Vec<String>>>;

struct Named {
    name: &'static str,
    log: Log,
}

impl Middleware for Named {
    async fn handle(&self, ctx: &mut MessageContext<'_>, next: Next<'_>) -> Outcome {
        self.log
            .lock()
            .unwrap()
            .push(format!("{} before", self.name));
        let outcome = next.run(ctx).await;
        self.log
            .lock()
            .unwrap()
            .push(format!("{} after ack={}", self.name, outcome.is_ack()));
        outcome
    }
}

/// Nacks messages without a `token` header before the handler runs.
struct RequireToken;

impl Middleware for RequireToken {
    async fn handle(&self, ctx: &mut MessageContext<'_>, next: Next<'_>) -> Outcome {
        if ctx.header("token").is_none() {
            return Outcome::nack(NackKind::Middleware, "no token");
        }
        next.run(ctx).await
    }
}

/// Turns nacks into acks (a dead-letter policy of its own).
struct Swallow;

impl Middleware for Swallow {
    async fn handle(&self, ctx: &mut MessageContext<'_>, next: Next<'_>) -> Outcome {
        match next.run(ctx).await {
            Outcome::Nack(_) => Outcome::ack(),
            answered => answered,
        }
    }
}

#[channel("work")]
async fn work(log: State<Mutex<Vec<String>>>) {
    log.lock().unwrap().push("handler".into());
}

#[channel("boom")]
async fn boom() {
    panic!("exploded");
}

#[tokio::test]
async fn first_layer_is_outermost() {
    let log: Log = Arc::default();
    let app = AsyncFast::empty()
        .state_arc(Arc::clone(&log))
        .layer(Named {
            name: "a",
            log: Arc::clone(&log),
        })
        .layer(Named {
            name: "b",
            log: Arc::clone(&log),
        })
        .channel(handler!(work))
        .channel(handler!(boom));
    let client = TestClient::new(app).await;
    client.publish("work").await.assert_acked();
    assert_eq!(
        *log.lock().unwrap(),
        [
            "a before",
            "b before",
            "handler",
            "b after ack=true",
            "a after ack=true"
        ]
    );
    log.lock().unwrap().clear();
    assert_eq!(
        client.publish("boom").await.assert_nacked(),
        "handler panicked: exploded"
    );
    assert_eq!(
        *log.lock().unwrap(),
        [
            "a before",
            "b before",
            "b after ack=false",
            "a after ack=false"
        ],
        "middleware sees a panic as a nack"
    );
}

#[tokio::test]
async fn middleware_can_short_circuit_and_rewrite() {
    let log: Log = Arc::default();
    let app = AsyncFast::empty()
        .state_arc(Arc::clone(&log))
        .layer(RequireToken)
        .channel(handler!(work));
    let client = TestClient::new(app).await;
    assert_eq!(client.publish("work").await.assert_nacked(), "no token");
    assert!(log.lock().unwrap().is_empty(), "the handler did not run");
    client
        .publish("work")
        .header("token", "t")
        .await
        .assert_acked();

    let app = AsyncFast::empty().layer(Swallow).channel(handler!(boom));
    TestClient::new(app)
        .await
        .publish("boom")
        .await
        .assert_acked();
}
