use asyncfast::prelude::*;

#[derive(Message)]
#[message(address = "order.{id}.{missing}", adress = "typo")]
struct Order {
    id: u64,
    forgotten: String,
    #[payload]
    first: String,
    #[payload]
    second: String,
    #[binding(kafka_kee)]
    key: String,
}

#[derive(Message)]
struct NoAddress {
    #[payload]
    body: String,
}

#[derive(Message)]
#[message(address = "bad.{")]
struct Malformed {}

fn main() {}
