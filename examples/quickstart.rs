//! The quickstart: the README's code, plus three `user.created` messages it publishes to itself on
//! the embedded broker before serving.
//!
//! `cargo run --example quickstart` prints the three users as it handles them, then keeps serving
//! until Ctrl-C (or SIGTERM), when it shuts down gracefully. `cargo run --example quickstart --
//! asyncapi` prints its AsyncAPI document instead; `-- --help` lists the options.

use asyncfast::amgi::{Headers, MessageSend};
use asyncfast::prelude::*; // channel, AsyncFast, Payload, Header, Param, State, MessageSender, Message
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct UserCreated {
    id: u64,
    email: String,
}

/// Greets every new user.
#[channel("user.created")]
async fn handle_user_created(payload: Payload<UserCreated>, correlation_id: Header<String>) {
    println!(
        "User created: #{} {} ({})",
        payload.id, payload.email, *correlation_id
    );
}

#[tokio::main]
async fn main() -> Result<(), asyncfast::Error> {
    // Not in the README: three users, published to the embedded broker the app then serves on.
    let broker = amgi_memory::Broker::default();
    for (id, email) in [
        (1, "ada@example.com"),
        (2, "grace@example.com"),
        (3, "alan@example.com"),
    ] {
        let message = MessageSend::new("user.created")
            .headers(Headers::new().with("correlation-id", format!("c-{id}")))
            .payload(format!(r#"{{"id":{id},"email":"{email}"}}"#));
        broker
            .try_publish(message)
            .expect("a new queue has room for three messages");
    }

    AsyncFast::new()
        .serve_on(amgi_memory::MemoryCommand::with_broker(broker))
        .run()
        .await
}
