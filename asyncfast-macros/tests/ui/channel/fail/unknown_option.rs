use asyncfast::prelude::*;

#[channel("user.created", nmae = "typo")]
async fn handler() {}

#[channel("user.deleted")]
async fn header_option(#[header(alais = "X-Key")] key: Header<String>) {}

fn main() {}
