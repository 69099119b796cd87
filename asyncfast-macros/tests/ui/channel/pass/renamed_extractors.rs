// Extractors are recognised by type: renamed imports and full paths work as the prelude's names.
use asyncfast::Handler;
use asyncfast::Header as H;
use asyncfast::Param as P;
use asyncfast::{AsyncFast, channel, handler};

#[channel("orders.{region}")]
async fn on_order(
    correlation_id: H<String>,
    region: P<String>,
    #[header(alias = "Idempotency-Key", default = None)] key: asyncfast::extract::Header<Option<String>>,
    body: asyncfast::extract::Payload<u64>,
    again: asyncfast::extract::Dep<asyncfast::Payload<u64>>,
) {
    let _ = (correlation_id, region, key, body, again);
}

fn main() {
    let specs = handler!(on_order).meta().param_specs();
    assert_eq!(specs[0].header(), "correlation-id");
    assert_eq!(specs[1].placeholder_index(), Some(0));
    assert_eq!(specs[2].header(), "Idempotency-Key");
    AsyncFast::empty().channel(handler!(on_order)).validate().unwrap();
}
