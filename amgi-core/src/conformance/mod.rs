//! The AMGI conformance suite (feature `conformance`).
//!
//! A server crate proves it follows the specification by implementing [`Harness`] in its tests
//! and calling [`run_all`] (or the single checks) against a real broker. Each check starts the
//! server with a probe application on fresh addresses, publishes messages from outside, and
//! checks what the application saw and what the server did with its answers:
//!
//! | check | what it proves |
//! |---|---|
//! | [`ack_exactly_once`] | every published message is delivered; a second ack of the same message is refused with [`SendErrorKind::AlreadyAcked`](crate::SendErrorKind); acked messages are not delivered again |
//! | [`unacknowledged_is_redelivered`] | a message the application leaves unanswered is treated as nacked and delivered again |
//! | [`nack_redelivers_then_dead_letters`] | a nacked message is delivered exactly `max_deliveries` times, then appears on the dead-letter address with its payload and the reason header |
//! | [`send_round_trip`] | `message.send` arrives at its address with headers (order and repeats kept, binary values intact), payload and bindings |
//! | [`lifespan_order`] | `lifespan.startup` comes before the first batch and `lifespan.shutdown` after the last |
//! | [`failing_startup_stops_the_server`] | `lifespan.startup.failed` stops the server with the application's message, and no batch is delivered |
//! | [`shutdown_waits_for_in_flight`] | graceful shutdown waits for a batch in progress, whose ack still counts |
//!
//! ```no_run
//! # async fn demo(harness: impl amgi_core::conformance::Harness) {
//! amgi_core::conformance::run_all(&harness).await.expect("server conforms");
//! # }
//! ```

mod harness;
mod probe;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

pub use harness::{BoxError, BoxFuture, Harness, NackPolicy, RunningServer};
use probe::{Behaviour, Probe};

use crate::{BoxApplication, Headers, MessageSend, SendErrorKind, dead_letter};

/// A conformance check that failed: which check and why.
#[derive(Debug, thiserror::Error)]
#[error("conformance check `{check}` failed: {reason}")]
pub struct ConformanceFailure {
    /// Name of the check.
    pub check: &'static str,
    /// What was wrong.
    pub reason: String,
}

struct Check<'h, H: ?Sized> {
    name: &'static str,
    harness: &'h H,
}

impl<H: Harness + ?Sized> Check<'_, H> {
    fn fail(&self, reason: impl Into<String>) -> ConformanceFailure {
        ConformanceFailure {
            check: self.name,
            reason: reason.into(),
        }
    }

    fn ensure(
        &self,
        condition: bool,
        reason: impl FnOnce() -> String,
    ) -> Result<(), ConformanceFailure> {
        if condition {
            Ok(())
        } else {
            Err(self.fail(reason()))
        }
    }

    async fn address(&self, purpose: &str) -> Result<String, ConformanceFailure> {
        self.bounded("creating an address", self.harness.address(purpose))
            .await?
            .map_err(|e| self.fail(format!("harness could not create an address: {e}")))
    }

    async fn start(
        &self,
        probe: &Arc<Probe>,
        addresses: Vec<String>,
    ) -> Result<Box<dyn RunningServer>, ConformanceFailure> {
        let app = BoxApplication::new(Arc::clone(probe));
        self.bounded("the server to start", self.harness.start(app, addresses))
            .await?
            .map_err(|e| self.fail(format!("server failed to start: {e}")))
    }

    async fn publish(&self, message: MessageSend) -> Result<(), ConformanceFailure> {
        self.bounded("a publish", self.harness.publish(message))
            .await?
            .map_err(|e| self.fail(format!("publish failed: {e}")))
    }

    async fn stop(&self, server: Box<dyn RunningServer>) -> Result<(), ConformanceFailure> {
        self.bounded("the server to shut down", server.shutdown())
            .await?
            .map_err(|e| self.fail(format!("shutdown failed: {e}")))
    }

    async fn wait(
        &self,
        probe: &Probe,
        what: &str,
        condition: impl Fn(&probe::Record) -> bool,
    ) -> Result<(), ConformanceFailure> {
        probe
            .wait_for(self.harness.timeout(), what, condition)
            .await
            .map_err(|e| self.fail(e))
    }

    async fn bounded<T>(
        &self,
        what: &str,
        future: impl std::future::Future<Output = T>,
    ) -> Result<T, ConformanceFailure> {
        let timeout = self.harness.timeout();
        tokio::time::timeout(timeout, future).await.map_err(|_| {
            self.fail(format!(
                "timed out after {:.1} s waiting for {what}",
                timeout.as_secs_f64()
            ))
        })
    }
}

