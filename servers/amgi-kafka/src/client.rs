//! What librdkafka clients report, routed to `tracing`.

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;

/// Forwards a librdkafka log line to `tracing` at the matching level.
///
/// `CONFWARN` lines ("property X is a consumer property and will be ignored by this producer")
/// are demoted to `debug`: every property goes to the client it belongs to, but librdkafka's
/// own list is longer than ours.
pub(crate) fn log(level: RDKafkaLogLevel, facility: &str, message: &str) {
    match level {
        _ if facility == "CONFWARN" => {
            tracing::debug!(target: "librdkafka", facility, "{message}");
        }
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => tracing::error!(target: "librdkafka", facility, "{message}"),
        RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", facility, "{message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: "librdkafka", facility, "{message}");
        }
        RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", facility, "{message}"),
    }
}

/// Forwards a librdkafka client error (a broker going away, a failed authentication) to
/// `tracing`. librdkafka retries these by itself; fatal ones also reach the consumer loop.
pub(crate) fn error(error: &KafkaError, reason: &str) {
    tracing::warn!(target: "librdkafka", %error, "{reason}");
}

/// The context of the producer: logging only.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ProducerLog;

impl ClientContext for ProducerLog {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self::error(&error, reason);
    }
}

/// Drops a librdkafka client on a thread of its own, so that a slow or stuck close never blocks
/// the caller.
pub(crate) fn drop_detached<T: Send + 'static>(client: T) {
    let spawned = std::thread::Builder::new()
        .name("amgi-kafka-drop".into())
        .spawn(move || drop(client));
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot spawn a thread to drop a Kafka client; leaking it");
    }
}
