//! The test client fails on protocol violations, as a strict server would.

use asyncfast::amgi::{
    Application, ApplicationError, ReceiveEvent, Receiver, Scope, SendEvent, SharedSender,
};
use asyncfast::testing::TestClient;

/// A raw AMGI application that answers wrongly on purpose.
#[derive(Clone, Copy)]
enum Misbehaving {
    AckTwice,
    NeverAnswer,
    Fail,
}

impl Application for Misbehaving {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        let Scope::Message(_) = scope else {
            return Err(ApplicationError::unsupported_scope(scope.kind()));
        };
        let ReceiveEvent::Message(message) = receive.receive().await? else {
            return Ok(());
        };
        match self {
            Self::AckTwice => {
                send.send(SendEvent::ack(message.id)).await?;
                // A careless application ignores the refusal.
                let _ = send.send(SendEvent::ack(message.id)).await;
            }
            Self::NeverAnswer => {}
            Self::Fail => return Err(ApplicationError::msg("database down")),
        }
        Ok(())
    }
}

#[tokio::test]
#[should_panic(expected = "protocol violation: `message.ack` refused: message already acked")]
async fn double_ack_fails_the_test() {
    let client = TestClient::new(Misbehaving::AckTwice).await;
    let _ = client.publish("a").await;
}

#[tokio::test]
#[should_panic(expected = "protocol violation: message 0 was neither acked nor nacked")]
async fn missing_ack_fails_the_test() {
    let client = TestClient::new(Misbehaving::NeverAnswer).await;
    let _ = client.publish("a").await;
}

#[tokio::test]
#[should_panic(expected = "the application failed while handling the batch: database down")]
async fn application_errors_fail_the_test() {
    let client = TestClient::new(Misbehaving::Fail).await;
    let _ = client.publish("a").await;
}
