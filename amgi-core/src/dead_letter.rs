//! Header names every server uses when it dead-letters a message.
//!
//! A server that gives up on a message (it was nacked too many times) publishes it to a
//! dead-letter address with its original headers, payload and these headers added, so that any
//! tool can read why it is there whichever broker carried it.

/// Why the message was dead-lettered: the last nack reason.
pub const REASON_HEADER: &str = "amgi-dead-letter-reason";

/// How many times the message was delivered before it was dead-lettered (decimal).
pub const DELIVERIES_HEADER: &str = "amgi-dead-letter-deliveries";

/// The address the message was consumed from.
pub const ADDRESS_HEADER: &str = "amgi-dead-letter-address";

/// The default dead-letter address for `address`: `<address>.dlq`.
///
/// ```
/// assert_eq!(amgi_core::dead_letter::default_address("orders"), "orders.dlq");
/// ```
pub fn default_address(address: &str) -> String {
    format!("{address}.dlq")
}
