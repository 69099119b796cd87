//! Testing applications without a broker: [`TestClient`].
//!
//! The client drives the application exactly as a server does: lifespan startup through
//! [`amgi_core::lifespan::Lifespan`], each publish as one batch through
//! [`amgi_core::batch::BatchDispatcher`], with messages the application sends recorded instead
//! of published. It fails the test on protocol violations: a message acked twice, acked after a
//! nack, or left unanswered.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use asyncfast::prelude::*;
//! use asyncfast::testing::TestClient;
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct UserCreated { id: u64 }
//!
//! #[channel("user.created")]
//! async fn on_user(user: Payload<UserCreated>, correlation_id: Header<String>) {}
//!
//! let client = TestClient::new(AsyncFast::empty().channel(handler!(on_user))).await;
//! client
//!     .publish("user.created")
//!     .header("correlation-id", "c-1")
//!     .json(&serde_json::json!({"id": 1}))
//!     .await
//!     .assert_acked();
//! let reason = client.publish("user.created").json(&serde_json::json!({"id": 1})).await.assert_nacked();
//! assert_eq!(reason, "missing header `correlation-id`");
//! client.shutdown().await.unwrap();
//! # });
//! ```
//!
//! The `assert_*` methods panic, with a message saying what happened instead, when the
//! assertion does not hold: that is their purpose.

// Assertion helpers panic by design; each says so in its name.
#![allow(clippy::missing_panics_doc)]

use std::sync::{Arc, OnceLock, Weak};

use amgi_core::batch::{BatchDispatcher, BatchReport, IncomingMessage, NOT_ACKNOWLEDGED};
use amgi_core::extension::{ServerPublisher, ServerRequester};
use amgi_core::lifespan::{Lifespan, LifespanOptions};
use amgi_core::{
    Application, BoxApplication, LifespanError, LifespanScope, MessageScope, MessageSend, StateMap,
};

mod loopback;
mod outcome;
mod publish;
mod recorder;

pub use outcome::{BatchOutcome, PublishOutcome};
pub use publish::{Publish, PublishBatch, TestMessage};

use recorder::{Checked, RECORD, Record, RecordingPublisher};

/// Drives an application the way a server does, for tests. See the [module docs](self).
pub struct TestClient {
    core: Arc<ClientCore>,
    lifespan: Option<Lifespan>,
}

/// What a [`TestClient`] and its loopback requester share.
pub(crate) struct ClientCore {
    dispatcher: BatchDispatcher<Checked<BoxApplication>>,
    publisher: Arc<RecordingPublisher>,
    state: StateMap,
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient").finish_non_exhaustive()
    }
}

impl TestClient {
    /// Runs lifespan startup and returns the client.
    ///
    /// # Panics
    ///
    /// If startup fails; use [`try_new`](Self::try_new) to test that.
    pub async fn new(app: impl Application) -> Self {
        match Self::try_new(app).await {
            Ok(client) => client,
            Err(error) => panic!("{error}"),
        }
    }

    /// Runs lifespan startup; returns its error if the application fails to start.
    ///
    /// The application's [`Publisher`](crate::Publisher) is connected to the client: what it
    /// sends lands in [`take_stray_sent`](Self::take_stray_sent), and its
    /// [`request`](crate::Publisher::request)s are handled by the application's own channels, the
    /// reply coming straight back — a requester and its responder tested without a broker.
    pub async fn try_new(app: impl Application) -> Result<Self, LifespanError> {
        let app = Arc::new(Checked(BoxApplication::new(app)));
        let state = StateMap::new();
        let publisher = Arc::new(RecordingPublisher::default());
        let core_slot = Arc::new(OnceLock::<Weak<ClientCore>>::new());
        // Publishing from outside a batch (`AsyncFast::publisher`) lands in the stray messages.
        let scope = LifespanScope::new(state.clone())
            .with_extension(ServerPublisher(
                Arc::clone(&publisher) as Arc<dyn amgi_core::batch::Publisher>
            ))
            .with_extension(ServerRequester(Arc::new(loopback::LoopbackRequester::new(
                Arc::clone(&core_slot),
            ))));
        let lifespan =
            Lifespan::startup_scope(Arc::clone(&app), scope, LifespanOptions::default()).await?;
        let core = Arc::new(ClientCore {
            dispatcher: BatchDispatcher::new(app, publisher.clone()),
            publisher,
            state,
        });
        let _ = core_slot.set(Arc::downgrade(&core));
        Ok(Self {
            core,
            lifespan: Some(lifespan),
        })
    }

    /// Starts a publish of one message to `address`; configure it, then `.await` it.
    pub fn publish(&self, address: impl Into<String>) -> Publish<'_> {
        Publish::new(self, address.into())
    }

    /// Starts a publish of several messages to `address` as one batch.
    pub fn batch(&self, address: impl Into<String>) -> PublishBatch<'_> {
        PublishBatch::new(self, address.into())
    }

    /// Makes publishing to `address` fail with a transport error, as a broker that is down would.
    pub fn fail_publishes_to(&self, address: impl Into<String>) {
        self.core.publisher.fail(address.into());
    }

    /// The state shared with lifespan startup.
    pub fn state(&self) -> &StateMap {
        &self.core.state
    }

    /// Messages published outside of any `publish` (from tasks the application spawned).
    pub fn take_stray_sent(&self) -> Vec<MessageSend> {
        self.core.publisher.take_stray()
    }

    /// Runs lifespan shutdown.
    pub async fn shutdown(mut self) -> Result<(), LifespanError> {
        match self.lifespan.take() {
            Some(lifespan) => lifespan.shutdown().await,
            None => Ok(()),
        }
    }

    /// Runs one batch and checks the application's answers.
    pub(crate) async fn dispatch(
        &self,
        scope: MessageScope,
        messages: Vec<IncomingMessage>,
    ) -> (BatchReport, Vec<MessageSend>) {
        self.core.dispatch(scope, messages).await
    }
}

impl ClientCore {
    /// Runs one batch and checks the application's answers.
    pub(crate) async fn dispatch(
        &self,
        scope: MessageScope,
        messages: Vec<IncomingMessage>,
    ) -> (BatchReport, Vec<MessageSend>) {
        let record = Arc::new(Record::default());
        let scope = scope.with_state(self.state.clone());
        let report = RECORD
            .scope(
                Arc::clone(&record),
                self.dispatcher.dispatch(scope, messages),
            )
            .await;
        if let Some(error) = &report.error {
            panic!("the application failed while handling the batch: {error}");
        }
        let violations = record.take_violations();
        assert!(
            violations.is_empty(),
            "protocol violation: {}",
            violations.join("; ")
        );
        for (index, outcome) in report.outcomes.iter().enumerate() {
            assert!(
                outcome.nack_reason() != Some(NOT_ACKNOWLEDGED),
                "protocol violation: message {index} was neither acked nor nacked"
            );
        }
        (report, record.take_sent())
    }
}
