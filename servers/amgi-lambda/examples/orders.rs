//! An AsyncFast application as a Lambda function: `orders` records are JSON orders; a negative
//! amount is refused (nacked). Built with asyncfast's `lambda` feature, the same binary serves
//! Lambda invocations when `AWS_LAMBDA_RUNTIME_API` is set (`orders run`), and the embedded
//! broker otherwise.
//!
//! `cargo run --release -p amgi-lambda --example orders -- measure` handles a 10-record SQS
//! invocation in process 2 000 times and prints the median and 99th percentile (the figures
//! of `docs/performance-lambda.md`).

use std::time::{Duration, Instant};

use amgi_lambda::LambdaServer;
use amgi_lambda::testing::{SqsEventBuilder, SqsRecord};
use asyncfast::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;

/// An order.
#[derive(Deserialize, JsonSchema)]
struct Order {
    id: u64,
    amount: i64,
}

/// Refuses orders with a negative amount.
#[channel("orders")]
async fn on_order(order: Payload<Order>) -> Result<(), String> {
    if order.amount < 0 {
        return Err(format!("order {}: negative amount", order.id));
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().nth(1).as_deref() == Some("measure") {
        return measure().await;
    }
    AsyncFast::new().title("Orders").run().await?;
    Ok(())
}

/// Handles a 10-record invocation (one nacked) in process, 2 000 times.
async fn measure() -> Result<(), Box<dyn std::error::Error>> {
    let server = LambdaServer::new(AsyncFast::new()).start().await?;
    let mut event = SqsEventBuilder::new("arn:aws:sqs:us-east-1:123456789012:orders");
    for id in 0..10 {
        let amount = if id == 3 { -1 } else { 10 };
        event = event.record(SqsRecord::new(
            format!("m-{id}"),
            format!(r#"{{"id":{id},"amount":{amount}}}"#),
        ));
    }
    let event = event.build();
    let mut times: Vec<Duration> = Vec::with_capacity(2_000);
    for _ in 0..2_000 {
        let event = event.clone();
        let start = Instant::now();
        let response = server.invoke(event).await?;
        times.push(start.elapsed());
        assert_eq!(response["batchItemFailures"][0]["itemIdentifier"], "m-3");
    }
    times.sort();
    println!(
        "10-record SQS invocation, in process: median {:?}, p99 {:?}",
        times[times.len() / 2],
        times[times.len() * 99 / 100]
    );
    server.shutdown().await?;
    Ok(())
}
