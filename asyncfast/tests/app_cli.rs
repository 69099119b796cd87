//! `AsyncFast::new` collects every `#[channel]`; the AsyncAPI skeleton; serving on the embedded
//! broker.

use std::time::Duration;

use asyncfast::amgi::{Headers, MessageSend};
use asyncfast::prelude::*;
use serde_json::json;

/// Greets every new user.
#[channel("user.created")]
async fn handle_user_created(email: Payload<String>, correlation_id: Header<String>) -> OrderSeen {
    OrderSeen {
        email: email.0,
        correlation: correlation_id.0,
    }
}

#[channel(
    "orders.{region}",
    name = "order_router",
    description = "Routes orders."
)]
async fn orders(region: Param<String>) {
    let _ = region;
}

static GREETED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

#[channel("user.greeted")]
async fn on_greeted(email: Payload<String>, correlation_id: Header<String>) {
    GREETED
        .lock()
        .unwrap()
        .push(format!("{} {}", *email, *correlation_id));
}

#[derive(Message)]
#[message(address = "user.greeted")]
struct OrderSeen {
    #[payload]
    email: String,
    #[header(alias = "correlation-id")]
    correlation: String,
}

#[test]
fn new_collects_every_channel_of_the_binary() {
    let app = AsyncFast::new();
    let mut names: Vec<&str> = app.channels().map(asyncfast::ChannelMeta::name).collect();
    names.sort_unstable();
    assert_eq!(names, ["handle_user_created", "on_greeted", "order_router"]);
    app.validate().unwrap();
}

#[test]
fn asyncapi_documents_every_channel() {
    let app = AsyncFast::new()
        .title("Users")
        .version("1.2.0")
        .description("User events.");
    let doc = asyncfast::asyncapi::document(&app);
    assert_eq!(doc["asyncapi"], "3.0.0");
    assert_eq!(
        doc["info"],
        json!({"title": "Users", "version": "1.2.0", "description": "User events."})
    );
    let channels = &doc["channels"];
    assert_eq!(channels["HandleUserCreated"]["address"], "user.created");
    assert_eq!(
        channels["HandleUserCreated"]["description"],
        "Greets every new user."
    );
    assert_eq!(channels["OnGreeted"]["address"], "user.greeted");
    assert_eq!(channels["OrderRouter"]["address"], "orders.{region}");
    assert!(channels["OrderRouter"]["parameters"]["region"].is_object());
    // The returned `OrderSeen` is sent: its own channel and `send` operation.
    assert_eq!(channels["OrderSeen"]["address"], "user.greeted");
    let mut operations: Vec<&String> = doc["operations"].as_object().unwrap().keys().collect();
    operations.sort();
    assert_eq!(
        operations,
        [
            "receiveHandleUserCreated",
            "receiveOnGreeted",
            "receiveOrderRouter",
            "sendOrderSeen"
        ]
    );
}

#[tokio::test]
async fn asyncapi_subcommand_writes_the_document() {
    let path = std::env::temp_dir().join(format!("asyncfast-{}.json", std::process::id()));
    AsyncFast::new()
        .run_with_args(["app", "asyncapi", "--output", path.to_str().unwrap()])
        .await
        .unwrap();
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        written["channels"]["HandleUserCreated"]["address"],
        "user.created"
    );
}

#[tokio::test]
async fn serves_on_the_embedded_broker_until_stopped() {
    let broker = amgi_memory::Broker::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // `run` alone: the embedded broker, consuming the app's channels.
    let app = AsyncFast::new().serve_on(amgi_memory::MemoryCommand::with_broker(broker.clone()));
    let server = tokio::spawn(app.run_with_args_until(["app", "run"], || async {
        let _ = stopped.await;
    }));
    broker
        .publish(
            MessageSend::new("user.created")
                .headers(Headers::new().with("correlation-id", "c-1"))
                .payload("ada@example.com"),
        )
        .await
        .unwrap();
    // The handler publishes `user.greeted` back into the broker, where `on_greeted` gets it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while GREETED.lock().unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no greeting handled"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(*GREETED.lock().unwrap(), ["ada@example.com c-1"]);
    assert_eq!(broker.depth("user.created"), 0);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_address_without_a_channel_is_a_startup_error_listing_the_channels() {
    let error = AsyncFast::new()
        .run_with_args_until(["app", "run", "memory", "user.deleted"], || async {})
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, asyncfast::Error::Server(_)), "{message}");
    assert!(message.contains("`user.deleted`"), "{message}");
    assert!(message.contains("`user.created`"), "{message}");
}

// `run kafka` without the `kafka` feature naming the feature is a unit test of `cli.rs`: in a
// workspace build every server feature is on (each server crate tests its registration).
#[tokio::test]
async fn an_unknown_server_is_named_with_the_servers_the_binary_has() {
    let unknown = AsyncFast::new()
        .run_with_args_until(["app", "run", "carrier-pigeon"], || async {})
        .await
        .unwrap_err();
    let message = unknown.to_string();
    assert!(
        message.starts_with("no server named `carrier-pigeon`"),
        "{message}"
    );
    assert!(message.contains("memory"), "{message}");
}
