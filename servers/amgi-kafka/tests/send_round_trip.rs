//! `message.send` from an application: key, partition and headers survive the trip through
//! the broker, and a failed delivery comes back to the application as an error.

mod common;

use std::sync::Mutex;

use amgi_core::{
    Application, ApplicationError, Binding, KafkaBinding, MessageSend, ReceiveEvent, Receiver,
    Scope, SendErrorKind, SendEvent, SharedSender,
};
use bytes::Bytes;
use common::{Out, bounded, eventually, fresh_topic, headers_of, produce, read, server, unique};
use rdkafka::Message as _;

/// Forwards each message to `to` with the received key, partition 2, and extra headers; a
/// message whose payload is `bad-partition` is forwarded to a partition that does not exist.
struct Forward {
    to: String,
    errors: Mutex<Vec<(SendErrorKind, bool, String)>>,
}

impl Application for Forward {
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
            let Some(Binding::Kafka(binding)) = &message.binding else {
                return Err(ApplicationError::msg("no Kafka binding"));
            };
            let bad = message.payload.as_deref() == Some(b"bad-partition");
            let mut headers = message.headers.clone();
            headers.append("x-repeated", "one");
            headers.append("x-binary", Bytes::from_static(&[0, 159, 255]));
            headers.append("x-repeated", "two");
            let mut out = KafkaBinding::with_key(binding.key.clone().unwrap_or_default())
                .partition(if bad { 99 } else { 2 });
            out.timestamp = Some(1_700_000_000_000);
            let forward = MessageSend::new(self.to.as_str())
                .headers(headers)
                .payload(message.payload.clone().unwrap_or_default())
                .binding(out);
            match send.send(SendEvent::Send(forward)).await {
                Ok(()) => send.send(SendEvent::ack(message.id)).await?,
                Err(error) => {
                    self.errors.lock().unwrap().push((
                        error.kind(),
                        error.is_retryable(),
                        error.to_string(),
                    ));
                    send.send(SendEvent::nack(message.id, error.to_string()))
                        .await?;
                }
            }
            if !message.more_messages {
                return Ok(());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_partitions_and_headers_survive_a_send_round_trip() {
    bounded(async {
        let inbound = fresh_topic("send-in", 1).await;
        let outbound = fresh_topic("send-out", 3).await;
        let app = std::sync::Arc::new(Forward {
            to: outbound.clone(),
            errors: Mutex::new(Vec::new()),
        });
        let handle = server(app.clone(), &[&inbound], &unique("send-group"))
            .dead_letter(amgi_kafka::DeadLetterPolicy::Disabled)
            .start()
            .await
            .expect("start");
        produce(
            &inbound,
            [Out::text("payload-1")
                .key("key-1")
                .header("correlation-id", b"c-1")],
        )
        .await;

        let arrived = read(&outbound, 1).await;
        let arrived = &arrived[0];
        assert_eq!(arrived.key(), Some(&b"key-1"[..]));
        assert_eq!(arrived.partition(), 2);
        assert_eq!(arrived.payload(), Some(&b"payload-1"[..]));
        assert_eq!(arrived.timestamp().to_millis(), Some(1_700_000_000_000));
        assert_eq!(
            headers_of(arrived),
            [
                ("correlation-id".to_owned(), b"c-1".to_vec()),
                ("x-repeated".to_owned(), b"one".to_vec()),
                ("x-binary".to_owned(), vec![0, 159, 255]),
                ("x-repeated".to_owned(), b"two".to_vec()),
            ]
        );

        // A delivery that fails is an error the application sees.
        produce(&inbound, [Out::text("bad-partition").key("key-2")]).await;
        eventually("the failed send", || !app.errors.lock().unwrap().is_empty()).await;
        handle.shutdown().await.expect("shutdown");
        let (kind, retryable, text) = app.errors.lock().unwrap()[0].clone();
        assert_eq!(kind, SendErrorKind::Transport);
        assert!(retryable);
        assert!(
            text.contains(&outbound),
            "the error names the topic: {text}"
        );
    })
    .await;
}
