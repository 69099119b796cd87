//! `State<T>`: registered on the app, inserted at startup, or missing (fails at start).

use asyncfast::amgi::StateMap as AmgiState;
use asyncfast::prelude::*;
use asyncfast::testing::TestClient;

struct Greeting(&'static str);
struct Pool(String);
struct NeverProvided;

#[channel("greet")]
async fn greet(greeting: State<Greeting>, pool: State<Pool>) -> Result<(), String> {
    let (Greeting(text), Pool(pool)) = (&*greeting, &*pool);
    (*text == "hello" && pool == "pool-1")
        .then_some(())
        .ok_or_else(|| "wrong state".to_owned())
}

#[channel("needs.missing")]
async fn needs_missing(_missing: State<NeverProvided>) {}

#[tokio::test]
async fn app_state_and_startup_state_reach_handlers() {
    let app = AsyncFast::empty()
        .state(Greeting("hello"))
        .on_startup(|state: AmgiState| async move {
            // App state is in the server's state by the time hooks run.
            assert!(state.contains::<Greeting>());
            state.insert(Pool("pool-1".into()));
            Ok::<(), std::convert::Infallible>(())
        })
        .channel(handler!(greet));
    let client = TestClient::new(app).await;
    client.publish("greet").await.assert_acked();
    assert!(client.state().contains::<Pool>());
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn missing_state_fails_startup_naming_type_and_handler() {
    let app = AsyncFast::empty().channel(handler!(needs_missing));
    let error = TestClient::try_new(app).await.unwrap_err().to_string();
    assert_eq!(
        error,
        "application startup failed: handler `needs_missing` cannot run: state \
         `extract_state::NeverProvided` was never provided: register it with `AsyncFast::state` \
         or insert it in a startup hook"
    );
}
