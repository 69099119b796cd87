//! `run redis` errors: Redis down, templated channels without `--pubsub`, no `--group`.

mod common;

use amgi_core::BoxApplication;
use amgi_redis::{ErrorKind, RedisCommand, RedisConfig, Server};
use amgi_server::{
    AddressPart, AppChannels, ChannelAddress, ServeContext, ServeErrorKind, ServerCommand,
};
use common::app::{Action, TestApp};

fn context(channels: Vec<ChannelAddress>) -> ServeContext {
    let (app, _) = TestApp::new(|_, _| Action::Ack);
    ServeContext {
        app: BoxApplication::new(app),
        channels: AppChannels::new(channels, |_| true),
        shutdown: Box::pin(std::future::ready(())),
    }
}

fn orders() -> ChannelAddress {
    ChannelAddress::new("orders", vec![AddressPart::Literal("orders".into())])
}

async fn serve(args: &[&str], channels: Vec<ChannelAddress>) -> amgi_server::ServeError {
    let command = RedisCommand;
    let matches = command
        .command()
        .try_get_matches_from(std::iter::once("redis").chain(args.iter().copied()))
        .unwrap();
    let serving = command.serve(matches, context(channels));
    tokio::time::timeout(common::WAIT, serving)
        .await
        .expect("serve did not fail within the wait")
        .expect_err("serve should fail")
}

#[tokio::test]
async fn unreachable_redis_is_a_clear_error_without_the_password() {
    let url = "redis://:s3cret@127.0.0.1:1/0";
    let error = serve(&["orders", "--group", "g", "--url", url], vec![orders()]).await;
    assert_eq!(error.kind(), ServeErrorKind::Unreachable);
    let message = error.to_string();
    assert!(message.contains("redis://:***@127.0.0.1:1/0"), "{message}");
    assert!(message.contains("--url"), "{message}");
    let chain = format!("{error:?}");
    assert!(!chain.contains("s3cret"), "the password leaked: {chain}");

    let (app, _) = TestApp::new(|_, _| Action::Ack);
    let error = Server::new(app, RedisConfig::new(url, "g").stream("orders"))
        .start()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unreachable);
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_tls_url_is_supported_and_its_password_redacted() {
    // Nothing listens on port 1: the error is about reaching it, not about the URL.
    let url = "rediss://user:s3cret@127.0.0.1:1/0";
    let error = serve(&["orders", "--group", "g", "--url", url], vec![orders()]).await;
    assert_eq!(error.kind(), ServeErrorKind::Unreachable, "{error}");
    assert!(
        error
            .to_string()
            .contains("rediss://user:***@127.0.0.1:1/0"),
        "{error}"
    );
    assert!(!format!("{error:?}").contains("s3cret"), "{error:?}");
}

#[tokio::test]
async fn templated_channels_are_refused_saying_streams_need_names() {
    let template = ChannelAddress::new(
        "orders.{region}",
        vec![
            AddressPart::Literal("orders.".into()),
            AddressPart::Placeholder("region".into()),
        ],
    );
    let error = serve(&["--group", "g"], vec![template]).await;
    assert_eq!(error.kind(), ServeErrorKind::Config);
    let message = error.to_string();
    assert!(
        message.contains("orders.{region}") && message.contains("no patterns"),
        "{message}"
    );
}

#[tokio::test]
async fn streams_mode_needs_a_group() {
    let error = serve(&["orders"], vec![orders()]).await;
    assert_eq!(error.kind(), ServeErrorKind::Config);
    assert!(error.to_string().contains("--group"), "{error}");
}

#[tokio::test]
async fn a_url_that_does_not_parse_names_the_option() {
    let error = serve(
        &["orders", "--group", "g", "--url", "http://nope"],
        vec![orders()],
    )
    .await;
    assert_eq!(error.kind(), ServeErrorKind::Config);
    assert!(error.to_string().contains("--url"), "{error}");
}

/// asyncfast's `redis` feature registers this server's command: `app run redis …`.
#[test]
fn asyncfast_registers_run_redis_with_its_feature() {
    let app = asyncfast::AsyncFast::empty();
    assert!(app.server_names().any(|name| name == "redis"));
}
