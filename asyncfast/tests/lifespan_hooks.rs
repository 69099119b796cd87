//! Lifespan: startup and shutdown hooks, failures.

use std::sync::{Arc, Mutex};

use asyncfast::amgi::StateMap as AmgiState;
use asyncfast::prelude::*;
use asyncfast::testing::TestClient;

#[tokio::test]
async fn hooks_run_at_startup_and_shutdown() {
    let log: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let (start, stop) = (Arc::clone(&log), Arc::clone(&log));
    let app = AsyncFast::empty()
        .on_startup(move |_state: AmgiState| {
            let log = Arc::clone(&start);
            async move {
                log.lock().unwrap().push("startup");
                Ok::<(), std::io::Error>(())
            }
        })
        .on_shutdown(move |_state: AmgiState| {
            let log = Arc::clone(&stop);
            async move {
                log.lock().unwrap().push("shutdown");
                Ok::<(), std::io::Error>(())
            }
        });
    let client = TestClient::new(app).await;
    assert_eq!(*log.lock().unwrap(), ["startup"]);
    client.shutdown().await.unwrap();
    assert_eq!(*log.lock().unwrap(), ["startup", "shutdown"]);
}

#[tokio::test]
async fn a_failing_startup_hook_fails_startup() {
    let app = AsyncFast::empty().on_startup(|_state: AmgiState| async {
        Err(std::io::Error::other("database unreachable"))
    });
    let error = TestClient::try_new(app).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "application startup failed: startup hook failed: database unreachable"
    );
}

#[tokio::test]
async fn a_failing_shutdown_hook_is_reported() {
    let app = AsyncFast::empty()
        .on_shutdown(|_state: AmgiState| async { Err(std::io::Error::other("flush failed")) });
    let client = TestClient::new(app).await;
    let error = client.shutdown().await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "application shutdown failed: flush failed"
    );
}
