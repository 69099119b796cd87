//! Dependencies: extractors of your own, shared per message with `Dep<T>`, cleaned up after the
//! handler — what FastStream's `Depends()` does.
//!
//! `CurrentUser` reads a header; `Transaction` needs the current user (through another `Dep`) and,
//! after the handler returned, commits when the message is going to be acked and rolls back when
//! it is going to be nacked. Both are computed once per message however many parameters ask.
//!
//! `cargo run --example dependencies` publishes three transfers to itself, prints what happens to
//! each (a transfer the handler refuses is delivered five times, the default `--max-deliveries`,
//! then dead-lettered; one without a user is dead-lettered after one delivery), then exits.
//! `-- asyncapi` prints the application's AsyncAPI document instead.

use std::sync::Arc;

use asyncfast::MessageContext;
use asyncfast::amgi::{Headers, MessageSend};
use asyncfast::extract::{Dep, FromMessage, ParamSpec};
use asyncfast::prelude::*;
use examples::Handled;

/// The user a message acts for: the `user-id` header.
struct CurrentUser {
    id: String,
}

/// A message without a `user-id` header.
#[derive(Debug)]
struct Anonymous;

impl std::fmt::Display for Anonymous {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no `user-id` header: anonymous transfers are refused")
    }
}

impl std::error::Error for Anonymous {}

impl FromMessage for CurrentUser {
    type Rejection = Anonymous;

    async fn from_message(
        ctx: &mut MessageContext<'_>,
        _spec: &'static ParamSpec,
    ) -> Result<Self, Self::Rejection> {
        let id = ctx.header("user-id").ok_or(Anonymous)?;
        Ok(Self {
            id: String::from_utf8_lossy(id).into_owned(),
        })
    }
}

/// A unit of work for the current user, finished after the handler.
struct Transaction {
    user: Dep<CurrentUser>,
}

impl FromMessage for Transaction {
    type Rejection = Anonymous;

    async fn from_message(
        ctx: &mut MessageContext<'_>,
        spec: &'static ParamSpec,
    ) -> Result<Self, Self::Rejection> {
        let user: Dep<CurrentUser> = ctx.extract(spec).await?;
        println!("begin ({})", user.id);
        Ok(Self { user })
    }

    async fn cleanup(tx: Arc<Self>, succeeded: bool) {
        let end = if succeeded { "commit" } else { "rollback" };
        println!("{end} ({})", tx.user.id);
    }
}

/// Moves money; refuses amounts over 100.
#[channel("transfers")]
async fn on_transfer(
    user: Dep<CurrentUser>,
    tx: Dep<Transaction>,
    amount: Payload<u64>,
) -> Result<(), String> {
    assert!(
        Arc::ptr_eq(&user.0, &tx.user.0),
        "one CurrentUser per message"
    );
    if *amount > 100 {
        return Err(format!("{} may not transfer {}", user.id, *amount));
    }
    println!("transfer of {} by {}", *amount, user.id);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker = amgi_memory::Broker::default();
    for (user, amount) in [(Some("ada"), 50), (Some("bob"), 500), (None, 5)] {
        let mut headers = Headers::new();
        if let Some(user) = user {
            headers.append("user-id", user);
        }
        let message = MessageSend::new("transfers")
            .headers(headers)
            .payload(amount.to_string());
        broker.try_publish(message)?;
    }

    // One good transfer; a refused one delivered five times (a handler error is retried), and
    // an anonymous one delivered once (a missing header never succeeds: dead-lettered at once).
    let handled = Handled::new();
    AsyncFast::new()
        .title("Dependencies example")
        .layer(handled.clone())
        .serve_on(amgi_memory::MemoryCommand::with_broker(broker.clone()))
        .run_until(handled.wait_for(1 + 5 + 1))
        .await?;

    for letter in broker.dead_letters("transfers") {
        println!("rejected: {}", letter.reason);
    }
    Ok(())
}
