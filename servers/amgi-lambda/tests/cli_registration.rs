//! asyncfast's `lambda` feature registers this server's command: `app run lambda`.

#[test]
fn asyncfast_registers_run_lambda_with_its_feature() {
    let app = asyncfast::AsyncFast::empty();
    assert!(app.server_names().any(|name| name == "lambda"));
}
