//! An application that decodes JSON: an undecodable payload is nacked with the decoder's error,
//! dead-lettered with that reason, and the server carries on with the next messages.

mod common;

use std::sync::Mutex;

use amgi_core::{
    Application, ApplicationError, ReceiveEvent, Receiver, Scope, SendEvent, SharedSender,
};
use amgi_kafka::dead_letter::REASON_HEADER;
use common::{
    Out, bounded, committed, create_topic, eventually, fresh_topic, header_text, produce, read,
    server, unique,
};
use rdkafka::Message as _;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Order {
    id: u64,
}

/// Decodes every payload as an [`Order`]; acks what decodes, nacks the rest saying why.
#[derive(Default)]
struct JsonApp {
    orders: Mutex<Vec<u64>>,
}

impl Application for JsonApp {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        let Scope::Message(_) = scope else {
            return Err(ApplicationError::unsupported_scope(scope.kind()));
        };
        loop {
            let ReceiveEvent::Message(message) = receive.receive().await? else {
                continue;
            };
            let payload = message.payload.clone().unwrap_or_default();
            match serde_json::from_slice::<Order>(&payload) {
                Ok(order) => {
                    self.orders.lock().unwrap().push(order.id);
                    send.send(SendEvent::ack(message.id)).await?;
                }
                Err(error) => {
                    let reason = format!("payload is not a valid order (JSON): {error}");
                    send.send(SendEvent::nack(message.id, reason)).await?;
                }
            }
            if !message.more_messages {
                return Ok(());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_payload_is_dead_lettered_and_the_server_keeps_running() {
    bounded(async {
        let topic = fresh_topic("json", 1).await;
        let dead_letters = format!("{topic}.dlq");
        create_topic(&dead_letters, 1).await;
        let group = unique("json-group");
        let app = std::sync::Arc::new(JsonApp::default());
        let handle = server(app.clone(), &[&topic], &group)
            .start()
            .await
            .expect("start");
        produce(
            &topic,
            [
                Out::text(r#"{"id":1}"#),
                Out::text(r#"{"id":2,"#),
                Out::text(r#"{"id":3}"#),
            ],
        )
        .await;

        let dead = read(&dead_letters, 1).await;
        assert_eq!(dead[0].payload(), Some(&br#"{"id":2,"#[..]));
        let reason = header_text(&dead[0], REASON_HEADER).unwrap();
        assert!(
            reason.starts_with("payload is not a valid order (JSON): EOF while parsing"),
            "the reason says what was wrong and where: {reason}"
        );
        assert!(reason.contains("line 1 column"), "{reason}");

        // Still running: a message published after the dead letter is handled.
        produce(&topic, [Out::text(r#"{"id":4}"#)]).await;
        eventually("order 4", || app.orders.lock().unwrap().contains(&4)).await;
        handle.shutdown().await.expect("shutdown");
        assert_eq!(*app.orders.lock().unwrap(), [1, 3, 4]);
        assert_eq!(committed(&group, &topic, 1).await, [4]);
    })
    .await;
}
