//! Request/reply, the way amqp-fabric's services call each other: a `multiply(x, y)` service
//! answering with `Reply<T>`, and a client asking it with `Publisher::request`. Nothing in it
//! names a broker: `cargo run --example rpc` runs both on the embedded broker; with a server's
//! feature, `-- run amqp …` or `-- run nats …` runs them on that broker, unchanged.
//!
//! The client asks three questions, prints the answers — one of them the service's error — and
//! the program exits. `-- asyncapi` prints the AsyncAPI document, whose `receiveMultiply`
//! operation has a `reply`.

use std::time::Duration;

use asyncfast::prelude::*;
use asyncfast::{Reply, RequestError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The arguments of `multiply`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
struct Multiply {
    x: i64,
    y: i64,
}

/// Multiplies two numbers; fails when the product does not fit in 64 bits.
#[channel("multiply")]
async fn multiply(args: Payload<Multiply>) -> Result<Reply<i64>, String> {
    args.x
        .checked_mul(args.y)
        .map(Reply)
        .ok_or_else(|| format!("{} × {} does not fit in 64 bits", args.x, args.y))
}

/// Asks the service, as any other service of the fabric would.
async fn client(publisher: asyncfast::Publisher) {
    for (x, y) in [(6, 7), (-3, 14), (i64::MAX, 2)] {
        let answer: Result<i64, RequestError> = publisher
            .request("multiply", &Multiply { x, y })
            .timeout(Duration::from_secs(5))
            .await;
        match answer {
            Ok(product) => println!("multiply({x}, {y}) = {product}"),
            Err(RequestError::Remote { reason, .. }) => {
                println!("multiply({x}, {y}) failed: {reason}");
            }
            Err(error) => eprintln!("multiply({x}, {y}): {error}"),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), asyncfast::Error> {
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    let app = AsyncFast::new().title("RPC example").replies();
    let publisher = app.publisher();
    let done = std::sync::Mutex::new(Some(done));
    app.on_startup(move |_state| {
        let publisher = publisher.clone();
        let done = done.lock().ok().and_then(|mut done| done.take());
        async move {
            // The requests wait for replies the server delivers: ask from a task of its own.
            tokio::spawn(async move {
                client(publisher).await;
                if let Some(done) = done {
                    let _ = done.send(());
                }
            });
            Ok::<(), std::convert::Infallible>(())
        }
    })
    .run_until(async {
        let _ = finished.await;
    })
    .await
}
