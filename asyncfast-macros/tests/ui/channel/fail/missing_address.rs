use asyncfast::prelude::*;

#[channel]
async fn no_address() {}

#[channel(user.created)]
async fn not_a_string() {}

fn main() {}
