use asyncfast::prelude::*;

#[channel("user.created")]
async fn handler(first: Payload<String>, second: Payload<u64>) {}

fn main() {}
