use asyncfast::prelude::*;

#[derive(serde::Serialize)]
struct Body {
    total: u64,
}

#[derive(Message)]
#[message(address = "orders")]
struct Order {
    #[payload]
    body: Body,
}

fn main() {}
