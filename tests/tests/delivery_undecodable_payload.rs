//! A payload that does not decode: the handler never runs, and the message is dead-lettered at
//! once (it can never succeed: the framework nacks it with `NackRetry::Never`) with the path of
//! the offending field in the reason.

use amgi_core::MessageSend;
use asyncfast::prelude::*;
use integration_tests::{Events, within};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct Address {
    city: String,
    zip: String,
}

#[derive(Deserialize, JsonSchema)]
struct UserCreated {
    id: u64,
    tags: Vec<String>,
    address: Address,
}

#[channel("user.created")]
async fn on_user(user: Payload<UserCreated>, events: State<Events>) {
    events.report(format!(
        "user {} {:?} in {} {}",
        user.id, user.tags, user.address.zip, user.address.city
    ));
}

#[channel("user.created.dlq")]
async fn on_dead_user(
    #[header(alias = "amgi-dead-letter-reason")] reason: Header<String>,
    #[header(alias = "amgi-dead-letter-deliveries")] deliveries: Header<u32>,
    events: State<Events>,
) {
    events.report(format!("dead after {}: {}", *deliveries, *reason));
}

#[tokio::test]
async fn undecodable_payload_is_dead_lettered_naming_the_field() {
    let broker = amgi_memory::Broker::default();
    let (events, mut log) = Events::channel();
    let app = AsyncFast::empty()
        .state(events)
        .channel(handler!(on_user))
        .channel(handler!(on_dead_user));
    let server = within(
        "server start",
        amgi_memory::Server::new(app, broker.clone())
            .address("user.created")
            .address("user.created.dlq")
            .max_deliveries(2)
            .start(),
    )
    .await
    .unwrap();

    let payloads = [
        r#"{"id":1,"tags":["a",2],"address":{"city":"Paris","zip":"75001"}}"#,
        r#"{"id":2,"tags":[],"address":{"city":"Oslo"}}"#,
        r#"{"id":3,"tags":["vip"],"address":{"city":"Rome","zip":"00184"}}"#,
    ];
    for payload in payloads {
        within(
            "publish",
            broker.publish(MessageSend::new("user.created").payload(payload)),
        )
        .await
        .unwrap();
    }

    let mut seen = vec![log.next().await, log.next().await, log.next().await];
    within("graceful shutdown", server.shutdown())
        .await
        .unwrap();
    seen.sort();
    assert_eq!(
        seen,
        [
            "dead after 1: invalid payload at `address`: missing field `zip` at line 1 column 43",
            "dead after 1: invalid payload at `tags[1]`: invalid type: integer `2`, expected a \
             string at line 1 column 21",
            r#"user 3 ["vip"] in 00184 Rome"#,
        ]
    );
    assert_eq!(broker.depth("user.created"), 0);
    assert_eq!(broker.in_flight("user.created"), 0);
}
