//! A handler returns a `#[derive(Message)]` value: it is published to its address through the
//! server, handled there by another channel, and the original message is acked.

use amgi_core::{Headers, MessageSend};
use asyncfast::prelude::*;
use integration_tests::{Events, within};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, JsonSchema)]
struct Order {
    id: u64,
    total_cents: u64,
}

#[derive(Serialize, Deserialize, JsonSchema)]
struct Receipt {
    total_cents: u64,
}

#[derive(Message)]
#[message(address = "order.{id}.confirmed")]
struct OrderConfirmed {
    id: u64,
    #[payload]
    receipt: Receipt,
    #[header(alias = "correlation-id")]
    correlation: String,
}

#[channel("order.placed")]
async fn on_order_placed(order: Payload<Order>, correlation_id: Header<String>) -> OrderConfirmed {
    OrderConfirmed {
        id: order.id,
        receipt: Receipt {
            total_cents: order.total_cents,
        },
        correlation: correlation_id.0,
    }
}

#[channel("order.{id}.confirmed")]
async fn on_order_confirmed(
    id: Param<u64>,
    receipt: Payload<Receipt>,
    correlation_id: Header<String>,
    events: State<Events>,
) {
    events.report(format!(
        "order {} confirmed: {} cents ({})",
        *id, receipt.total_cents, *correlation_id
    ));
}

#[tokio::test]
async fn a_returned_message_arrives_on_its_address_and_is_handled_there() {
    let broker = amgi_memory::Broker::default();
    let (events, mut log) = Events::channel();
    let app = AsyncFast::empty()
        .state(events)
        .channel(handler!(on_order_placed))
        .channel(handler!(on_order_confirmed));
    let server = within(
        "server start",
        amgi_memory::Server::new(app, broker.clone())
            .all_addresses()
            .start(),
    )
    .await
    .unwrap();

    for (id, total) in [(7, 900), (8, 1_500)] {
        let message = MessageSend::new("order.placed")
            .headers(Headers::new().with("correlation-id", format!("c-{id}")))
            .payload(format!(r#"{{"id":{id},"total_cents":{total}}}"#));
        within("publish", broker.publish(message)).await.unwrap();
    }

    let mut seen = vec![log.next().await, log.next().await];
    within("graceful shutdown", server.shutdown())
        .await
        .unwrap();
    seen.sort();
    assert_eq!(
        seen,
        [
            "order 7 confirmed: 900 cents (c-7)",
            "order 8 confirmed: 1500 cents (c-8)"
        ]
    );
    for address in ["order.placed", "order.7.confirmed", "order.8.confirmed"] {
        assert_eq!(broker.depth(address), 0, "{address}");
        assert_eq!(broker.in_flight(address), 0, "{address}");
        assert!(broker.dead_letters(address).is_empty(), "{address}");
    }
}
