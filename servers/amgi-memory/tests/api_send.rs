//! Compile-time check that the public handles and futures can cross threads.

use amgi_core::{Application, ApplicationError, MessageSend, Receiver, Scope, SharedSender};
use amgi_memory::{
    Broker, BrokerConfig, DeadLetter, PublishError, Server, ServerError, ServerHandle,
};

fn assert_send<T: Send>(_: &T) {}
fn assert_send_sync<T: Send + Sync + 'static>() {}

struct App;

impl Application for App {
    async fn call(
        &self,
        scope: Scope,
        _: &mut dyn Receiver,
        _: SharedSender,
    ) -> Result<(), ApplicationError> {
        Err(ApplicationError::unsupported_scope(scope.kind()))
    }
}

#[test]
fn public_types_are_send_and_sync() {
    assert_send_sync::<Broker>();
    assert_send_sync::<BrokerConfig>();
    assert_send_sync::<DeadLetter>();
    assert_send_sync::<PublishError>();
    assert_send_sync::<ServerError>();
    assert_send_sync::<ServerHandle>();
    assert_send_sync::<Server<App>>();
}

#[test]
fn public_futures_are_send() {
    let broker = Broker::default();
    assert_send(&broker.publish(MessageSend::new("a")));
    assert_send(&Server::new(App, broker.clone()).start());
    assert_send(&Server::new(App, broker.clone()).run_until(async {}));
}

#[allow(dead_code, clippy::needless_pass_by_value)]
fn shutdown_is_send(handle: ServerHandle) {
    assert_send(&handle.shutdown());
}
