//! Sending: a handler returns a `#[derive(Message)]` value to publish it (then the message it
//! handled is acked), or publishes through a `MessageSender` parameter while it runs.
//!
//! `on_order_placed` returns an `OrderConfirmed`, published to `order.{id}.confirmed`, where
//! `on_order_confirmed` handles it; it also asks for a welcome e-mail through the sender, handled
//! by `on_email`. Everything travels through the embedded broker.
//!
//! `cargo run --example sending` places two orders, prints what each handler does, then exits.
//! `-- asyncapi` prints the application's AsyncAPI document instead, sent messages included.

use asyncfast::amgi::MessageSend;
use asyncfast::prelude::*;
use examples::Handled;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, JsonSchema)]
struct Order {
    id: u64,
    customer: String,
}

#[derive(Serialize, Deserialize, JsonSchema)]
struct Receipt {
    customer: String,
    total_cents: u64,
}

/// Published to `order.<id>.confirmed` with a JSON payload and a `correlation-id` header.
#[derive(Message)]
#[message(address = "order.{id}.confirmed")]
struct OrderConfirmed {
    id: u64,
    #[payload]
    receipt: Receipt,
    #[header(alias = "correlation-id")]
    correlation: String,
}

/// Confirms an order, and asks for a welcome e-mail on the way.
#[channel("order.placed")]
async fn on_order_placed(
    order: Payload<Order>,
    sender: MessageSender,
) -> Result<OrderConfirmed, asyncfast::SendMessageError> {
    println!("placed: order {} for {}", order.id, order.customer);
    let email = MessageSend::new("email.send").payload(format!("Welcome, {}!", order.customer));
    sender.send(email).await?;
    let Order { id, customer } = order.into_inner();
    Ok(OrderConfirmed {
        id,
        receipt: Receipt {
            customer,
            total_cents: id * 1_000,
        },
        correlation: format!("order-{id}"),
    })
}

/// Handles the confirmations `on_order_placed` returns.
#[channel("order.{id}.confirmed")]
async fn on_order_confirmed(
    id: Param<u64>,
    receipt: Payload<Receipt>,
    correlation_id: Header<String>,
) {
    println!(
        "confirmed: order {} for {}, {} cents ({})",
        *id, receipt.customer, receipt.total_cents, *correlation_id
    );
}

/// Sends e-mails (prints them).
#[channel("email.send")]
async fn on_email(text: Payload<String>) {
    println!("email: {}", *text);
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker = amgi_memory::Broker::default();
    for (id, customer) in [(1, "ada"), (2, "grace")] {
        let order = format!(r#"{{"id":{id},"customer":"{customer}"}}"#);
        broker.try_publish(MessageSend::new("order.placed").payload(order))?;
    }

    // Two orders, two confirmations, two e-mails.
    let handled = Handled::new();
    AsyncFast::new()
        .title("Sending example")
        .layer(handled.clone())
        .serve_on(amgi_memory::MemoryCommand::with_broker(broker))
        .run_until(handled.wait_for(6))
        .await?;
    Ok(())
}
