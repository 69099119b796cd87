use asyncfast::prelude::*;

#[channel("orders.{region")]
async fn unclosed() {}

#[channel("orders.{}")]
async fn empty() {}

#[channel("orders.{id}-x")]
async fn not_at_segment_end(id: Param<u64>) {}

fn main() {}
