//! Examples live in this package; run them with `cargo run --example NAME`.
