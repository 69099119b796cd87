//! Runnable examples of AsyncFast and AMGI: `cargo run --example NAME`.
//!
//! | example | shows |
//! | --- | --- |
//! | `quickstart` | the README's code, publishing three users to itself; keeps serving until Ctrl-C |
//! | `headers` | `Header<T>`: names, aliases, defaults, optional headers, rejections |
//! | `params` | `Param<T>`: placeholders of `#[channel("orders.{region}.{id}")]` |
//! | `dependencies` | your own extractors, `Dep<T>` and cleanup after the handler |
//! | `state` | `State<T>` from `AsyncFast::state` |
//! | `sending` | returning a `#[derive(Message)]`, and `MessageSender` |
//! | `publisher` | `AsyncFast::publisher()`: sending from outside any handler |
//! | `rpc` | request/reply: a `multiply(x, y)` service answering with `Reply<T>`, a client asking with `Publisher::request` |
//! | `lifespan` | startup and shutdown hooks |
//! | `middleware` | layers around every message, and their order |
//! | `testing` | `TestClient`: an application tested without a broker |
//! | `raw_application` | an AMGI application without the framework |
//!
//! Every example except the quickstart publishes a few messages to itself on the embedded broker
//! (`amgi-memory`), prints what its handlers do, and exits once the messages are handled. They run
//! the application's command line (`AsyncFast::run_until`), so `cargo run --example NAME --
//! asyncapi` prints each one's AsyncAPI document. An example knows when its messages are handled
//! through [`Handled`], a small middleware of this crate that only exists so the examples can stop
//! by themselves.
//!
//! The pages of `docs/guide/` and the root README are compiled (and run, unless marked `no_run`)
//! as doc tests of this crate.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use asyncfast::middleware::{Middleware, Next};
use asyncfast::{MessageContext, Outcome};
use tokio::sync::Semaphore;

/// How long [`Handled::wait_for`] waits at most.
pub const WAIT: Duration = Duration::from_secs(10);

/// Counts the messages the application has finished (acked or nacked, each delivery counted), so
/// that an example can shut down once the messages it published are handled, without sleeping.
///
/// Add it as the first layer (the outermost) so that it also counts messages that other
/// middleware turns away, then wait with [`wait_for`](Self::wait_for).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use asyncfast::AsyncFast;
/// use asyncfast::amgi::MessageSend;
/// use examples::Handled;
///
/// let broker = amgi_memory::Broker::default();
/// broker.try_publish(MessageSend::new("nowhere")).unwrap();
/// let handled = Handled::new();
/// // No channel for `nowhere`: nacked (and counted) all the same.
/// let app = AsyncFast::empty().layer(handled.clone());
/// amgi_memory::Server::new(app, broker)
///     .all_addresses()
///     .max_deliveries(1)
///     .run_until(handled.wait_for(1))
///     .await
///     .unwrap();
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Handled {
    done: Arc<Semaphore>,
}

impl Handled {
    /// A counter at zero.
    pub fn new() -> Self {
        Self {
            done: Arc::new(Semaphore::new(0)),
        }
    }

    /// Completes once `count` more messages have been handled, or after [`WAIT`] (then it says
    /// so on standard error, and the example's output shows what is missing).
    pub fn wait_for(&self, count: u32) -> impl Future<Output = ()> + Send + 'static {
        let done = Arc::clone(&self.done);
        async move {
            match tokio::time::timeout(WAIT, done.acquire_many(count)).await {
                Ok(Ok(permits)) => permits.forget(),
                Ok(Err(closed)) => eprintln!("{closed}"),
                Err(_) => eprintln!("{}", NotHandled { count }),
            }
        }
    }
}

/// [`Handled::wait_for`] gave up.
#[derive(Debug)]
struct NotHandled {
    count: u32,
}

impl fmt::Display for NotHandled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gave up after {WAIT:?}: fewer than {} messages were handled",
            self.count
        )
    }
}

impl Default for Handled {
    fn default() -> Self {
        Self::new()
    }
}

impl Middleware for Handled {
    async fn handle(&self, ctx: &mut MessageContext<'_>, next: Next<'_>) -> Outcome {
        let outcome = next.run(ctx).await;
        self.done.add_permits(1);
        outcome
    }
}

/// The root README's code, compiled.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

/// The guide (`docs/guide/*.md`), compiled and run as doc tests.
#[cfg(doctest)]
mod guide {
    #[doc = include_str!("../docs/guide/getting-started.md")]
    mod getting_started {}
    #[doc = include_str!("../docs/guide/handlers-and-extractors.md")]
    mod handlers_and_extractors {}
    #[doc = include_str!("../docs/guide/headers.md")]
    mod headers {}
    #[doc = include_str!("../docs/guide/params.md")]
    mod params {}
    #[doc = include_str!("../docs/guide/payloads.md")]
    mod payloads {}
    #[doc = include_str!("../docs/guide/dependencies.md")]
    mod dependencies {}
    #[doc = include_str!("../docs/guide/state.md")]
    mod state {}
    #[doc = include_str!("../docs/guide/sending-and-outcomes.md")]
    mod sending_and_outcomes {}
    #[doc = include_str!("../docs/guide/lifespan.md")]
    mod lifespan {}
    #[doc = include_str!("../docs/guide/middleware.md")]
    mod middleware {}
    #[doc = include_str!("../docs/guide/testing.md")]
    mod testing {}
    #[doc = include_str!("../docs/guide/running.md")]
    mod running {}
    #[doc = include_str!("../docs/guide/request-reply.md")]
    mod request_reply {}
}
