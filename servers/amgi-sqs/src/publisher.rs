//! [`SqsPublisher`]: `message.send` (and the lifespan's publisher) as coalesced
//! `SendMessageBatch` calls to the address's queue.

use std::collections::HashMap;
use std::sync::Arc;

use amgi_core::batch::Publisher;
use amgi_core::{Binding, EventFuture, MessageSend, SendError, SendErrorKind};

use crate::batcher::Batcher;
use crate::calls::{Outgoing, Sends};
use crate::client::Sqs;
use crate::config::{is_url, is_valid_queue_name};
use crate::message;

/// Publishes to the queue of a message's address: the configured mapping, or the queue of the
/// address's own name.
pub(crate) struct SqsPublisher {
    pub(crate) sqs: Arc<Sqs>,
    /// Address → queue name or URL.
    pub(crate) routes: HashMap<String, String>,
    pub(crate) sends: Arc<Batcher<Sends>>,
}

fn refused(detail: String) -> SendError {
    SendError::new(SendErrorKind::Transport).with_detail(detail)
}

impl SqsPublisher {
    async fn send(&self, message: MessageSend) -> Result<(), SendError> {
        let address = &*message.address;
        let queue = self.routes.get(address).map_or(address, String::as_str);
        if !is_url(queue) && !is_valid_queue_name(queue) {
            return Err(refused(format!(
                "no SQS queue for address `{address}`: map it to a queue (ADDRESS=QUEUE, e.g. \
                 `{address}={}`)",
                address.replace(['.', '/'], "-")
            )));
        }
        let url = self
            .sqs
            .queue_url(queue)
            .await
            .map_err(|error| refused(error.to_string()))?;
        let binding = match message.bindings.get("sqs") {
            Some(Binding::Sqs(binding)) => Some(binding.clone()),
            _ => None,
        };
        let outgoing = Outgoing {
            encoded: message::encode(&message.headers, message.payload.as_ref()),
            group_id: binding.as_ref().and_then(|b| b.message_group_id.clone()),
            deduplication_id: binding
                .as_ref()
                .and_then(|b| b.message_deduplication_id.clone()),
            delay_seconds: binding.and_then(|b| b.delay_seconds),
        };
        self.sends
            .submit(url, outgoing)
            .await
            .map_err(|error| refused(format!("SendMessageBatch to `{queue}`: {error}")))
    }
}

impl Publisher for SqsPublisher {
    fn publish(&self, message: MessageSend) -> EventFuture<'_, Result<(), SendError>> {
        EventFuture::boxed(self.send(message))
    }
}
