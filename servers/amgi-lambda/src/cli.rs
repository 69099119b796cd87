//! [`LambdaCommand`]: `run lambda`, serving an application's Lambda invocations.

use amgi_server::{ServeContext, ServeError, ServerCommand};
use futures_util::future::BoxFuture;

use crate::{LambdaConfig, LambdaServer};

/// `run lambda`: serves the invocations of the Lambda Runtime API (SQS and Kafka
/// event-source mappings) until SIGTERM, configured by the environment
/// ([`LambdaConfig::from_env`]: `AMGI_SQS_ADDRESSES`, `AMGI_KAFKA_ON_NACK`). AsyncFast's `run`
/// picks it without being told when `AWS_LAMBDA_RUNTIME_API` is set.
///
/// ```no_run
/// # async fn f(cx: amgi_server::ServeContext) -> Result<(), amgi_server::ServeError> {
/// use amgi_lambda::LambdaCommand;
/// use amgi_server::ServerCommand;
///
/// let args = LambdaCommand.command().get_matches_from(["lambda"]);
/// LambdaCommand.serve(args, cx).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct LambdaCommand;

impl ServerCommand for LambdaCommand {
    fn name(&self) -> &'static str {
        "lambda"
    }

    fn command(&self) -> clap::Command {
        clap::Command::new(self.name()).about(
            "Serve AWS Lambda invocations (SQS and Kafka event-source mappings); chosen by \
             `run` when AWS_LAMBDA_RUNTIME_API is set. Configured by AMGI_SQS_ADDRESSES \
             (address=queue,…) and AMGI_KAFKA_ON_NACK (fail|log|dead-letter)",
        )
    }

    fn serve(
        &self,
        _args: clap::ArgMatches,
        cx: ServeContext,
    ) -> BoxFuture<'static, Result<(), ServeError>> {
        Box::pin(async move {
            let config = LambdaConfig::from_env()?;
            LambdaServer::new(cx.app)
                .config(config)
                .run_until(cx.shutdown)
                .await
        })
    }
}
