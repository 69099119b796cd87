use asyncfast::prelude::*;

struct Config;

#[channel("user.created")]
async fn handler(config: Config) {}

fn main() {}
