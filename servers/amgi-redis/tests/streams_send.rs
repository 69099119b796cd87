//! `message.send` on Redis Streams: the binding's `maxlen` trims the stream (`MAXLEN ~ n`),
//! headers keep their order and bytes, and a received entry's binding names its stream and id.
//! An AsyncFast `#[derive(Message)]` with a `#[binding(redis_maxlen)]` field trims the same way.
//! Two servers with two consumer names in one group share a stream, each entry handled once.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use amgi_core::{Binding, Headers, MessageSend, RedisBinding};
use amgi_redis::{RedisConfig, Server};
use common::app::{Action, TestApp};

fn config(group: &str, streams: &[&str], consumer: &str) -> RedisConfig {
    RedisConfig::new(common::URL, group)
        .streams(streams.iter().copied())
        .consumer(consumer)
        .block(Duration::from_millis(100))
}

async fn xlen(redis: &mut redis::aio::MultiplexedConnection, stream: &str) -> usize {
    redis::cmd("XLEN")
        .arg(stream)
        .query_async(redis)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binding_trims_the_stream_and_headers_and_binding_survive_the_round_trip() {
    let mut redis = common::connect().await;
    let (inbound, outbound) = (common::unique("maxlen.in"), common::unique("maxlen.out"));
    // A backlog of 1 000 entries that `MAXLEN ~ 10` trims (by whole nodes of 100 entries).
    let mut fill = redis::pipe();
    for i in 0..1000 {
        fill.cmd("XADD")
            .arg(&outbound)
            .arg("*")
            .arg("payload")
            .arg(i);
    }
    let _: () = fill.query_async(&mut redis).await.unwrap();
    let out = outbound.clone();
    let (app, mut received) = TestApp::new(move |address, _| {
        if address == out {
            return Action::Ack;
        }
        let headers = Headers::new()
            .with("b", "2")
            .with("a", &b"\xff"[..])
            .with("b", "3");
        Action::SendThenAck(
            MessageSend::new(out.as_str())
                .headers(headers)
                .payload("sent")
                .binding(RedisBinding::with_maxlen(10)),
        )
    });
    // Only the inbound stream is consumed: the outbound one is read back below.
    let handle = Server::new(app, config(&common::unique("g"), &[&inbound], "send"))
        .start()
        .await
        .unwrap();
    common::publish(
        &mut redis,
        &MessageSend::new(inbound.as_str()).payload("go"),
    )
    .await;
    let (_, first) = tokio::time::timeout(common::WAIT, received.recv())
        .await
        .unwrap()
        .unwrap();
    let Some(Binding::Redis(binding)) = &first.binding else {
        panic!("no Redis binding: {:?}", first.binding)
    };
    assert_eq!(binding.stream.as_deref(), Some(inbound.as_str()));
    let inbound_id = common::ids(&mut redis, &inbound).await.remove(0);
    assert_eq!(binding.stream_id.as_deref(), Some(inbound_id.as_str()));

    common::eventually("the sent entry", || {
        let (mut redis, outbound) = (redis.clone(), outbound.clone());
        async move {
            common::entries(&mut redis, &outbound)
                .await
                .last()
                .is_some_and(|(_, fields)| fields.get(b"payload").is_some_and(|p| p == "sent"))
        }
    })
    .await;
    let length = xlen(&mut redis, &outbound).await;
    assert!(
        (10..1001).contains(&length),
        "not trimmed: {length} entries"
    );
    let (_, fields) = common::entries(&mut redis, &outbound).await.pop().unwrap();
    let fields: Vec<_> = fields.iter().cloned().collect();
    assert_eq!(
        fields,
        [
            ("payload".into(), "sent".into()),
            ("b".into(), "2".into()),
            ("a".into(), (&b"\xff"[..]).into()),
            ("b".into(), "3".into()),
        ]
    );
    handle.shutdown().await.unwrap();
    common::delete(&mut redis, &[&inbound, &outbound]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_consumers_of_one_group_share_a_stream_each_entry_once() {
    let mut redis = common::connect().await;
    let (stream, group) = (common::unique("share"), common::unique("g"));
    let slow = || TestApp::new(|_, _| Action::DelayThenAck(Duration::from_millis(2)));
    let ((app_a, mut received_a), (app_b, mut received_b)) = (slow(), slow());
    let a = Server::new(app_a, config(&group, &[&stream], "a").batch_size(8))
        .start()
        .await
        .unwrap();
    let b = Server::new(app_b, config(&group, &[&stream], "b").batch_size(8))
        .start()
        .await
        .unwrap();
    let total = 200;
    let mut fill = redis::pipe();
    for i in 0..total {
        fill.cmd("XADD").arg(&stream).arg("*").arg("payload").arg(i);
    }
    let _: () = fill.query_async(&mut redis).await.unwrap();
    let mut handled: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    while handled.len() < total {
        let next = async {
            tokio::select! {
                Some((_, message)) = received_a.recv() => ("a", message),
                Some((_, message)) = received_b.recv() => ("b", message),
            }
        };
        let (name, message) = tokio::time::timeout(common::WAIT, next)
            .await
            .expect("every entry within the wait");
        handled
            .entry(common::text(&message))
            .or_default()
            .push(name);
    }
    common::eventually("every entry acked", || {
        let (mut redis, stream, group) = (redis.clone(), stream.clone(), group.clone());
        async move { common::pending(&mut redis, &stream, &group).await == 0 }
    })
    .await;
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
    for (name, received) in [("a", &mut received_a), ("b", &mut received_b)] {
        while let Ok((_, message)) = received.try_recv() {
            handled
                .entry(common::text(&message))
                .or_default()
                .push(name);
        }
    }
    assert_eq!(handled.len(), total, "every entry handled");
    let twice: Vec<_> = handled.iter().filter(|(_, by)| by.len() > 1).collect();
    assert!(twice.is_empty(), "handled twice: {twice:?}");
    let by_a = handled.values().filter(|by| by[0] == "a").count();
    assert!(
        by_a > 0 && by_a < total,
        "the load is not shared: a handled {by_a} of {total}"
    );
    common::delete(&mut redis, &[&stream]).await;
}

mod asyncfast_app {
    use asyncfast::prelude::*;
    use schemars::JsonSchema;
    use serde::Serialize;

    #[derive(Serialize, JsonSchema)]
    pub(crate) struct Audit {
        pub(crate) seen: String,
    }

    /// Written with `MAXLEN ~ 10` from its binding field.
    #[derive(Message)]
    #[message(address = "maxlenout.{run}")]
    pub(crate) struct AuditEntry {
        pub(crate) run: String,
        #[payload]
        pub(crate) audit: Audit,
        #[header(alias = "correlation-id")]
        pub(crate) correlation: String,
        #[binding(redis_maxlen)]
        pub(crate) maxlen: u64,
    }

    #[channel("maxlenin.{run}")]
    pub(crate) async fn on_entry(
        text: Payload<String>,
        correlation_id: Header<String>,
        run: Param<String>,
    ) -> AuditEntry {
        AuditEntry {
            run: run.0,
            audit: Audit { seen: text.0 },
            correlation: correlation_id.0,
            maxlen: 10,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_asyncfast_message_with_a_redis_maxlen_binding_trims_its_stream() {
    use asyncfast::prelude::*;

    let mut redis = common::connect().await;
    let run = common::unique("run").replace('.', "-");
    let (inbound, outbound) = (format!("maxlenin.{run}"), format!("maxlenout.{run}"));
    let mut fill = redis::pipe();
    for i in 0..1000 {
        fill.cmd("XADD")
            .arg(&outbound)
            .arg("*")
            .arg("payload")
            .arg(i);
    }
    let _: () = fill.query_async(&mut redis).await.unwrap();
    let app = AsyncFast::empty().channel(handler!(asyncfast_app::on_entry));
    let handle = Server::new(app, config(&common::unique("g"), &[&inbound], "maxlen"))
        .start()
        .await
        .unwrap();
    let message = MessageSend::new(inbound.as_str())
        .headers(Headers::new().with("correlation-id", "c-9"))
        .payload("hello");
    common::publish(&mut redis, &message).await;
    common::eventually("the audit entry", || {
        let (mut redis, outbound) = (redis.clone(), outbound.clone());
        async move {
            common::entries(&mut redis, &outbound)
                .await
                .last()
                .is_some_and(|(_, fields)| fields.get(b"correlation-id").is_some())
        }
    })
    .await;
    let length = xlen(&mut redis, &outbound).await;
    assert!(
        (10..1001).contains(&length),
        "not trimmed: {length} entries"
    );
    let (_, fields) = common::entries(&mut redis, &outbound).await.pop().unwrap();
    assert_eq!(fields.get(b"payload").unwrap(), r#"{"seen":"hello"}"#);
    assert_eq!(fields.get(b"correlation-id").unwrap(), "c-9");
    handle.shutdown().await.unwrap();
    common::delete(&mut redis, &[&inbound, &outbound]).await;
}
