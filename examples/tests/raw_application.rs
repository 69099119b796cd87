//! `cargo run --example raw_application`: the AMGI application of `docs/amgi.md` handles the
//! three messages it publishes, between lifespan startup and shutdown, then exits.

mod common;

#[test]
fn handles_its_three_messages_between_startup_and_shutdown() {
    let stdout = common::stdout_of("raw_application");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "lifespan: startup",
            r#"user.created: {"id":1,"email":"ada@example.com"} (c-1)"#,
            r#"user.created: {"id":2,"email":"grace@example.com"} (c-2)"#,
            r#"user.created: {"id":3,"email":"alan@example.com"} (c-3)"#,
            "lifespan: shutdown",
        ]
    );
}
