use asyncfast::Message as _;
use asyncfast::asyncapi::DescribeMessage;
use asyncfast::prelude::*;

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Body {
    total: u64,
}

/// An order was processed.
///
/// Sent once per order.
#[derive(Message)]
#[message(address = "order.{region}.{id}.processed")]
struct OrderProcessed {
    /// The region of the order.
    region: String,
    id: u64,
    #[payload]
    body: Body,
    #[header(alias = "correlation-id")]
    correlation: String,
    #[header]
    retry_count: Option<u32>,
    #[binding(kafka_key)]
    key: String,
    #[binding(mqtt_qos)]
    qos: u8,
}

#[derive(Message)]
#[message(address = "pings", name = "Heartbeat")]
struct Ping {}

/// A generic message documents its payload when the payload type has a schema.
#[derive(Message)]
#[message(address = "wrapped")]
struct Wrapped<T: serde::Serialize + Send + 'static> {
    #[payload]
    body: T,
}

#[derive(Message)]
#[message(address = "raw")]
struct Raw {
    #[payload]
    bytes: Vec<u8>,
}

fn main() {
    let send = OrderProcessed {
        region: "eu".into(),
        id: 7,
        body: Body { total: 3 },
        correlation: "c-1".into(),
        retry_count: Some(2),
        key: "o-7".into(),
        qos: 1,
    }
    .into_message_send()
    .unwrap();
    assert_eq!(&*send.address, "order.eu.7.processed");
    assert_eq!(send.payload.as_deref(), Some(&br#"{"total":3}"#[..]));
    assert_eq!(send.headers.get(b"retry-count").unwrap(), "2");
    assert_eq!(send.bindings.mqtt().unwrap().qos, 1);
    let ping = Ping {}.into_message_send().unwrap();
    assert!(ping.payload.is_none());

    assert_eq!(OrderProcessed::NAME, "OrderProcessed");
    assert_eq!(OrderProcessed::ADDRESS, "order.{region}.{id}.processed");
    assert_eq!(
        OrderProcessed::DOCUMENTATION,
        Some("An order was processed.\n\nSent once per order.")
    );
    assert_eq!(Ping::NAME, "Heartbeat");
    assert_eq!(Ping::DOCUMENTATION, None);
    assert_eq!(<Wrapped<Body> as DescribeMessage>::NAME, "Wrapped");
    let _ = Wrapped { body: 1_u8 }.into_message_send().unwrap();
    let _ = Raw { bytes: vec![1] }.into_message_send().unwrap();
    assert_eq!(<Raw as DescribeMessage>::ADDRESS, "raw");
}
