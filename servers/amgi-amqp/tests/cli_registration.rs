//! asyncfast's `amqp` feature registers this server's command: `app run amqp …`.

#[test]
fn asyncfast_registers_run_amqp_with_its_feature() {
    let app = asyncfast::AsyncFast::empty();
    assert!(app.server_names().any(|name| name == "amqp"));
}
