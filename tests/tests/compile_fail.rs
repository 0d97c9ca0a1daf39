//! Compile errors of `#[derive(Table)]` and `#[derive(FromRow)]`: one case
//! per message, each checked against its `.stderr` (regenerate with
//! `TRYBUILD=overwrite cargo test -p pgdbm-tests --test compile_fail`).

#[test]
fn derive_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
}
