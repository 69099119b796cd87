//! `State<T>`: values shared by every message, registered once with `AsyncFast::state` (or
//! `state_arc` to keep a handle, as here).
//!
//! State is looked up once per batch, not per message; a handler that asks for state nobody
//! provides makes the application fail at startup, naming the type and the handler.
//!
//! `cargo run --example state` greets three users, then prints how many it greeted and exits.
//! `-- asyncapi` prints the application's AsyncAPI document instead.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use asyncfast::amgi::MessageSend;
use asyncfast::prelude::*;
use examples::Handled;

/// Read-only configuration.
struct Config {
    greeting: String,
}

/// Shared, mutable through atomics (or a `Mutex`).
#[derive(Default)]
struct Stats {
    greeted: AtomicU64,
}

/// Greets a user by name.
#[channel("user.created")]
async fn greet(name: Payload<String>, config: State<Config>, stats: State<Stats>) {
    let n = stats.greeted.fetch_add(1, Ordering::Relaxed) + 1;
    println!("{} {} (#{n})", config.greeting, *name);
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker = amgi_memory::Broker::default();
    for name in ["Ada", "Grace", "Alan"] {
        broker.try_publish(MessageSend::new("user.created").payload(name))?;
    }

    let stats = Arc::new(Stats::default());
    let handled = Handled::new();
    AsyncFast::new()
        .title("State example")
        .layer(handled.clone())
        .state(Config {
            greeting: "Hello,".to_owned(),
        })
        .state_arc(Arc::clone(&stats))
        .serve_on(amgi_memory::MemoryCommand::with_broker(broker))
        .run_until(handled.wait_for(3))
        .await?;

    // The handle kept with `state_arc` sees what the handlers did (nothing after `asyncapi`).
    let greeted = stats.greeted.load(Ordering::Relaxed);
    if greeted > 0 {
        println!("greeted {greeted} users");
    }
    Ok(())
}