fn text(address: &str, body: &str) -> MessageSend {
    MessageSend::new(address).payload(Bytes::copy_from_slice(body.as_bytes()))
}

fn deliveries_of(record: &probe::Record, address: &str) -> usize {
    record
        .deliveries
        .iter()
        .filter(|d| d.address == address)
        .count()
}

/// Every published message is delivered once and acked once; a second ack is refused; acked
/// messages are not delivered again.
pub async fn ack_exactly_once<H: Harness + ?Sized>(harness: &H) -> Result<(), ConformanceFailure> {
    const COUNT: usize = 5;
    let check = Check {
        name: "ack_exactly_once",
        harness,
    };
    let address = check.address("ack").await?;
    let probe = Probe::new(vec![(address.clone(), Behaviour::AckTwice)]);
    let server = check.start(&probe, vec![address.clone()]).await?;
    for i in 0..COUNT {
        check
            .publish(text(&address, &format!("message {i}")))
            .await?;
    }
    check
        .wait(&probe, "every message to be delivered", |r| {
            deliveries_of(r, &address) >= COUNT
        })
        .await?;
    // A message published after the others is delivered after any redelivery of theirs would be.
    check.publish(text(&address, "sentinel")).await?;
    check
        .wait(&probe, "the sentinel message", |r| {
            r.deliveries
                .iter()
                .any(|d| d.payload.as_deref() == Some(b"sentinel".as_slice()))
        })
        .await?;
    check.stop(server).await?;
    let record = probe.record();
    let mut payloads: Vec<_> = record
        .deliveries
        .iter()
        .map(|d| d.payload.clone())
        .collect();
    let delivered = payloads.len();
    payloads.sort();
    payloads.dedup();
    check.ensure(
        delivered == COUNT + 1 && payloads.len() == COUNT + 1,
        || {
            format!(
                "expected {} distinct deliveries, saw {delivered} ({} distinct)",
                COUNT + 1,
                payloads.len()
            )
        },
    )?;
    let refused = record
        .send_errors
        .iter()
        .filter(|k| **k == SendErrorKind::AlreadyAcked)
        .count();
    check.ensure(refused == COUNT + 1, || {
        format!(
            "every second ack must be refused with AlreadyAcked; got {:?}",
            record.failures
        )
    })?;
    check.ensure(record.send_errors.len() == refused, || {
        format!("unexpected send errors: {:?}", record.failures)
    })
}

/// A message the application leaves unanswered is treated as nacked and delivered again.
pub async fn unacknowledged_is_redelivered<H: Harness + ?Sized>(
    harness: &H,
) -> Result<(), ConformanceFailure> {
    let check = Check {
        name: "unacknowledged_is_redelivered",
        harness,
    };
    check.ensure(harness.nack_policy().max_deliveries >= 2, || {
        "the nack policy must allow at least two deliveries".into()
    })?;
    let address = check.address("unacked").await?;
    let probe = Probe::new(vec![(address.clone(), Behaviour::IgnoreFirst)]);
    let server = check.start(&probe, vec![address.clone()]).await?;
    check.publish(text(&address, "left unanswered")).await?;
    check
        .wait(
            &probe,
            "the unanswered message to be delivered again and acked",
            |r| deliveries_of(r, &address) >= 2 && r.log.iter().any(|l| l == "acked"),
        )
        .await?;
    check.stop(server).await
}

