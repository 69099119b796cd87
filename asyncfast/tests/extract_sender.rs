//! `MessageSender`: concurrent sends, and the server's error when a send fails.

use asyncfast::SendMessageError;
use asyncfast::amgi::MessageSend;
use asyncfast::prelude::*;
use asyncfast::testing::TestClient;

#[channel("fan.out")]
async fn fan_out(sender: MessageSender) -> Result<(), SendMessageError> {
    let (a, b) = tokio::join!(
        sender.send(MessageSend::new("email.welcome").payload("hi")),
        sender.send(MessageSend::new("crm.contact")),
    );
    a.and(b)
}

#[channel("check.error")]
async fn check_error(sender: MessageSender) -> Result<(), String> {
    match sender.send(MessageSend::new("audit")).await {
        Err(error) if error.is_retryable() => Err(format!("audit is down: {error}")),
        Err(error) => Err(format!("unexpected error {error}")),
        Ok(()) => Ok(()),
    }
}

#[tokio::test]
async fn sends_are_published() {
    let client = TestClient::new(AsyncFast::empty().channel(handler!(fan_out))).await;
    let outcome = client.publish("fan.out").await;
    outcome.assert_acked();
    assert_eq!(outcome.sent().len(), 2);
    let welcome = outcome.assert_sent("email.welcome");
    assert_eq!(welcome.payload.as_deref(), Some(&b"hi"[..]));
    outcome.assert_sent("crm.contact");
}

#[tokio::test]
async fn failed_send_returns_the_server_error() {
    let client = TestClient::new(AsyncFast::empty().channel(handler!(check_error))).await;
    client.fail_publishes_to("audit");
    let outcome = client.publish("check.error").await;
    assert_eq!(
        outcome.assert_nacked(),
        "audit is down: sending failed: publish failed: to `audit`: the test broker refused it"
    );
    outcome.assert_nothing_sent();
}
