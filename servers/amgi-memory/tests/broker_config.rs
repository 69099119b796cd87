//! Broker settings brought into range, and dead-letter addresses as the interface names them.

use amgi_core::MessageSend;
use amgi_memory::{Broker, BrokerConfig};

#[test]
fn capacity_is_clamped() {
    let capacity = |c| {
        Broker::new(BrokerConfig::new().capacity(c))
            .config()
            .capacity
    };
    assert_eq!(capacity(0), 1);
    assert_eq!(capacity(usize::MAX), tokio::sync::Semaphore::MAX_PERMITS);
    assert_eq!(capacity(7), 7);
}

#[test]
fn default_dead_letter_address_matches_the_interface() {
    let broker = Broker::default();
    for address in ["orders", "a.b.c", ""] {
        assert_eq!(
            broker.dead_letter_address(address),
            Some(amgi_core::dead_letter::default_address(address))
        );
    }
}

#[test]
fn a_message_published_to_a_dead_letter_address_reads_with_defaults() {
    let broker = Broker::default();
    broker
        .try_publish(MessageSend::new("orders.dlq").payload("x"))
        .unwrap();
    let letters = broker.dead_letters("orders");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].address, "orders");
    assert_eq!(letters[0].reason, "");
    assert_eq!(letters[0].deliveries, 0);
}
