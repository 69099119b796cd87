//! asyncfast's `mqtt` feature registers this server's command: `app run mqtt …`.

#[test]
fn asyncfast_registers_run_mqtt_with_its_feature() {
    let app = asyncfast::AsyncFast::empty();
    assert!(app.server_names().any(|name| name == "mqtt"));
}
