// The example of the issue, with `main` serving for a moment instead of until Ctrl-C.
use asyncfast::prelude::*; // channel, AsyncFast, Payload, Header, Param, State, MessageSender, Message
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct UserCreated { id: u64, email: String }

/// Greets every new user.
#[channel("user.created")]
async fn handle_user_created(payload: Payload<UserCreated>, correlation_id: Header<String>) {
    println!("User created: {} {} ({})", payload.id, payload.email, *correlation_id);
}

#[tokio::main]
async fn main() -> Result<(), asyncfast::Error> {
    let app = AsyncFast::new();
    assert_eq!(app.channels().count(), 1);
    app.run_with_args(["app", "asyncapi", "--compact"]).await
}