/// A nacked message is delivered exactly `max_deliveries` times, then dead-lettered with its
/// payload and the reason header.
pub async fn nack_redelivers_then_dead_letters<H: Harness + ?Sized>(
    harness: &H,
) -> Result<(), ConformanceFailure> {
    const REASON: &str = "conformance: rejected on purpose";
    let check = Check {
        name: "nack_redelivers_then_dead_letters",
        harness,
    };
    let policy = harness.nack_policy();
    let address = check.address("nack").await?;
    let max = policy.max_deliveries as usize;
    let Some(dead_letter_address) = policy.dead_letter_address.map(|f| f(&address)) else {
        let probe = Probe::new(vec![(address.clone(), Behaviour::Nack(REASON))]);
        let server = check.start(&probe, vec![address.clone()]).await?;
        check.publish(text(&address, "rejected")).await?;
        check
            .wait(&probe, "every redelivery of the nacked message", |r| {
                deliveries_of(r, &address) >= max
            })
            .await?;
        return check.stop(server).await;
    };
    let probe = Probe::new(vec![
        (address.clone(), Behaviour::Nack(REASON)),
        (dead_letter_address.clone(), Behaviour::Ack),
    ]);
    let server = check
        .start(&probe, vec![address.clone(), dead_letter_address.clone()])
        .await?;
    check.publish(text(&address, "rejected")).await?;
    check
        .wait(&probe, "the message on the dead-letter address", |r| {
            deliveries_of(r, &dead_letter_address) >= 1
        })
        .await?;
    check.stop(server).await?;
    let record = probe.record();
    let delivered = deliveries_of(&record, &address);
    check.ensure(delivered == max, || {
        format!("expected exactly {max} deliveries before dead-lettering, saw {delivered}")
    })?;
    let Some(dead) = record
        .deliveries
        .iter()
        .find(|d| d.address == dead_letter_address)
    else {
        return Err(check.fail("the dead letter vanished from the record"));
    };
    check.ensure(
        dead.payload.as_deref() == Some(b"rejected".as_slice()),
        || format!("dead letter payload changed: {:?}", dead.payload),
    )?;
    let reason = dead
        .headers
        .get(dead_letter::REASON_HEADER.as_bytes())
        .map(|v| String::from_utf8_lossy(v).into_owned());
    check.ensure(
        reason.as_deref().is_some_and(|r| r.contains(REASON)),
        || {
            format!(
                "dead letter must carry header `{}` with the nack reason; headers: {:?}",
                dead_letter::REASON_HEADER,
                dead.headers
            )
        },
    )
}

/// `message.send` arrives at its address with headers, payload and bindings intact.
pub async fn send_round_trip<H: Harness + ?Sized>(harness: &H) -> Result<(), ConformanceFailure> {
    let check = Check {
        name: "send_round_trip",
        harness,
    };
    let inbound = check.address("trigger").await?;
    let outbound = check.address("sent").await?;
    let headers = Headers::new()
        .with("x-repeated", "first")
        .with("x-binary", Bytes::from_static(&[0, 159, 255]))
        .with("x-repeated", "second");
    let payload = Bytes::from_static(&[0, 1, 2, 254, 255]);
    let mut message = MessageSend::new(outbound.as_str())
        .headers(headers.clone())
        .payload(payload.clone());
    if let Some(binding) = harness.round_trip_binding() {
        message = message.binding(binding);
    }
    let bindings = message.bindings.clone();
    let probe = Probe::new(vec![(inbound.clone(), Behaviour::Forward(message))]);
    let server = check
        .start(&probe, vec![inbound.clone(), outbound.clone()])
        .await?;
    check.publish(text(&inbound, "go")).await?;
    check
        .wait(&probe, "the sent message to arrive", |r| {
            deliveries_of(r, &outbound) >= 1
        })
        .await?;
    check.stop(server).await?;
    let record = probe.record();
    check.ensure(record.failures.is_empty(), || {
        format!("message.send failed: {:?}", record.failures)
    })?;
    let Some(arrived) = record.deliveries.iter().find(|d| d.address == outbound) else {
        return Err(check.fail("the sent message vanished from the record"));
    };
    let kept: Vec<_> = arrived
        .headers
        .iter()
        .filter(|(name, _)| headers.contains(name))
        .cloned()
        .collect();
    check.ensure(kept == headers.as_slice(), || {
        format!(
            "headers changed in transit: sent {headers:?}, received {:?}",
            arrived.headers
        )
    })?;
    check.ensure(arrived.payload.as_ref() == Some(&payload), || {
        format!("payload changed in transit: {:?}", arrived.payload)
    })?;
    harness
        .check_round_trip_binding(&bindings, arrived.binding.as_ref())
        .map_err(|e| check.fail(format!("binding changed in transit: {e}")))
}

