//! Misuse of the derives is a compile error that points at the user's code (trybuild).
//! Regenerate the expected output with `TRYBUILD=overwrite` and review the diff.

#[test]
fn misuse_of_the_derives_fails_to_compile_at_the_users_span() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
