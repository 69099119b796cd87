//! Middleware: code that wraps the handling of every message.
//!
//! A [`Middleware`] receives the message's [`MessageContext`] and a [`Next`]; it may act before
//! calling `next.run(ctx)`, after it (inspecting or replacing the [`Outcome`]), or not call it at
//! all. Add middleware with [`AsyncFast::layer`](crate::AsyncFast::layer).
//!
//! # Order
//!
//! The first layer added is the outermost, as with tower's `ServiceBuilder`: with
//! `.layer(a).layer(b)`, a message goes through `a` then `b` then the handler, and the outcome
//! comes back through `b` then `a`.
//!
//! # Cost
//!
//! An application without middleware pays nothing. With middleware, each layer costs one boxed
//! future per message (layers are trait objects, so the application type stays the same).
//!
//! ```
//! use std::time::Instant;
//! use asyncfast::middleware::{Middleware, Next};
//! use asyncfast::{MessageContext, Outcome};
//!
//! /// Logs how long each message took.
//! struct Timing;
//!
//! impl Middleware for Timing {
//!     async fn handle(&self, ctx: &mut MessageContext<'_>, next: Next<'_>) -> Outcome {
//!         let started = Instant::now();
//!         let address = ctx.address().to_owned();
//!         let outcome = next.run(ctx).await;
//!         println!("{address}: {:?} in {:?}", outcome.is_ack(), started.elapsed());
//!         outcome
//!     }
//! }
//!
//! let app = asyncfast::AsyncFast::empty().layer(Timing);
//! ```

use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::MessageContext;
use crate::outcome::Outcome;

/// Code that wraps the handling of every message; see the [module docs](self).
pub trait Middleware: Send + Sync + 'static {
    /// Handles one message, calling `next.run(ctx)` to continue to the next layer and finally
    /// the handler.
    fn handle<'a>(
        &'a self,
        ctx: &'a mut MessageContext<'_>,
        next: Next<'a>,
    ) -> impl Future<Output = Outcome> + Send + 'a;
}

/// The object-safe form of [`Middleware`].
pub(crate) trait DynMiddleware: Send + Sync + 'static {
    fn handle_boxed<'a>(
        &'a self,
        ctx: &'a mut MessageContext<'_>,
        next: Next<'a>,
    ) -> BoxFuture<'a, Outcome>;
}

impl<M: Middleware> DynMiddleware for M {
    fn handle_boxed<'a>(
        &'a self,
        ctx: &'a mut MessageContext<'_>,
        next: Next<'a>,
    ) -> BoxFuture<'a, Outcome> {
        Box::pin(self.handle(ctx, next))
    }
}

/// The end of the chain: the handler.
pub(crate) trait Endpoint: Sync {
    fn call<'a>(&'a self, ctx: &'a mut MessageContext<'_>) -> BoxFuture<'a, Outcome>;
}

/// The rest of the chain: the layers inside this one, then the handler.
pub struct Next<'a> {
    rest: &'a [Arc<dyn DynMiddleware>],
    endpoint: &'a dyn Endpoint,
}

impl<'a> Next<'a> {
    pub(crate) fn new(rest: &'a [Arc<dyn DynMiddleware>], endpoint: &'a dyn Endpoint) -> Self {
        Self { rest, endpoint }
    }

    /// Runs the rest of the chain.
    pub fn run(self, ctx: &'a mut MessageContext<'_>) -> BoxFuture<'a, Outcome> {
        match self.rest.split_first() {
            Some((layer, rest)) => layer.handle_boxed(
                ctx,
                Next {
                    rest,
                    endpoint: self.endpoint,
                },
            ),
            None => self.endpoint.call(ctx),
        }
    }
}

impl std::fmt::Debug for Next<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next")
            .field("layers", &self.rest.len())
            .finish_non_exhaustive()
    }
}
