//! Compile errors that teach: the derives' (`#[derive(Table)]`,
//! `#[derive(FromRow)]`) and the typed builder's (a value of the wrong type,
//! `None`, `find` without a primary key, a column type behind a feature).
//! One case per message, each checked against its `.stderr` (regenerate with
//! `TRYBUILD=overwrite cargo test -p pgdbm-tests --test compile_fail`).
//!
//! trybuild reports every case on the terminal itself, past the test
//! harness's capture, so the cases run in a child process of this test
//! binary and its report is shown only when a case fails.

use std::process::Command;

const CHILD: &str = "PGDBM_TRYBUILD_CHILD";

#[test]
fn compile_errors() {
    if std::env::var_os(CHILD).is_some() {
        trybuild::TestCases::new().compile_fail("ui/*.rs");
        return;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(exe)
        .args([
            "compile_errors",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .expect("running the trybuild cases in a child process");
    if !out.status.success() {
        panic!(
            "trybuild cases failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
    }
}
