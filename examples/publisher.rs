//! `AsyncFast::publisher()`: publishing from outside any handler — here a background task started
//! by a startup hook, as an HTTP endpoint or a timer would — through whichever server runs the
//! application. Nothing in it names a broker: `cargo run --example publisher` serves on the
//! embedded broker, `-- run kafka --group-id demo` (with the `kafka` feature) on Kafka.
//!
//! It publishes three orders, prints them as its handler receives them, and exits. `-- asyncapi`
//! prints the application's AsyncAPI document instead.

use asyncfast::prelude::*;
use examples::Handled;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An order, as published and as handled.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
struct Order {
    id: u32,
    item: String,
}

/// What the background task publishes.
#[derive(Message)]
#[message(address = "order.placed")]
struct OrderPlaced {
    #[payload]
    order: Order,
}

/// Handles each placed order.
#[channel("order.placed")]
async fn on_order(order: Payload<Order>) {
    println!("order {}: {}", order.id, order.item);
}

#[tokio::main]
async fn main() -> Result<(), asyncfast::Error> {
    let handled = Handled::new();
    let app = AsyncFast::new()
        .title("Publisher example")
        .layer(handled.clone());
    let publisher = app.publisher();
    app.on_startup(move |_state| {
        // Connected by now: the server hands its publisher over before the startup hooks run.
        let publisher = publisher.clone();
        async move {
            tokio::spawn(async move {
                for (id, item) in [(1, "tea"), (2, "scones"), (3, "jam")] {
                    let order = Order {
                        id,
                        item: item.to_owned(),
                    };
                    if let Err(error) = publisher.send(OrderPlaced { order }).await {
                        eprintln!("could not publish order {id}: {error}");
                    }
                }
            });
            Ok::<(), std::convert::Infallible>(())
        }
    })
    .run_until(handled.wait_for(3))
    .await
}
