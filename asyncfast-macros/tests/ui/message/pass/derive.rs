use asyncfast::prelude::*;
use asyncfast::Message as _;

#[derive(serde::Serialize)]
struct Body {
    total: u64,
}

#[derive(Message)]
#[message(address = "order.{region}.{id}.processed")]
struct OrderProcessed {
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
#[message(address = "pings")]
struct Ping {}

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
}
