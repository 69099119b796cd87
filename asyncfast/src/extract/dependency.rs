//! [`Dep<T>`]: an extractor computed once per message and shared.

use std::ops::Deref;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::{FromMessage, ParamSpec, PrepareContext, PrepareError};
use crate::MessageContext;
use crate::asyncapi::OperationDoc;
use crate::context::Prepared;

/// Extractor `T`, computed at most once per message and shared by every parameter and
/// dependency that asks for `Dep<T>`.
///
/// Any [`FromMessage`] type can be a dependency; it may itself ask for other dependencies
/// through [`MessageContext::extract`]. After the handler returns, and before the message is
/// acked or nacked, [`FromMessage::cleanup`] runs for each cached value (last resolved first), so
/// a dependency can commit or roll back what it opened.
///
/// `Dep<T>` takes no part in the compile-time checks of `#[channel]` (its
/// [`ROLE`](FromMessage::ROLE) is [`ParamRole::Other`](super::ParamRole::Other), whatever `T`'s
/// is): the same value may be asked for by several parameters, such as `Dep<Payload<T>>` next to
/// `Payload<T>`.
///
/// ```
/// use asyncfast::prelude::*;
/// use asyncfast::extract::{Dep, FromMessage, ParamSpec};
/// use asyncfast::MessageContext;
///
/// struct CurrentUser { id: String }
///
/// impl FromMessage for CurrentUser {
///     type Rejection = std::convert::Infallible;
///     async fn from_message(ctx: &mut MessageContext<'_>, _: &'static ParamSpec)
///         -> Result<Self, Self::Rejection> {
///         let id = ctx.header("user-id").map(|v| String::from_utf8_lossy(v).into_owned());
///         Ok(CurrentUser { id: id.unwrap_or_default() })
///     }
/// }
///
/// #[channel("audit")]
/// async fn audit(user: Dep<CurrentUser>, same: Dep<CurrentUser>) {
///     assert!(std::ptr::eq(&*user, &*same)); // computed once
/// }
/// ```
#[derive(Debug)]
pub struct Dep<T>(pub Arc<T>);

impl<T> Clone for Dep<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Deref for Dep<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

fn cleanup<T: FromMessage + Sync + 'static>(
    value: Prepared,
    succeeded: bool,
) -> BoxFuture<'static, ()> {
    match value.downcast::<T>() {
        Ok(value) => T::cleanup(value, succeeded).boxed(),
        Err(_) => async {}.boxed(),
    }
}

impl<T: FromMessage + Sync + 'static> FromMessage for Dep<T> {
    type Rejection = T::Rejection;

    async fn from_message(
        ctx: &mut MessageContext<'_>,
        spec: &'static ParamSpec,
    ) -> Result<Self, Self::Rejection> {
        if let Some(value) = ctx.cached::<T>() {
            return Ok(Dep(value));
        }
        let value = Arc::new(T::from_message(ctx, spec).await?);
        ctx.cache(Arc::clone(&value), cleanup::<T>);
        Ok(Dep(value))
    }

    fn prepare(
        spec: &'static ParamSpec,
        cx: &PrepareContext<'_>,
    ) -> Result<Option<Prepared>, PrepareError> {
        T::prepare(spec, cx)
    }

    fn document(spec: &'static ParamSpec, doc: &mut OperationDoc<'_>) {
        T::document(spec, doc);
    }
}
