//! [`LambdaServer`]: lifespan at init, then one batch run per invocation.

use std::future::Future;
use std::sync::Arc;

use amgi_core::batch::BatchDispatcher;
use amgi_core::extension::ServerPublisher;
use amgi_core::lifespan::{Lifespan, LifespanOptions};
use amgi_core::{Application, BoxApplication, LifespanScope, StateMap};
use amgi_server::{ServeError, ServeErrorKind};
use aws_lambda_events::kafka::KafkaEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use serde_json::Value;

use crate::error::{InvocationError, InvocationErrorKind};
use crate::kafka::{MSK_EVENT_SOURCE, SELF_MANAGED_EVENT_SOURCE};
use crate::{LambdaConfig, SendRouter};

/// The environment variables the Lambda runtime sets and `lambda_runtime` requires.
pub const RUNTIME_ENV: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
];

/// What every invocation uses.
pub(crate) struct Core {
    pub(crate) dispatcher: BatchDispatcher<BoxApplication>,
    pub(crate) config: LambdaConfig,
    pub(crate) router: Arc<SendRouter>,
}

/// The kind of event an invocation carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// An SQS event-source mapping's event (`Records[].eventSource` is `aws:sqs`).
    Sqs,
    /// An Amazon MSK (`aws:kafka`) or self-managed Kafka (`SelfManagedKafka`) event.
    Kafka,
}

impl EventKind {
    /// The kind of `event`, told by its `eventSource`, or `None`.
    ///
    /// ```
    /// use amgi_lambda::EventKind;
    /// let sqs = serde_json::json!({"Records": [{"eventSource": "aws:sqs"}]});
    /// assert_eq!(EventKind::of(&sqs), Some(EventKind::Sqs));
    /// let kafka = serde_json::json!({"eventSource": "SelfManagedKafka", "records": {}});
    /// assert_eq!(EventKind::of(&kafka), Some(EventKind::Kafka));
    /// ```
    pub fn of(event: &Value) -> Option<Self> {
        if let Some(source) = event.get("eventSource").and_then(Value::as_str) {
            return [MSK_EVENT_SOURCE, SELF_MANAGED_EVENT_SOURCE]
                .contains(&source)
                .then_some(Self::Kafka);
        }
        let records = event.get("Records")?.as_array()?;
        let sqs = records
            .iter()
            .all(|r| r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs"));
        sqs.then_some(Self::Sqs)
    }
}

/// Serves an application on AWS Lambda: lifespan startup at init (before the first
/// invocation), then each invocation's records as batches, answered with a partial batch
/// response (SQS) or a success or failure (Kafka).
///
/// ```no_run
/// # async fn f(app: amgi_core::BoxApplication) -> Result<(), amgi_server::ServeError> {
/// use amgi_lambda::{LambdaConfig, LambdaServer};
///
/// LambdaServer::new(app)
///     .config(LambdaConfig::from_env()?)
///     .run_until(amgi_server::shutdown_signal())
///     .await
/// # }
/// ```
#[derive(Debug)]
pub struct LambdaServer {
    app: BoxApplication,
    config: LambdaConfig,
    router: SendRouter,
    lifespan: LifespanOptions,
}

impl LambdaServer {
    /// Serves `app` with the default configuration and a send router without routes.
    pub fn new(app: impl Application) -> Self {
        Self {
            app: BoxApplication::new(app),
            config: LambdaConfig::default(),
            router: SendRouter::new(),
            lifespan: LifespanOptions::default(),
        }
    }

    /// Sets the configuration.
    ///
    /// ```no_run
    /// # fn f(server: amgi_lambda::LambdaServer) -> Result<(), amgi_server::ServeError> {
    /// let server = server.config(amgi_lambda::LambdaConfig::from_env()?);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn config(mut self, config: LambdaConfig) -> Self {
        self.config = config;
        self
    }

