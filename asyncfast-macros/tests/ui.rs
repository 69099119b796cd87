//! Compile-time behaviour of the macros; regenerate `.stderr` files with `TRYBUILD=overwrite`.

#[test]
fn channel() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/channel/pass/*.rs");
    cases.compile_fail("tests/ui/channel/fail/*.rs");
}

#[test]
fn message() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/message/pass/*.rs");
    cases.compile_fail("tests/ui/message/fail/*.rs");
}
