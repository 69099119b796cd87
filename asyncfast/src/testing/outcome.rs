//! What a test publish returns.

use amgi_core::MessageSend;
use amgi_core::batch::Outcome;

fn describe(sent: &[MessageSend]) -> String {
    let addresses: Vec<&str> = sent.iter().map(|m| &*m.address).collect();
    format!("{addresses:?}")
}

fn find<'a>(sent: &'a [MessageSend], address: &str) -> &'a MessageSend {
    sent.iter()
        .find(|m| &*m.address == address)
        .unwrap_or_else(|| {
            panic!(
                "expected a message sent to `{address}`, sent: {}",
                describe(sent)
            )
        })
}

fn assert_json(message: &MessageSend, expected: &serde_json::Value) {
    let payload = message.payload.as_deref().unwrap_or_default();
    let actual: serde_json::Value = serde_json::from_slice(payload)
        .unwrap_or_else(|e| panic!("message to `{}` has no JSON payload: {e}", message.address));
    assert_eq!(
        &actual, expected,
        "payload of the message to `{}`",
        message.address
    );
}

/// How a single published message ended, and what the application sent meanwhile.
#[derive(Debug)]
#[must_use]
pub struct PublishOutcome {
    outcome: Outcome,
    sent: Vec<MessageSend>,
}

impl PublishOutcome {
    pub(crate) fn new(outcome: Outcome, sent: Vec<MessageSend>) -> Self {
        Self { outcome, sent }
    }

    /// Whether the message was acked.
    pub fn is_acked(&self) -> bool {
        self.outcome.is_acked()
    }

    /// The nack reason, if the message was nacked.
    pub fn nack_reason(&self) -> Option<&str> {
        self.outcome.nack_reason()
    }

    /// How the server was asked to retry the message, if it was nacked.
    pub fn nack_retry(&self) -> Option<amgi_core::NackRetry> {
        match &self.outcome {
            Outcome::Nacked { retry, .. } => Some(*retry),
            _ => None,
        }
    }

    /// Panics unless the message was acked.
    #[track_caller]
    pub fn assert_acked(&self) -> &Self {
        if let Some(reason) = self.nack_reason() {
            panic!("expected an ack, got a nack: {reason}");
        }
        self
    }

    /// Panics unless the message was nacked; returns the reason.
    #[track_caller]
    pub fn assert_nacked(&self) -> String {
        match self.nack_reason() {
            Some(reason) => reason.to_owned(),
            None => panic!("expected a nack, got an ack"),
        }
    }

    /// Messages the application sent while handling it, in order.
    pub fn sent(&self) -> &[MessageSend] {
        &self.sent
    }

    /// The first message sent to `address`; panics if there is none.
    #[track_caller]
    pub fn assert_sent(&self, address: &str) -> &MessageSend {
        find(&self.sent, address)
    }

    /// The first message sent to `address`, checking its JSON payload.
    #[track_caller]
    pub fn assert_sent_json(&self, address: &str, expected: &serde_json::Value) -> &MessageSend {
        let message = find(&self.sent, address);
        assert_json(message, expected);
        message
    }

    /// Panics if anything was sent.
    #[track_caller]
    pub fn assert_nothing_sent(&self) -> &Self {
        assert!(
            self.sent.is_empty(),
            "expected nothing sent, sent: {}",
            describe(&self.sent)
        );
        self
    }
}

/// How every message of a batch ended.
#[derive(Debug)]
#[must_use]
pub struct BatchOutcome {
    outcomes: Vec<Outcome>,
    sent: Vec<MessageSend>,
}

impl BatchOutcome {
    pub(crate) fn new(outcomes: Vec<Outcome>, sent: Vec<MessageSend>) -> Self {
        Self { outcomes, sent }
    }

    /// One outcome per message, in order.
    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// Number of acked messages.
    pub fn acked(&self) -> usize {
        self.outcomes.iter().filter(|o| o.is_acked()).count()
    }

    /// Panics unless every message was acked.
    #[track_caller]
    pub fn assert_all_acked(&self) -> &Self {
        for (index, outcome) in self.outcomes.iter().enumerate() {
            if let Some(reason) = outcome.nack_reason() {
                panic!("message {index} was nacked: {reason}");
            }
        }
        self
    }

    /// Messages the application sent while handling the batch.
    pub fn sent(&self) -> &[MessageSend] {
        &self.sent
    }

    /// The first message sent to `address`; panics if there is none.
    #[track_caller]
    pub fn assert_sent(&self, address: &str) -> &MessageSend {
        find(&self.sent, address)
    }
}
