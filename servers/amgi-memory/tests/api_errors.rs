//! Publish errors as the application sees them, and server errors' messages.

use std::error::Error as _;

use amgi_core::{LifespanError, MessageSend, SendError, SendErrorKind};
use amgi_memory::{Broker, BrokerConfig, PublishErrorKind, ServerError};

#[test]
fn closed_publish_error_becomes_closed_send_error() {
    let broker = Broker::default();
    broker.close();
    let error = broker.try_publish(MessageSend::new("orders")).unwrap_err();
    assert_eq!(error.kind(), PublishErrorKind::Closed);
    assert!(!error.is_retryable());
    let send: SendError = error.into();
    assert_eq!(send.kind(), SendErrorKind::Closed);
    assert_eq!(
        send.to_string(),
        "server closed: cannot publish to `orders`"
    );
}

#[test]
fn full_publish_error_becomes_retryable_transport_send_error() {
    let broker = Broker::new(BrokerConfig::new().capacity(1));
    broker.try_publish(MessageSend::new("orders")).unwrap();
    let error = broker.try_publish(MessageSend::new("orders")).unwrap_err();
    assert_eq!(error.capacity(), 1);
    let send: SendError = error.into();
    assert_eq!(send.kind(), SendErrorKind::Transport);
    assert!(send.source().is_some());
    assert!(send.is_retryable());
    assert!(
        send.to_string().contains("the queue is full (capacity 1)"),
        "{send}"
    );
}

#[test]
fn startup_error_carries_the_application_message() {
    let error = ServerError::Startup(LifespanError::StartupFailed {
        message: "no database".into(),
    });
    assert!(error.to_string().contains("no database"), "{error}");
    assert!(error.source().is_some());
}
