//! `cargo run --example params`: placeholders are parsed, the exact address wins over the
//! template, and an unparsable placeholder is rejected naming it.

mod common;

#[test]
fn placeholders_are_parsed_and_exact_addresses_win() {
    let stdout = common::stdout_of("params");
    let mut handled: Vec<&str> = stdout
        .lines()
        .filter(|line| !line.starts_with("rejected"))
        .collect();
    // Each address is its own queue, consumed concurrently: any order.
    handled.sort_unstable();
    assert_eq!(handled, ["order 42 in eu", "order 7 in us", "test order"]);
    assert_eq!(
        stdout.lines().last(),
        Some(
            "rejected: invalid value `x` for address placeholder `{id}`: invalid digit found in string"
        )
    );
}

#[test]
fn documents_itself_with_the_asyncapi_command() {
    let document = common::asyncapi_of("params");
    assert_eq!(
        common::address(&document, "OnOrder"),
        "orders.{region}.{id}"
    );
}
