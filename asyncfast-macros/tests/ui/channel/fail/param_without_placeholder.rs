use asyncfast::prelude::*;

#[channel("orders.created")]
async fn handler(region: Param<String>) {}

fn main() {}
