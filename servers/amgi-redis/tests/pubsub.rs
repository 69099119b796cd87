//! Pub/Sub mode: exact channels (`SUBSCRIBE`) and patterns (`PSUBSCRIBE`) deliver the payload
//! alone, with the channel as the address; `message.send` is `PUBLISH`.

mod common;

use std::time::Duration;

use amgi_core::{Binding, Headers, MessageSend};
use amgi_redis::{RedisConfig, Server};
use common::app::{Action, Received, TestApp};
use tokio::sync::mpsc::UnboundedReceiver;

async fn next(received: &mut UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(common::WAIT, received.recv())
        .await
        .expect("no message within the wait")
        .expect("the application is gone")
}

async fn publish(redis: &mut redis::aio::MultiplexedConnection, channel: &str, payload: &str) {
    let _: i64 = redis::cmd("PUBLISH")
        .arg(channel)
        .arg(payload)
        .query_async(redis)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn exact_and_pattern_subscriptions_deliver_and_send_publishes() {
    let mut redis = common::connect().await;
    let exact = common::unique("pubsub.exact");
    let prefix = common::unique("pubsub.pattern");
    let echoed = format!("{prefix}.echoed");
    let echo_to = echoed.clone();
    let (app, mut received) = TestApp::new(move |_, message| {
        if message.payload.as_deref() == Some(&b"echo"[..]) {
            let out = MessageSend::new(echo_to.as_str())
                .headers(Headers::new().with("dropped", "in Pub/Sub"))
                .payload("echoed");
            return Action::SendThenAck(out);
        }
        Action::Ack
    });
    let config = RedisConfig::new(common::URL, "")
        .pubsub(true)
        .stream(&exact)
        .pattern(format!("{prefix}.*"))
        .block(Duration::from_millis(100));
    let handle = Server::new(app, config).start().await.unwrap();
    // Published before the subscription exists, a message is lost: wait for it.
    common::eventually("the subscription", || {
        let (mut redis, exact) = (redis.clone(), exact.clone());
        async move {
            let counts: Vec<(String, i64)> = redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(&exact)
                .query_async(&mut redis)
                .await
                .unwrap();
            counts.first().is_some_and(|(_, count)| *count == 1)
        }
    })
    .await;
    publish(&mut redis, &exact, "hello").await;
    let (address, message) = next(&mut received).await;
    assert_eq!(
        (address.as_str(), common::text(&message).as_str()),
        (exact.as_str(), "hello")
    );
    assert!(message.headers.is_empty(), "Pub/Sub has no headers");
    let Some(Binding::Redis(binding)) = &message.binding else {
        panic!("no Redis binding: {:?}", message.binding)
    };
    assert_eq!(binding.stream.as_deref(), Some(exact.as_str()));
    assert_eq!(binding.stream_id, None);

    // The pattern was subscribed to before the first message was read.
    let region = format!("{prefix}.eu");
    publish(&mut redis, &region, r#"{"id":1}"#).await;
    let (address, message) = next(&mut received).await;
    assert_eq!(address, region);
    assert_eq!(common::text(&message), r#"{"id":1}"#);

    // message.send → PUBLISH, received back through the pattern, without headers.
    publish(&mut redis, &exact, "echo").await;
    let (address, _) = next(&mut received).await;
    assert_eq!(address, exact);
    let (address, message) = next(&mut received).await;
    assert_eq!(
        (address.as_str(), common::text(&message).as_str()),
        (echoed.as_str(), "echoed")
    );
    assert!(message.headers.is_empty());
    handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn run_redis_pubsub_subscribes_to_a_templated_channel_as_a_pattern() {
    use amgi_core::BoxApplication;
    use amgi_redis::RedisCommand;
    use amgi_server::{AddressPart, AppChannels, ChannelAddress, ServeContext, ServerCommand};

    let mut redis = common::connect().await;
    let prefix = common::unique("pubsub.cli");
    let template = ChannelAddress::new(
        format!("{prefix}.{{region}}"),
        vec![
            AddressPart::Literal(format!("{prefix}.")),
            AddressPart::Placeholder("region".into()),
        ],
    );
    let (app, mut received) = TestApp::new(|_, _| Action::Ack);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let cx = ServeContext {
        app: BoxApplication::new(app),
        channels: AppChannels::new(vec![template], |_| true),
        shutdown: Box::pin(async {
            let _ = stopped.await;
        }),
    };
    let command = RedisCommand;
    let args = command
        .command()
        .try_get_matches_from(["redis", "--pubsub", "--url", common::URL])
        .unwrap();
    let serving = tokio::spawn(command.serve(args, cx));
    // A message published before the pattern is subscribed to is lost: publish until one
    // arrives.
    let channel = format!("{prefix}.eu");
    let arrived = async {
        loop {
            publish(&mut redis, &channel, "via the pattern").await;
            if let Ok(Some(message)) =
                tokio::time::timeout(Duration::from_millis(50), received.recv()).await
            {
                return message;
            }
        }
    };
    let (address, message) = tokio::time::timeout(common::WAIT, arrived)
        .await
        .expect("no message through the pattern");
    assert_eq!(address, channel);
    assert_eq!(common::text(&message), "via the pattern");
    stop.send(()).unwrap();
    tokio::time::timeout(common::WAIT, serving)
        .await
        .expect("run redis stopped")
        .unwrap()
        .unwrap();
}
