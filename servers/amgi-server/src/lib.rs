//! # amgi-server
//!
//! What every AMGI server shares, written once: the [`RetryPolicy`] (`max_deliveries` and
//! backoff, and what a nack's [`NackRetry`](amgi_core::NackRetry) asks for), the
//! [`DeadLetterPolicy`] and [dead-letter headers](dead_letter_headers), settlement for brokers
//! that commit a position ([`OffsetTracker`]), [keyed lanes](run_in_lanes), shutdown
//! ([`StopSignal`], [`Deadlines`], [`shutdown_signal`] with a second Ctrl-C exiting at once), and
//! the [`ServerCommand`] trait through which a server offers `run <name>` to an application's
//! command line, with the options every server offers there ([`ServeArgs`]: `--batch-size`,
//! `--max-deliveries`, `--lanes`, `--drain-timeout`).
//!
//! A server is a fetch loop, a configuration and a mapping of ack, nack and send onto its
//! broker; `docs/servers.md` shows how to write one with this crate. The batch itself is run by
//! [`amgi_core::batch::BatchDispatcher`].
//!
//! ```
//! use std::time::Duration;
//! use amgi_core::batch::Outcome;
//! use amgi_server::{RetryDecision, RetryPolicy};
//!
//! let policy = RetryPolicy::new(3);
//! let outcome = Outcome::nacked("database down");
//! if let Outcome::Nacked { retry, .. } = outcome {
//!     assert!(matches!(policy.decide(1, retry), RetryDecision::Redeliver(_)));
//!     assert_eq!(policy.decide(3, retry), RetryDecision::DeadLetter);
//! }
//! ```
#![deny(missing_docs)]

/// `docs/servers.md`, the guide to writing a server: its code blocks are doc tests of this crate.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/servers.md")]
mod servers_guide {}

/// The README's example is a doc test too.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

mod args;
mod command;
mod dead_letter;
mod error;
mod lanes;
mod offsets;
mod retry;
mod shutdown;

pub use args::ServeArgs;
pub use command::{
    ADDRESS_SEPARATORS, AddressPart, AppChannels, ChannelAddress, ServeContext, ServerCommand,
    Subscription,
};
pub use dead_letter::{
    DEFAULT_DEAD_LETTER_SUFFIX, DeadLetterOrigin, DeadLetterPolicy, dead_letter_headers,
};
pub use error::{ServeError, ServeErrorKind};
pub use lanes::{LANE_KEY_HEADER, run_in_lanes};
pub use offsets::OffsetTracker;
pub use retry::{DEFAULT_MAX_DELIVERIES, RetryDecision, RetryPolicy, Settlement};
pub use shutdown::{
    DEFAULT_CLOSE_TIMEOUT, DEFAULT_DRAIN_TIMEOUT, Deadlines, FORCED_EXIT_CODE, StopSignal,
    shutdown_signal,
};
