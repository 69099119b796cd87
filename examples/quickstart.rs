//! The quickstart: `cargo run --example quickstart` serves it on the embedded
//! broker until Ctrl-C; `… -- asyncapi` prints its AsyncAPI document.
use asyncfast::prelude::*; // channel, AsyncFast, Payload, Header, Param, State, MessageSender, Message
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)] // `id` is part of the payload's schema; this handler does not read it
struct UserCreated {
    id: u64,
    email: String,
}

/// Greets every new user.
#[channel("user.created")]
async fn handle_user_created(payload: Payload<UserCreated>, correlation_id: Header<String>) {
    println!("User created: {} ({})", payload.email, *correlation_id);
}

#[tokio::main]
async fn main() -> Result<(), asyncfast::Error> {
    AsyncFast::new().run().await
}
