//! The [`TestClient`](super::TestClient)'s native requester: a request is handled by the
//! application's own channels, and the reply comes straight back.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use amgi_core::batch::{IncomingMessage, Publisher};
use amgi_core::extension::{REQUEST_TIMED_OUT, Reply, Requester};
use amgi_core::{EventFuture, MessageScope, MessageSend, SendError, SendErrorKind};

use super::ClientCore;
use crate::reply::{CORRELATION_ID_HEADER, REPLY_TO_HEADER};

/// The reply address of requests made through a test client.
const LOOPBACK_REPLY_ADDRESS: &str = "amgi.testing.replies";

/// Handles requests by dispatching them to the application the client drives.
pub(crate) struct LoopbackRequester {
    core: Arc<OnceLock<Weak<ClientCore>>>,
}

impl LoopbackRequester {
    pub(crate) fn new(core: Arc<OnceLock<Weak<ClientCore>>>) -> Self {
        Self { core }
    }
}

impl Requester for LoopbackRequester {
    fn request(
        &self,
        message: MessageSend,
        timeout: Duration,
    ) -> EventFuture<'_, Result<Reply, SendError>> {
        EventFuture::boxed(async move {
            let Some(core) = self.core.get().and_then(Weak::upgrade) else {
                return Err(SendError::new(SendErrorKind::Closed)
                    .with_detail("the test client is gone (or still starting)"));
            };
            let mut headers = message.headers;
            headers.append(REPLY_TO_HEADER, LOOPBACK_REPLY_ADDRESS);
            headers.append(CORRELATION_ID_HEADER, "loopback");
            let incoming = IncomingMessage::new(headers, message.payload, None);
            let scope = MessageScope::new(message.address.to_string());
            let dispatch = core.dispatch(scope, vec![incoming]);
            let Ok((_report, sent)) = tokio::time::timeout(timeout, dispatch).await else {
                return Err(timed_out());
            };
            let mut reply = None;
            for sent in sent {
                if reply.is_none() && &*sent.address == LOOPBACK_REPLY_ADDRESS {
                    reply = Some(Reply::new(sent.headers, sent.payload));
                } else {
                    // What the handler sent besides its reply is kept for the test to inspect.
                    core.publisher.publish(sent).await?;
                }
            }
            reply.ok_or_else(timed_out)
        })
    }
}

/// No reply: the handler did not answer (in a test, waiting longer would not help).
fn timed_out() -> SendError {
    SendError::new(SendErrorKind::Transport)
        .with_detail(format!("{REQUEST_TIMED_OUT}: the handler sent no reply"))
}
