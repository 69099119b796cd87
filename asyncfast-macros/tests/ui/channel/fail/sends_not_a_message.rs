use asyncfast::prelude::*;

struct NotAMessage;

#[channel("orders", sends = [NotAMessage])]
async fn handler(sender: MessageSender) {
    let _ = sender;
}

fn main() {}
