//! An application whose handler never finishes, for the shutdown tests: it publishes one `jobs`
//! message to itself at startup, prints `started` when its handler begins, and keeps that handler
//! waiting forever. `stuck_handler run` serves it on the embedded broker.

use asyncfast::amgi::MessageSend;
use asyncfast::prelude::*;

/// Starts and never finishes.
#[channel("jobs")]
async fn stuck(_job: Payload<String>) {
    println!("started");
    std::future::pending::<()>().await;
}

#[tokio::main]
async fn main() -> Result<(), asyncfast::Error> {
    let app = AsyncFast::new();
    let publisher = app.publisher();
    app.on_startup(move |_state| {
        let publisher = publisher.clone();
        async move {
            publisher
                .send(MessageSend::new("jobs").payload("job"))
                .await
        }
    })
    .run()
    .await
}
