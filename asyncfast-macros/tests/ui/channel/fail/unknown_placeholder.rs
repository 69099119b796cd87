use asyncfast::prelude::*;

#[channel("orders.{region}.created")]
async fn handler(body: Payload<String>) {}

fn main() {}
