use asyncfast::prelude::*;

#[channel("user.created")]
async fn handler() -> u32 {
    7
}

fn main() {}
