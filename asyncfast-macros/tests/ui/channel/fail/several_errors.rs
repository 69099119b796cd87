// Every mistake is reported at once, each on its own span.
use asyncfast::prelude::*;

#[channel("orders.{region}", colour = "blue")]
async fn handler(a: Payload<String>, b: Payload<String>, id: Param<u64>, #[header] c: Payload<u8>) {}

fn main() {}
