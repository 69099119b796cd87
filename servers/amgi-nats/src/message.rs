//! NATS messages → AMGI messages: headers decoded, the subject (and, in core NATS, the reply
//! subject) in the [`NatsBinding`].

use amgi_core::NatsBinding;
use amgi_core::batch::IncomingMessage;

use crate::headers;

/// The message the application receives for `message`. `reply` is its reply subject (core
/// NATS requests; `None` for JetStream, whose reply subject is the ack subject). An empty
/// payload arrives as no payload.
pub(crate) fn incoming(message: async_nats::Message, reply: bool) -> IncomingMessage {
    let mut binding = NatsBinding::default();
    binding.subject = Some(message.subject.to_string());
    if reply {
        binding.reply = message.reply.map(|reply| reply.to_string());
    }
    let payload = (!message.payload.is_empty()).then_some(message.payload);
    IncomingMessage::new(
        headers::from_nats(message.headers.as_ref()),
        payload,
        Some(binding.into()),
    )
}

#[cfg(test)]
mod tests {
    use amgi_core::Binding;
    use async_nats::HeaderMap;

    use super::*;

    #[test]
    fn subject_reply_headers_and_payload_arrive() {
        let mut headers = HeaderMap::new();
        headers.insert("h", "v");
        let message = async_nats::Message {
            subject: "orders.eu".into(),
            reply: Some("_INBOX.1".into()),
            payload: "body".into(),
            headers: Some(headers),
            status: None,
            description: None,
            length: 0,
        };
        let incoming = incoming(message.clone(), true);
        assert_eq!(incoming.payload.as_deref(), Some(&b"body"[..]));
        assert_eq!(incoming.headers.get(b"h").unwrap(), "v");
        let Some(Binding::Nats(binding)) = incoming.binding else {
            panic!("no NATS binding")
        };
        assert_eq!(binding.subject.as_deref(), Some("orders.eu"));
        assert_eq!(binding.reply.as_deref(), Some("_INBOX.1"));
        let Some(Binding::Nats(binding)) = super::incoming(message, false).binding else {
            panic!("no NATS binding")
        };
        assert_eq!(binding.reply, None);
    }
}
