//! Dependencies: any extractor, computed once per message through `Dep<T>`, with cleanup.

use std::sync::{Arc, Mutex};

use asyncfast::MessageContext;
use asyncfast::extract::{Dep, FromMessage, ParamSpec};
use asyncfast::prelude::*;
use asyncfast::testing::TestClient;

#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl Log {
    fn push(&self, entry: impl Into<String>) {
        self.0.lock().unwrap().push(entry.into());
    }
}

/// A dependency reading a header and shared state.
struct CurrentUser {
    id: String,
    log: Arc<Log>,
}

#[derive(Debug, thiserror::Error)]
#[error("no user: the `user-id` header is missing")]
struct NoUser;

impl FromMessage for CurrentUser {
    type Rejection = NoUser;

    async fn from_message(
        ctx: &mut MessageContext<'_>,
        _spec: &'static ParamSpec,
    ) -> Result<Self, Self::Rejection> {
        let id = ctx.header("user-id").ok_or(NoUser)?;
        let id = String::from_utf8_lossy(id).into_owned();
        let log = ctx.state().get::<Log>().expect("log state");
        log.push(format!("resolve {id}"));
        Ok(Self { id, log })
    }

    async fn cleanup(value: Arc<Self>, succeeded: bool) {
        value
            .log
            .push(format!("cleanup {} succeeded={succeeded}", value.id));
    }
}

/// A dependency built on another dependency.
struct Permissions {
    admin: bool,
}

impl FromMessage for Permissions {
    type Rejection = NoUser;

    async fn from_message(
        ctx: &mut MessageContext<'_>,
        spec: &'static ParamSpec,
    ) -> Result<Self, Self::Rejection> {
        let user: Dep<CurrentUser> = ctx.extract(spec).await?;
        Ok(Self {
            admin: user.id == "root",
        })
    }
}

#[channel("secure")]
async fn secure(
    user: Dep<CurrentUser>,
    same: Dep<CurrentUser>,
    permissions: Dep<Permissions>,
) -> Result<(), String> {
    assert!(Arc::ptr_eq(&user.0, &same.0), "computed once");
    user.log.push(format!("handler {}", user.id));
    if permissions.admin {
        Ok(())
    } else {
        Err(format!("{} is not an admin", user.id))
    }
}

#[tokio::test]
async fn computed_once_per_message_and_cleaned_up_after_the_handler() {
    let log = Log::default();
    let app = AsyncFast::empty().state(log).channel(handler!(secure));
    let client = TestClient::new(app).await;
    client
        .publish("secure")
        .header("user-id", "root")
        .await
        .assert_acked();
    let outcome = client.publish("secure").header("user-id", "bob").await;
    assert_eq!(outcome.assert_nacked(), "bob is not an admin");
    let log = client.state().get::<Log>().unwrap();
    assert_eq!(
        *log.0.lock().unwrap(),
        [
            "resolve root",
            "handler root",
            "cleanup root succeeded=true",
            "resolve bob",
            "handler bob",
            "cleanup bob succeeded=false"
        ]
    );
}

#[tokio::test]
async fn dependency_rejection_nacks() {
    let app = AsyncFast::empty()
        .state(Log::default())
        .channel(handler!(secure));
    let client = TestClient::new(app).await;
    let outcome = client.publish("secure").await;
    assert_eq!(
        outcome.assert_nacked(),
        "no user: the `user-id` header is missing"
    );
}