    /// Sends the application's `message.send` events through `router`.
    ///
    /// ```no_run
    /// # fn f(server: amgi_lambda::LambdaServer, sender: impl amgi_lambda::MessageSender) {
    /// let server = server.with_sender(amgi_lambda::SendRouter::new().route("orders.*", sender));
    /// # }
    /// ```
    #[must_use]
    pub fn with_sender(mut self, router: SendRouter) -> Self {
        self.router = router;
        self
    }

    /// Sets the lifespan deadlines.
    ///
    /// ```no_run
    /// # fn f(server: amgi_lambda::LambdaServer) {
    /// let server = server.lifespan(amgi_core::lifespan::LifespanOptions::default());
    /// # }
    /// ```
    #[must_use]
    pub fn lifespan(mut self, options: LifespanOptions) -> Self {
        self.lifespan = options;
        self
    }

    /// Runs lifespan startup (with the send router as the scope's `ServerPublisher`) and
    /// returns the handle that takes invocations. Fails with
    /// [`ServeErrorKind::Startup`] when startup fails.
    pub async fn start(self) -> Result<LambdaHandle, ServeError> {
        let router = Arc::new(self.router);
        let scope = LifespanScope::new(StateMap::new())
            .with_extension(ServerPublisher(Arc::clone(&router) as _));
        let app = Arc::new(self.app);
        let lifespan = Lifespan::startup_scope(Arc::clone(&app), scope, self.lifespan)
            .await
            .map_err(|error| ServeError::new(ServeErrorKind::Startup, error))?;
        let dispatcher = BatchDispatcher::new(app, Arc::clone(&router) as _);
        Ok(LambdaHandle {
            core: Arc::new(Core {
                dispatcher,
                config: self.config,
                router,
            }),
            lifespan,
        })
    }

    /// Starts, then serves the invocations of the Lambda Runtime API (`lambda_runtime`) until
    /// `shutdown` completes, then runs lifespan shutdown. Fails with a
    /// [`Config`](ServeErrorKind::Config) error naming the variable when one of
    /// [`RUNTIME_ENV`] is missing.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        check_runtime_env()?;
        self.start().await?.serve_until(shutdown).await
    }
}

/// Fails when a variable `lambda_runtime` needs is missing (it would panic).
fn check_runtime_env() -> Result<(), ServeError> {
    let missing: Vec<&str> = RUNTIME_ENV
        .into_iter()
        .filter(|name| std::env::var_os(name).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(ServeError::config(format!(
            "not inside AWS Lambda: {} not set (the Lambda runtime sets them; locally, \
             `cargo lambda watch` does)",
            missing.join(", ")
        )));
    }
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap_or_default();
    if api.contains('/') && !api.contains("://") {
        // `lambda_runtime` takes `host:port`, or a URL with a scheme when it has a path.
        return Err(ServeError::config(format!(
            "AWS_LAMBDA_RUNTIME_API=`{api}` has a path but no scheme: write `http://{api}`"
        )));
    }
    let memory = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").unwrap_or_default();
    if memory.parse::<i32>().is_err() {
        return Err(ServeError::config(format!(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=`{memory}` is not a number of megabytes"
        )));
    }
    Ok(())
}

/// A started Lambda server: takes invocations until [`shutdown`](Self::shutdown).
pub struct LambdaHandle {
    core: Arc<Core>,
    lifespan: Lifespan,
}

impl std::fmt::Debug for LambdaHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaHandle").finish_non_exhaustive()
    }
}

impl LambdaHandle {
    /// Handles one invocation's event: an SQS event is answered with its partial batch
    /// response (`{"batchItemFailures": [...]}`), a Kafka event with `null`, or fails.
    pub async fn invoke(&self, event: Value) -> Result<Value, InvocationError> {
        invoke(&self.core, event).await
    }

    /// Handles an SQS event.
    pub async fn invoke_sqs(&self, event: &SqsEvent) -> Result<SqsBatchResponse, InvocationError> {
        crate::sqs::handle(&self.core, event).await
    }

    /// Handles a Kafka event: `Ok` when every record was acked (or, as configured, logged or
    /// dead-lettered).
    pub async fn invoke_kafka(&self, event: &KafkaEvent) -> Result<(), InvocationError> {
        crate::kafka::handle(&self.core, event).await
    }

