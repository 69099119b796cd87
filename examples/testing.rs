//! Testing: `TestClient` drives an application exactly as a server does — lifespan startup, each
//! publish as one batch through the same dispatcher — without a broker, and reports how each
//! message ended and what the application sent. It is `TestKafkaBroker` / `TestClient` of
//! FastStream.
//!
//! The tests of this example are in `examples/tests/testing.rs`; this `main` does what they do and
//! prints the outcomes: `cargo run --example testing`. With arguments it is the application's
//! command line instead: `cargo run --example testing -- asyncapi` prints its AsyncAPI document.

use asyncfast::prelude::*;
use asyncfast::testing::TestClient;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Deserialize, JsonSchema)]
pub(crate) struct Signup {
    pub(crate) email: String,
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct Welcome {
    pub(crate) text: String,
}

/// Published to `email.welcome`.
#[derive(Message)]
#[message(address = "email.welcome")]
pub(crate) struct WelcomeEmail {
    #[payload]
    pub(crate) body: Welcome,
}

/// Welcomes a new user, unless the address is not an e-mail address.
#[channel("user.signed_up")]
pub(crate) async fn on_signup(signup: Payload<Signup>) -> Result<WelcomeEmail, String> {
    if !signup.email.contains('@') {
        return Err(format!("`{}` is not an e-mail address", signup.email));
    }
    Ok(WelcomeEmail {
        body: Welcome {
            text: format!("Welcome, {}!", signup.email),
        },
    })
}

/// The application under test.
pub(crate) fn app() -> AsyncFast {
    AsyncFast::empty().channel(handler!(on_signup))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args_os().len() > 1 {
        app().title("Testing example").run().await?;
        return Ok(());
    }

    let client = TestClient::new(app()).await;

    let outcome = client
        .publish("user.signed_up")
        .json(&json!({"email": "ada@example.com"}))
        .await;
    let sent = outcome.assert_acked().assert_sent("email.welcome");
    println!(
        "acked, sent to email.welcome: {}",
        String::from_utf8_lossy(sent.payload.as_deref().unwrap_or_default())
    );

    let outcome = client
        .publish("user.signed_up")
        .json(&json!({"email": "nobody"}))
        .await;
    println!("nacked: {}", outcome.assert_nacked());

    let outcome = client
        .publish("user.signed_up")
        .json(&json!({"mail": "typo@example.com"}))
        .await;
    println!("nacked: {}", outcome.assert_nacked());

    client.shutdown().await?;
    Ok(())
}
