//! Lifespan: hooks that run once when the application starts, before the first message, and once
//! when it stops, after the last one — where connection pools are opened and closed.
//!
//! A startup hook may insert state, which handlers then take as `State<T>`; a failing startup hook
//! stops the server from starting. Shutdown hooks run after graceful shutdown has let the batches
//! in flight finish.
//!
//! `cargo run --example lifespan` opens a (pretend) pool, handles two queries with it, closes it,
//! then exits. `-- asyncapi` prints the application's AsyncAPI document instead (no lifespan).

use std::sync::atomic::{AtomicU32, Ordering};

use asyncfast::amgi::{MessageSend, StateMap};
use asyncfast::prelude::*;
use examples::Handled;

/// A pretend connection pool.
struct Pool {
    queries: AtomicU32,
}

/// Runs a query on the pool.
#[channel("queries")]
async fn on_query(sql: Payload<String>, pool: State<Pool>) {
    pool.queries.fetch_add(1, Ordering::Relaxed);
    println!("query: {}", *sql);
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker = amgi_memory::Broker::default();
    for sql in ["SELECT 1", "SELECT 2"] {
        broker.try_publish(MessageSend::new("queries").payload(sql))?;
    }

    let handled = Handled::new();
    AsyncFast::new()
        .title("Lifespan example")
        .layer(handled.clone())
        .on_startup(|state: StateMap| async move {
            println!("startup: pool opened");
            state.insert(Pool {
                queries: AtomicU32::new(0),
            });
            Ok::<(), std::io::Error>(())
        })
        .on_shutdown(|state: StateMap| async move {
            let queries = state
                .get::<Pool>()
                .map_or(0, |pool| pool.queries.load(Ordering::Relaxed));
            println!("shutdown: pool closed after {queries} queries");
            Ok::<(), std::io::Error>(())
        })
        .serve_on(amgi_memory::MemoryCommand::with_broker(broker))
        .run_until(handled.wait_for(2))
        .await?;
    Ok(())
}
