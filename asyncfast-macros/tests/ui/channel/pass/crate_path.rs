// `crate = path` for crates that re-export asyncfast.
mod reexport {
    pub use asyncfast as framework;
}

use reexport::framework::prelude::{Payload, channel, handler};

#[channel("renamed", crate = reexport::framework)]
async fn renamed(body: Payload<String>) -> Result<(), String> {
    let _ = body;
    Ok(())
}

fn main() {
    // The function stays callable as written.
    let _future = renamed(Payload(String::from("direct call")));
    let app = reexport::framework::AsyncFast::empty().channel(handler!(renamed));
    assert_eq!(app.channels().count(), 1);
}
