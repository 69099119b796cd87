//! asyncfast's `nats` feature registers this server's command: `app run nats …`.

#[test]
fn asyncfast_registers_run_nats_with_its_feature() {
    let app = asyncfast::AsyncFast::empty();
    assert!(app.server_names().any(|name| name == "nats"));
}
