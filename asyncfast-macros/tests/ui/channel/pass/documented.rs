//! Doc comments and `#[header(description)]` on parameters, `sends = [...]`, and return types
//! that document what they send.
use asyncfast::Outcome;
use asyncfast::amgi::MessageSend;
use asyncfast::asyncapi::DescribeOutcome;
use asyncfast::prelude::*;

#[derive(Message)]
#[message(address = "order.{id}.processed")]
struct OrderProcessed {
    id: u64,
}

#[derive(Message)]
#[message(address = "audit")]
struct Audited {}

/// A return type of one's own that documents nothing.
struct Custom;

impl asyncfast::IntoOutcome for Custom {
    fn into_outcome(self) -> Outcome {
        Outcome::ack()
    }
}

impl DescribeOutcome for Custom {}

/// Handles orders.
#[channel("orders.{region}", sends = [Audited, OrderProcessed,])]
async fn on_order(
    /// The region the order was placed in.
    region: Param<String>,
    /// Correlates replies.
    correlation_id: Header<String>,
    #[header(alias = "Idempotency-Key", description = "Makes retries safe.")] key: Header<
        Option<String>,
    >,
    sender: MessageSender,
) -> Result<Option<OrderProcessed>, std::io::Error> {
    let _ = (region, correlation_id, key, sender);
    Ok(None)
}

#[channel("raw")]
async fn raw() -> Vec<MessageSend> {
    Vec::new()
}

#[channel("custom")]
fn custom() -> Custom {
    Custom
}

#[channel("opaque")]
async fn opaque() -> impl asyncfast::IntoOutcome {}

fn main() {
    let app = AsyncFast::empty()
        .channel(handler!(on_order))
        .channel(handler!(raw))
        .channel(handler!(custom))
        .channel(handler!(opaque));
    let meta = app.channels().next().unwrap();
    assert_eq!(
        meta.param_specs()[0].description_text(),
        Some("The region the order was placed in.")
    );
    assert_eq!(
        meta.param_specs()[2].description_text(),
        Some("Makes retries safe.")
    );
    let doc = app.asyncapi();
    let mut operations: Vec<&String> = doc["operations"].as_object().unwrap().keys().collect();
    operations.sort();
    assert_eq!(
        operations,
        [
            "receiveCustom",
            "receiveOnOrder",
            "receiveOpaque",
            "receiveRaw",
            "sendAudited",
            "sendOrderProcessed"
        ]
    );
}