/// `lifespan.startup` comes before the first batch, `lifespan.shutdown` after the last.
pub async fn lifespan_order<H: Harness + ?Sized>(harness: &H) -> Result<(), ConformanceFailure> {
    let check = Check {
        name: "lifespan_order",
        harness,
    };
    let address = check.address("lifespan").await?;
    let probe = Probe::new(Vec::new());
    let server = check.start(&probe, vec![address.clone()]).await?;
    check.ensure(probe.record().log == ["startup"], || {
        format!(
            "start must return after startup only; log: {:?}",
            probe.record().log
        )
    })?;
    for i in 0..3 {
        check.publish(text(&address, &format!("m{i}"))).await?;
    }
    check
        .wait(&probe, "three acked messages", |r| {
            r.log.iter().filter(|l| *l == "acked").count() >= 3
        })
        .await?;
    check.stop(server).await?;
    let log = probe.record().log.clone();
    check.ensure(
        log.first().map(String::as_str) == Some("startup")
            && log.last().map(String::as_str) == Some("shutdown")
            && log
                .iter()
                .filter(|l| *l == "startup" || *l == "shutdown")
                .count()
                == 2,
        || format!("expected startup, messages, shutdown; log: {log:?}"),
    )
}

/// `lifespan.startup.failed` stops the server with the application's message before any batch.
pub async fn failing_startup_stops_the_server<H: Harness + ?Sized>(
    harness: &H,
) -> Result<(), ConformanceFailure> {
    const MESSAGE: &str = "conformance: startup refused";
    let check = Check {
        name: "failing_startup_stops_the_server",
        harness,
    };
    let address = check.address("startup").await?;
    check.publish(text(&address, "never handled")).await?;
    let probe = Probe::failing_startup(MESSAGE);
    let app = BoxApplication::new(Arc::clone(&probe));
    let started = check
        .bounded(
            "the server to report startup failure",
            harness.start(app, vec![address]),
        )
        .await?;
    match started {
        Ok(server) => {
            let _ = check.stop(server).await;
            Err(check.fail("the server started although lifespan startup failed"))
        }
        Err(error) => {
            let text = error.to_string();
            check.ensure(text.contains(MESSAGE), || {
                format!("the startup error must include the application's message; got `{text}`")
            })?;
            let record = probe.record();
            check.ensure(record.deliveries.is_empty(), || {
                format!(
                    "a batch was delivered after startup failed: {:?}",
                    record.log
                )
            })
        }
    }
}

/// Graceful shutdown waits for a batch in progress, and that batch's ack counts.
pub async fn shutdown_waits_for_in_flight<H: Harness + ?Sized>(
    harness: &H,
) -> Result<(), ConformanceFailure> {
    let check = Check {
        name: "shutdown_waits_for_in_flight",
        harness,
    };
    let address = check.address("inflight").await?;
    let probe = Probe::new(vec![(address.clone(), Behaviour::Gated)]);
    let server = check.start(&probe, vec![address.clone()]).await?;
    check.publish(text(&address, "slow")).await?;
    check
        .wait(&probe, "the message to be in progress", |r| {
            r.log.iter().any(|l| l == "gated")
        })
        .await?;
    let mut shutdown = tokio::spawn(server.shutdown());
    // While the handler is held, shutdown must not finish (nor run lifespan shutdown).
    let early = tokio::time::timeout(Duration::from_millis(300), &mut shutdown).await;
    check.ensure(early.is_err(), || {
        "shutdown finished while a batch was still in progress".into()
    })?;
    check.ensure(!probe.record().log.iter().any(|l| l == "shutdown"), || {
        "lifespan.shutdown was sent while a batch was still in progress".into()
    })?;
    probe.open_gate();
    let joined = check.bounded("the server to shut down", shutdown).await?;
    joined
        .map_err(|e| check.fail(format!("shutdown task failed: {e}")))?
        .map_err(|e| check.fail(format!("shutdown failed: {e}")))?;
    let record = probe.record();
    let acked = record.log.iter().position(|l| l == "acked");
    let shutdown_at = record.log.iter().position(|l| l == "shutdown");
    check.ensure(
        matches!((acked, shutdown_at), (Some(a), Some(s)) if a < s),
        || format!("the in-flight message must be acked before lifespan shutdown; log: {:?}, errors: {:?}", record.log, record.failures),
    )
}

/// Runs every check in turn, stopping at the first failure.
pub async fn run_all<H: Harness + ?Sized>(harness: &H) -> Result<(), ConformanceFailure> {
    ack_exactly_once(harness).await?;
    unacknowledged_is_redelivered(harness).await?;
    nack_redelivers_then_dead_letters(harness).await?;
    send_round_trip(harness).await?;
    lifespan_order(harness).await?;
    failing_startup_stops_the_server(harness).await?;
    shutdown_waits_for_in_flight(harness).await
}
