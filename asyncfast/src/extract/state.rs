//! [`State<T>`]: shared application state.

use std::ops::Deref;
use std::sync::Arc;

use super::{FromMessage, ParamSpec, PrepareContext, PrepareError};
use crate::MessageContext;
use crate::context::Prepared;

/// A shared value of type `T`, registered with [`AsyncFast::state`](crate::AsyncFast::state) or
/// inserted into the server's state by a startup hook.
///
/// The value is looked up once per batch, not per message. A handler that needs state nobody
/// provides makes the application fail at startup, naming the type and the handler.
///
/// ```
/// use asyncfast::prelude::*;
///
/// struct Greeting { text: &'static str }
///
/// #[channel("user.created")]
/// async fn greet(greeting: State<Greeting>, name: Payload<String>) {
///     println!("{} {}", greeting.text, *name);
/// }
///
/// let app = AsyncFast::empty().state(Greeting { text: "hello" }).channel(handler!(greet));
/// ```
#[derive(Debug)]
pub struct State<T>(pub Arc<T>);

impl<T> Clone for State<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Deref for State<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// No value of the requested type was provided.
#[derive(Debug, thiserror::Error)]
#[error(
    "state `{type_name}` was never provided: register it with `AsyncFast::state` or insert it \
     in a startup hook"
)]
#[non_exhaustive]
pub struct MissingState {
    /// The type's name.
    pub type_name: &'static str,
}

impl MissingState {
    /// The error for type `T`.
    pub fn of<T>() -> Self {
        Self {
            type_name: std::any::type_name::<T>(),
        }
    }
}

impl<T: Send + Sync + 'static> FromMessage for State<T> {
    type Rejection = MissingState;

    fn from_message(
        ctx: &mut MessageContext<'_>,
        spec: &'static ParamSpec,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
        let value = ctx
            .prepared(spec)
            .and_then(|p| Arc::clone(p).downcast::<T>().ok())
            // Run by hand (no prepared slot): look it up.
            .or_else(|| ctx.state().get::<T>());
        std::future::ready(value.map(State).ok_or_else(MissingState::of::<T>))
    }

    fn prepare(
        _spec: &'static ParamSpec,
        cx: &PrepareContext<'_>,
    ) -> Result<Option<Prepared>, PrepareError> {
        let value = cx.get::<T>().ok_or_else(MissingState::of::<T>)?;
        Ok(Some(value))
    }
}
