//! `Param<T>`: the `{placeholders}` of a channel's address, parsed with `FromStr`.
//!
//! `#[channel("orders.{region}.{id}")]` handles `orders.eu.42` with `region = "eu"` and `id = 42`;
//! the macro checks at compile time that every placeholder has a parameter and the other way
//! round. Exact addresses win over templates.
//!
//! `cargo run --example params` publishes to four addresses, prints what each handler sees and the
//! reason of the message it rejected (after one delivery: a parameter that does not parse never
//! will, so it is dead-lettered at once), then exits. `-- asyncapi` prints the application's
//! AsyncAPI document instead.

use asyncfast::amgi::MessageSend;
use asyncfast::prelude::*;
use examples::Handled;

/// Any order of any region.
#[channel("orders.{region}.{id}")]
async fn on_order(region: Param<String>, id: Param<u64>) {
    println!("order {} in {}", *id, *region);
}

/// The test region has a handler of its own: an exact address beats a template.
#[channel("orders.test.0")]
async fn on_test_order() {
    println!("test order");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker = amgi_memory::Broker::default();
    for address in [
        "orders.eu.42",
        "orders.us.7",
        "orders.test.0",
        "orders.eu.x",
    ] {
        broker.try_publish(MessageSend::new(address))?;
    }

    // Three good messages, and a bad one delivered once (dead-lettered at once: it can never
    // succeed).
    let handled = Handled::new();
    AsyncFast::new()
        .title("Params example")
        .layer(handled.clone())
        .serve_on(amgi_memory::MemoryCommand::with_broker(broker.clone()))
        .run_until(handled.wait_for(3 + 1))
        .await?;

    for letter in broker.dead_letters("orders.eu.x") {
        println!("rejected: {}", letter.reason);
    }
    Ok(())
}
