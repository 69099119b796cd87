//! Middleware: code around the handling of every message, as a type implementing `Middleware`
//! (tower's `Layer` idea). A layer may act before the handler, after it (seeing and replacing the
//! `Outcome`), or turn the message away without calling it.
//!
//! The first layer added is the outermost: with `.layer(Log).layer(RequireToken)`, a message goes
//! through `Log`, then `RequireToken`, then the handler, and the outcome comes back the other way.
//!
//! `cargo run --example middleware` publishes one message with a token and one without, prints
//! the path of each through the layers (the one turned away is delivered five times, then
//! dead-lettered), then exits. `-- asyncapi` prints the application's AsyncAPI document instead.

use asyncfast::amgi::{Headers, MessageSend};
use asyncfast::middleware::{Middleware, Next};
use asyncfast::prelude::*;
use asyncfast::{MessageContext, NackKind, Outcome};
use examples::Handled;

/// Logs every message and how it ended.
struct Log;

impl Middleware for Log {
    async fn handle(&self, ctx: &mut MessageContext<'_>, next: Next<'_>) -> Outcome {
        println!("log: message {} on {}", ctx.id(), ctx.address());
        let outcome = next.run(ctx).await;
        match outcome.nack_reason() {
            None => println!("log: acked"),
            Some(reason) => println!("log: nacked: {reason}"),
        }
        outcome
    }
}

/// Turns away messages without a `token` header, before the handler runs.
struct RequireToken;

impl Middleware for RequireToken {
    async fn handle(&self, ctx: &mut MessageContext<'_>, next: Next<'_>) -> Outcome {
        if ctx.header("token").is_none() {
            return Outcome::nack(NackKind::Middleware, "no `token` header");
        }
        println!("auth: token accepted");
        next.run(ctx).await
    }
}

/// Does the work.
#[channel("jobs")]
async fn on_job(job: Payload<String>) {
    println!("handler: {}", *job);
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker = amgi_memory::Broker::default();
    let with_token = Headers::new().with("token", "secret");
    broker.try_publish(
        MessageSend::new("jobs")
            .headers(with_token)
            .payload("resize"),
    )?;
    broker.try_publish(MessageSend::new("jobs").payload("delete everything"))?;

    // One accepted message, and one turned away on each of its five deliveries.
    let handled = Handled::new();
    AsyncFast::new()
        .title("Middleware example")
        .layer(handled.clone()) // outermost: counts every message
        .layer(Log)
        .layer(RequireToken)
        .serve_on(amgi_memory::MemoryCommand::with_broker(broker))
        .run_until(handled.wait_for(1 + 5))
        .await?;
    Ok(())
}
