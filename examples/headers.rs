//! `Header<T>`: a header named after the parameter (`correlation_id` reads `correlation-id`),
//! an alias for names that are not Rust identifiers, optional headers, defaults, and what happens
//! to a message whose header is missing or does not parse.
//!
//! `cargo run --example headers` publishes four orders to itself, prints what the handler sees
//! and, once they are handled, the reasons of the two it rejected (each delivered once and
//! dead-lettered at once: a missing or invalid header never succeeds on a redelivery), then exits.
//! `-- asyncapi` prints the application's AsyncAPI document instead.

use asyncfast::amgi::{Headers, MessageSend};
use asyncfast::prelude::*;
use examples::Handled;

/// Prints the headers of every order.
#[channel("orders.created")]
async fn on_order(
    correlation_id: Header<String>,
    #[header(alias = "Idempotency-Key")] key: Header<Option<String>>,
    #[header(default = 1)] priority: Header<u8>,
) {
    println!(
        "order {}: key {:?}, priority {}",
        *correlation_id, *key, *priority
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker = amgi_memory::Broker::default();
    let orders = [
        Headers::new()
            .with("correlation-id", "c-1")
            .with("Idempotency-Key", "k-1")
            .with("priority", "5"),
        Headers::new().with("correlation-id", "c-2"),
        Headers::new().with("Idempotency-Key", "k-3"),
        Headers::new()
            .with("correlation-id", "c-4")
            .with("priority", "high"),
    ];
    for headers in orders {
        broker.try_publish(MessageSend::new("orders.created").headers(headers))?;
    }

    // Two good orders, and two bad ones delivered once each (a missing or invalid header never
    // succeeds, so they are dead-lettered at once).
    let handled = Handled::new();
    AsyncFast::new()
        .title("Headers example")
        .layer(handled.clone())
        .serve_on(amgi_memory::MemoryCommand::with_broker(broker.clone()))
        .run_until(handled.wait_for(2 + 2))
        .await?;

    for letter in broker.dead_letters("orders.created") {
        println!("rejected: {}", letter.reason);
    }
    Ok(())
}
