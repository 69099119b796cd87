//! Request/reply on Redis Streams: an AsyncFast service answers `Reply<T>` to requests made with
//! `Publisher::request`, the reply travelling through the requester's reply stream (its
//! `reply-to` header) and matched by its `correlation-id`.

mod common;

use std::time::Duration;

use amgi_redis::{RedisConfig, Server};
use asyncfast::prelude::*;
use asyncfast::{Reply, RequestError};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
struct Multiply {
    x: i64,
    y: i64,
}

#[channel("rrq.{run}")]
async fn multiply(args: Payload<Multiply>, run: Param<String>) -> Result<Reply<i64>, String> {
    std::hint::black_box(run);
    args.x
        .checked_mul(args.y)
        .map(Reply)
        .ok_or_else(|| "overflow".to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_on_redis_answers_typed_requests() {
    let stream = format!("rrq.{}", common::unique("run").replace('.', "-"));
    let app = AsyncFast::empty().channel(handler!(multiply)).replies();
    let replies = app.reply_address().unwrap().to_owned();
    let publisher = app.publisher();
    let config = RedisConfig::new(common::URL, common::unique("g"))
        .stream(&stream)
        .stream(&replies)
        .consumer("request-reply")
        .block(Duration::from_millis(50));
    let handle = Server::new(app, config).start().await.unwrap();

    for (x, y) in [(6, 7), (-3, 14)] {
        let product: i64 = publisher
            .request(stream.as_str(), &Multiply { x, y })
            .timeout(common::WAIT)
            .await
            .unwrap();
        assert_eq!(product, x * y);
    }
    let error = publisher
        .request::<i64>(stream.as_str(), &Multiply { x: i64::MAX, y: 2 })
        .timeout(common::WAIT)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RequestError::Remote { reason, .. } if reason == "overflow"),
        "{error:?}"
    );

    tokio::time::timeout(common::WAIT, handle.shutdown())
        .await
        .unwrap()
        .unwrap();
    let mut redis = common::connect().await;
    common::delete(&mut redis, &[&stream, &replies]).await;
}
