//! # amgi-lambda
//!
//! An AMGI server for AWS Lambda, on [`lambda_runtime`] and [`aws_lambda_events`]: each
//! invocation of an **SQS** or **Kafka** (Amazon MSK, self-managed) event-source mapping is run
//! as batches through [`BatchDispatcher`](amgi_core::batch::BatchDispatcher), and answered the
//! way the event source expects.
//!
//! - **SQS**: records grouped by queue (the address is the queue name, or what
//!   `AMGI_SQS_ADDRESSES` maps it to); a standard queue is one concurrent batch, a `.fifo`
//!   queue one ordered batch per message group. The answer is a partial batch response:
//!   `batchItemFailures` names the records nacked, unanswered, skipped after a failure of their
//!   FIFO group, or whose body does not match `md5OfBody`.
//! - **Kafka**: each topic-partition is one ordered batch in offset order; the topic is the
//!   address. A nack fails the invocation (Lambda retries the batch), or as
//!   `AMGI_KAFKA_ON_NACK` says is logged or sent to `<topic>.dlq` through the [`SendRouter`].
//!
//! Lifespan startup runs at init, before the first invocation; shutdown on SIGTERM, which
//! Lambda sends because the default feature `graceful-shutdown` registers `lambda_runtime`'s
//! no-op extension.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use amgi_lambda::LambdaServer;
//! use amgi_lambda::testing::{SqsEventBuilder, SqsRecord};
//! # use amgi_core::{Application, ApplicationError, Receiver, Scope, SharedSender, SendEvent, ReceiveEvent};
//! # /// Acks every message whose payload is not `bad`.
//! # struct App;
//! # impl Application for App {
//! #     async fn call(&self, scope: Scope, receive: &mut dyn Receiver, send: SharedSender) -> Result<(), ApplicationError> {
//! #         if !matches!(scope, Scope::Message(_)) { return Err(ApplicationError::unsupported_scope(scope.kind())); }
//! #         loop {
//! #             let ReceiveEvent::Message(message) = receive.receive().await? else { continue };
//! #             let event = if message.payload.as_deref() == Some(&b"bad"[..]) {
//! #                 SendEvent::nack(message.id, "bad")
//! #             } else {
//! #                 SendEvent::ack(message.id)
//! #             };
//! #             send.send(event).await?;
//! #             if !message.more_messages { break; }
//! #         }
//! #         Ok(())
//! #     }
//! # }
//!
//! let server = LambdaServer::new(App).start().await?;
//! let event = SqsEventBuilder::new("arn:aws:sqs:us-east-1:123456789012:orders")
//!     .record(SqsRecord::new("m-1", "good"))
//!     .record(SqsRecord::new("m-2", "bad"))
//!     .build();
//! let response = server.invoke(event).await?;
//! assert_eq!(response, serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m-2"}]}));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! In a Lambda function, [`run`] serves the invocations (AsyncFast's `run` does it by itself
//! when `AWS_LAMBDA_RUNTIME_API` is set and its `lambda` feature is on).
#![deny(missing_docs)]

mod cli;
mod config;
mod error;
mod kafka;
mod router;
mod server;
mod sqs;
pub mod testing;

pub use cli::LambdaCommand;
pub use config::{KAFKA_ON_NACK_ENV, KafkaOnNack, LambdaConfig, SQS_ADDRESSES_ENV};
pub use error::{InvocationError, InvocationErrorKind, KafkaNack};
pub use kafka::{MSK_EVENT_SOURCE, OFFSET_HEADER, PARTITION_HEADER, SELF_MANAGED_EVENT_SOURCE};
pub use router::{MessageSender, SendRouter};
pub use server::{EventKind, LambdaHandle, LambdaServer, RUNTIME_ENV};

/// Serves `app` on AWS Lambda until SIGTERM (or SIGINT), configured by the environment
/// ([`LambdaConfig::from_env`]): lifespan startup at init, then the invocations of the Lambda
/// Runtime API, then lifespan shutdown. `message.send` fails (no sender configured); use
/// [`LambdaServer::with_sender`] to route sends.
///
/// ```no_run
/// # async fn f(app: amgi_core::BoxApplication) -> Result<(), amgi_server::ServeError> {
/// amgi_lambda::run(app).await
/// # }
/// ```
pub async fn run(app: impl amgi_core::Application) -> Result<(), amgi_server::ServeError> {
    LambdaServer::new(app)
        .config(LambdaConfig::from_env()?)
        .run_until(amgi_server::shutdown_signal())
        .await
}
