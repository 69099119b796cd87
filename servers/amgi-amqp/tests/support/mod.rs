//! What the tests share: the broker's URL, unique names, and a plain lapin client outside the
//! server to publish, read and delete queues.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use amgi_amqp::{AmqpConfig, AmqpUrl};
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

/// The RabbitMQ of `scripts/brokers-up`.
pub const URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// A name no other test (or run) uses: `amgi-test.<purpose>.<unique id without dots>`.
pub fn unique(purpose: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "amgi-test.{purpose}.{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A configuration for `queues` on the test broker, with quick retries.
pub fn config(queues: &[&str]) -> AmqpConfig {
    AmqpConfig::new(AmqpUrl::new(URL))
        .queues(queues.iter().copied())
        .retry(
            amgi_server::RetryPolicy::new(3)
                .backoff(Duration::from_millis(20), Duration::from_millis(50)),
        )
        .deadlines(amgi_server::Deadlines::default().drain(Duration::from_secs(5)))
}

/// A lapin client outside the server.
pub struct Outside {
    pub connection: Connection,
    pub channel: Channel,
}

impl Outside {
    /// Connects, or fails naming the command that starts the broker.
    pub async fn connect() -> Self {
        let connect = Connection::connect(URL, ConnectionProperties::default());
        let connection = tokio::time::timeout(Duration::from_secs(5), connect)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_else(|| {
                panic!(
                    "no RabbitMQ on 127.0.0.1:5672 (guest/guest); start one with scripts/brokers-up"
                )
            });
        let channel = connection.create_channel().await.unwrap();
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        Self {
            connection,
            channel,
        }
    }

    /// Declares `queue` durable.
    pub async fn declare(&self, queue: &str) {
        self.channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions::durable(),
                FieldTable::default(),
            )
            .await
            .unwrap();
    }

    /// Publishes to the default exchange with routing key `queue`, confirmed.
    pub async fn publish(&self, queue: &str, headers: &[(&str, &[u8])], payload: &[u8]) {
        self.publish_to("", queue, headers, payload, BasicProperties::default())
            .await;
    }

    /// Publishes to `exchange` with `routing_key`, confirmed.
    pub async fn publish_to(
        &self,
        exchange: &str,
        routing_key: &str,
        headers: &[(&str, &[u8])],
        payload: &[u8],
        properties: BasicProperties,
    ) {
        let mut table = FieldTable::default();
        for (name, value) in headers {
            table.insert(
                (*name).into(),
                AMQPValue::LongString(LongString::from(value.to_vec())),
            );
        }
        let properties = properties.with_headers(table);
        self.channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                payload,
                properties,
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    /// The next message of `queue` (acked), within 10 s.
    pub async fn next(&self, queue: &str) -> lapin::message::Delivery {
        let channel = self.connection.create_channel().await.unwrap();
        let mut consumer = channel
            .basic_consume(
                queue.into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        let delivery = tokio::time::timeout(Duration::from_secs(10), consumer.next())
            .await
            .unwrap_or_else(|_| panic!("nothing on `{queue}` within 10 s"))
            .unwrap()
            .unwrap();
        delivery.ack(BasicAckOptions::default()).await.unwrap();
        let _ = channel.close(200, "done".into()).await;
        delivery
    }

    /// Deletes `queues` (and their dead-letter queues).
    pub async fn delete(&self, queues: &[&str]) {
        let channel = self.connection.create_channel().await.unwrap();
        for queue in queues {
            for name in [queue.to_string(), format!("{queue}.dlq")] {
                let _ = channel
                    .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
                    .await;
            }
        }
    }
}
