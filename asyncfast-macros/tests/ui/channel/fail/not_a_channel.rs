use asyncfast::prelude::*;

async fn plain() {}

fn main() {
    let _ = AsyncFast::empty().channel(handler!(plain));
}
