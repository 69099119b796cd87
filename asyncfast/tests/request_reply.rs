//! Request/reply on the embedded broker: `Reply<T>` answers, `Publisher::request` asks.

use std::time::Duration;

use asyncfast::prelude::*;
use asyncfast::{Reply, RequestError};
use serde::{Deserialize, Serialize};

/// Every wait of these tests is bounded by this.
const WAIT: Duration = Duration::from_secs(10);

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
struct Multiply {
    x: i64,
    y: i64,
}

#[channel("multiply")]
async fn multiply(args: Payload<Multiply>) -> Result<Reply<i64>, String> {
    args.x
        .checked_mul(args.y)
        .map(Reply)
        .ok_or_else(|| format!("{} × {} overflows", args.x, args.y))
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
struct Person {
    name: String,
}

#[channel("greet")]
async fn greet(person: Payload<Person>) -> Reply<String> {
    Reply(format!("hello {}", person.name))
}

/// Handles requests but never answers.
#[channel("ignore")]
async fn ignore(_body: Payload<serde_json::Value>) {}

async fn serve(app: AsyncFast) -> amgi_memory::ServerHandle {
    let server = amgi_memory::Server::new(app, amgi_memory::Broker::default()).all_addresses();
    tokio::time::timeout(WAIT, server.start())
        .await
        .expect("the server starts in time")
        .expect("the server starts")
}

fn app() -> AsyncFast {
    AsyncFast::empty()
        .channel(handler!(multiply))
        .channel(handler!(greet))
        .channel(handler!(ignore))
        .replies()
}

#[tokio::test]
async fn concurrent_requests_each_get_their_own_typed_reply() {
    let app = app();
    let publisher = app.publisher();
    let server = serve(app).await;
    let requests = (0..50_i64).map(|i| {
        let publisher = publisher.clone();
        async move {
            let product: i64 = publisher
                .request("multiply", &Multiply { x: i, y: 3 })
                .timeout(WAIT)
                .await
                .unwrap();
            assert_eq!(product, i * 3);
        }
    });
    futures_util::future::join_all(requests).await;
    let greeting: String = publisher
        .request("greet", &Person { name: "ada".into() })
        .timeout(WAIT)
        .await
        .unwrap();
    assert_eq!(greeting, "hello ada");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_failing_handler_answers_with_an_error_reply() {
    let app = app();
    let publisher = app.publisher();
    let server = serve(app).await;
    let error = publisher
        .request::<i64>("multiply", &Multiply { x: i64::MAX, y: 2 })
        .timeout(WAIT)
        .await
        .unwrap_err();
    match &error {
        RequestError::Remote { address, reason } => {
            assert_eq!(address, "multiply");
            assert_eq!(reason, &format!("{} × 2 overflows", i64::MAX));
        }
        other => panic!("expected an error reply, got {other:?}"),
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn no_answer_times_out_and_a_wrong_type_does_not_decode() {
    let app = app();
    let publisher = app.publisher();
    let server = serve(app).await;
    let error = publisher
        .request::<i64>("ignore", &serde_json::json!({}))
        .timeout(Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RequestError::TimedOut { timeout, .. } if *timeout == Duration::from_millis(200)),
        "{error:?}"
    );
    let error = publisher
        .request::<i64>("greet", &Person { name: "ada".into() })
        .timeout(WAIT)
        .await
        .unwrap_err();
    assert!(matches!(error, RequestError::Decode { .. }), "{error:?}");
    assert!(error.to_string().contains("cannot be decoded"), "{error}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn requests_need_a_reply_address() {
    let app = AsyncFast::empty().channel(handler!(greet));
    let publisher = app.publisher();
    let server = serve(app).await;
    let error = publisher
        .request::<String>("greet", &Person { name: "ada".into() })
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("AsyncFast::replies()"),
        "the error names the fix: {error}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_reply_address_is_not_documented() {
    let app = app();
    let document = app.asyncapi();
    let addresses: Vec<&str> = document["channels"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|channel| channel["address"].as_str())
        .collect();
    assert!(
        addresses.iter().all(|a| !a.starts_with("amgi.replies.")),
        "{addresses:?}"
    );
    let reply = &document["operations"]["receiveMultiply"]["reply"];
    assert_eq!(reply["address"]["location"], "$message.header#/reply-to");
    assert_eq!(reply["channel"]["$ref"], "#/channels/MultiplyReply");
    let message = &document["components"]["messages"]["MultiplyReply"];
    assert_eq!(message["payload"]["type"], "integer");
    assert!(
        document["operations"]["receiveIgnore"]
            .get("reply")
            .is_none()
    );
}

#[tokio::test]
async fn a_test_client_answers_requests_without_a_broker() {
    // No reply address: the test client is the server, and answers requests natively.
    let app = AsyncFast::empty()
        .channel(handler!(multiply))
        .channel(handler!(ignore));
    let publisher = app.publisher();
    let client = asyncfast::testing::TestClient::new(app).await;
    let product: i64 = publisher
        .request("multiply", &Multiply { x: 6, y: 7 })
        .timeout(WAIT)
        .await
        .unwrap();
    assert_eq!(product, 42);
    let error = publisher
        .request::<i64>("multiply", &Multiply { x: i64::MAX, y: 2 })
        .await
        .unwrap_err();
    assert!(matches!(error, RequestError::Remote { .. }), "{error:?}");
    let error = publisher
        .request::<i64>("ignore", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(matches!(error, RequestError::TimedOut { .. }), "{error:?}");
    assert!(client.take_stray_sent().is_empty());
}