    /// Serves the invocations of the Lambda Runtime API until `shutdown` completes (or the
    /// runtime fails), then runs lifespan shutdown.
    ///
    /// With the `graceful-shutdown` feature, it first registers `lambda_runtime`'s no-op
    /// extension, so that Lambda sends SIGTERM before it ends the execution environment (it
    /// signals only functions with an extension); lifespan shutdown then runs from that
    /// extension's hook (which exits the process), or from `shutdown`, whichever comes first.
    pub async fn serve_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        check_runtime_env()?;
        let LambdaHandle { core, lifespan } = self;
        // Held during lifespan shutdown, so that whoever comes second waits for it to finish.
        let lifespan = Arc::new(tokio::sync::Mutex::new(Some(lifespan)));
        #[cfg(all(unix, feature = "graceful-shutdown"))]
        {
            let lifespan = Arc::clone(&lifespan);
            lambda_runtime::spawn_graceful_shutdown_handler(move || async move {
                if let Err(error) = shutdown_once(&lifespan).await {
                    tracing::error!(%error, "lifespan shutdown failed");
                }
            })
            .await;
        }
        let handler = {
            let core = Arc::clone(&core);
            lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<Value>| {
                let core = Arc::clone(&core);
                async move { invoke(&core, event.payload).await }
            })
        };
        tracing::info!(
            server = "lambda",
            runtime_api = std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap_or_default(),
            kafka_on_nack = %core.config.kafka_nack_policy(),
            "serving Lambda invocations (SQS and Kafka event-source mappings)"
        );
        let runtime = lambda_runtime::Runtime::new(handler);
        let served = tokio::select! {
            result = runtime.run() => result.map_err(|error| ServeError::new(ServeErrorKind::Server, error)),
            () = shutdown => Ok(()),
        };
        let stopped = shutdown_once(&lifespan).await;
        served.and(stopped)
    }

    /// Runs lifespan shutdown.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        stop(self.lifespan).await
    }
}

/// Runs lifespan shutdown unless it ran already; waits for it if it is running.
async fn shutdown_once(lifespan: &tokio::sync::Mutex<Option<Lifespan>>) -> Result<(), ServeError> {
    let mut slot = lifespan.lock().await;
    match slot.take() {
        Some(lifespan) => stop(lifespan).await,
        None => Ok(()),
    }
}

async fn stop(lifespan: Lifespan) -> Result<(), ServeError> {
    lifespan
        .shutdown()
        .await
        .map_err(|error| ServeError::new(ServeErrorKind::Shutdown, error))
}

async fn invoke(core: &Core, event: Value) -> Result<Value, InvocationError> {
    match EventKind::of(&event) {
        Some(EventKind::Sqs) => {
            let event: SqsEvent = serde_json::from_value(event).map_err(|error| {
                InvocationError::new(InvocationErrorKind::Malformed {
                    source_name: "SQS",
                    error,
                })
            })?;
            let response = crate::sqs::handle(core, &event).await?;
            Ok(serde_json::to_value(response).expect("a batch response is JSON"))
        }
        Some(EventKind::Kafka) => {
            let event: KafkaEvent = serde_json::from_value(event).map_err(|error| {
                InvocationError::new(InvocationErrorKind::Malformed {
                    source_name: "Kafka",
                    error,
                })
            })?;
            crate::kafka::handle(core, &event).await?;
            Ok(Value::Null)
        }
        None => {
            let source = event
                .get("eventSource")
                .or_else(|| event.pointer("/Records/0/eventSource"))
                .map_or_else(|| "no eventSource".to_owned(), ToString::to_string);
            Err(InvocationError::new(InvocationErrorKind::UnsupportedEvent(
                format!(
                    "{source}: amgi-lambda serves SQS (`aws:sqs`) and Kafka (`aws:kafka`, `SelfManagedKafka`) event-source mappings"
                ),
            )))
        }
    }
}
