//! Lifespan startup runs at init, before the first invocation; shutdown after the last.

mod support;

use amgi_lambda::LambdaServer;
use amgi_lambda::testing::{SqsEventBuilder, SqsRecord};
use support::Recorder;

#[tokio::test]
async fn startup_runs_before_the_first_invocation_and_shutdown_after_the_last() {
    let app = Recorder::default();
    let server = LambdaServer::new(app.clone()).start().await.unwrap();
    assert_eq!(*app.events.lock().unwrap(), ["startup"]);
    let event = SqsEventBuilder::new("arn:aws:sqs:us-east-1:1:q")
        .record(SqsRecord::new("m", "x"))
        .build();
    server.invoke(event).await.unwrap();
    server.shutdown().await.unwrap();
    assert_eq!(
        *app.events.lock().unwrap(),
        ["startup", "message", "shutdown"]
    );
}

#[tokio::test]
async fn run_until_outside_lambda_names_the_missing_variables() {
    // The test process has no Lambda runtime variables.
    let error = LambdaServer::new(Recorder::default())
        .run_until(std::future::ready(()))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("AWS_LAMBDA_RUNTIME_API"),
        "{error}"
    );
}
