//! [`MessageSender`] as an extractor.

use super::{FromMessage, ParamSpec};
use crate::{MessageContext, MessageSender};

impl FromMessage for MessageSender {
    type Rejection = std::convert::Infallible;

    fn from_message(
        ctx: &mut MessageContext<'_>,
        _spec: &'static ParamSpec,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
        std::future::ready(Ok(ctx.sender()))
    }
}
