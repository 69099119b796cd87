//! Procedural macros of [AsyncFast](https://docs.rs/asyncfast): `#[channel]`, `handler!` and
//! `#[derive(Message)]`.
//!
//! Use them through `asyncfast` (`use asyncfast::prelude::*;`), not directly. The macros only
//! parse, check and wire: extraction, routing and encoding live in the `asyncfast` library. Every
//! mistake they find is reported on the span of what is wrong, all at once.

use proc_macro::TokenStream;

mod attrs;
mod channel;
mod handler;
mod message;
// The address-template grammar, shared with the router of `asyncfast` (one implementation).
#[path = "../../asyncfast/src/router/template.rs"]
mod template;

/// Marks a function as the handler of a channel; see `asyncfast::channel`.
#[proc_macro_attribute]
pub fn channel(args: TokenStream, item: TokenStream) -> TokenStream {
    channel::expand(args.into(), item.into()).into()
}

/// Names the handler type of a `#[channel]` function; see `asyncfast::handler`.
#[proc_macro]
pub fn handler(input: TokenStream) -> TokenStream {
    handler::expand(input.into()).into()
}

/// Derives `asyncfast::Message`; see `asyncfast::Message`.
#[proc_macro_derive(Message, attributes(message, payload, header, binding))]
pub fn derive_message(input: TokenStream) -> TokenStream {
    message::expand(input.into()).into()
}
