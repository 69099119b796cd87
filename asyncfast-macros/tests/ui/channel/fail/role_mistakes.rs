// Mistakes that depend on what a parameter's type reads (`FromMessage::ROLE`), whatever it is
// called: `#[header]` on a type that is not a header (even one named `Header`), a placeholder
// whose parameter is not a `Param`, a header or a `Param` without a plain name, and
// `#[header(default = …)]` on a payload.
use asyncfast::Header as H;
use asyncfast::prelude::*;

mod mine {
    use asyncfast::MessageContext;
    use asyncfast::extract::{FromMessage, ParamSpec};

    /// Not asyncfast's `Header`.
    pub struct Header(pub String);

    impl FromMessage for Header {
        type Rejection = std::convert::Infallible;

        async fn from_message(
            ctx: &mut MessageContext<'_>,
            _spec: &'static ParamSpec,
        ) -> Result<Self, Self::Rejection> {
            Ok(Header(ctx.address().to_owned()))
        }
    }
}

#[channel("orders")]
async fn header_on_lookalike(#[header(alias = "X-Key")] key: mine::Header) {
    let _ = key;
}

#[channel("orders.{region}")]
async fn placeholder_read_as_header(region: H<String>) {
    let _ = region;
}

#[channel("orders")]
async fn unnamed_header(H(x): H<u8>) {
    let _ = x;
}

#[channel("orders.{id}")]
async fn unnamed_param(id: Param<u64>, Param(y): Param<u8>) {
    let _ = (id, y);
}

#[channel("orders")]
async fn default_on_payload(#[header(default = 3)] n: Payload<u32>) {
    let _ = n;
}

fn main() {}
