//! What the three set-up benchmark targets share: the 100 test names and
//! the log of when each test's body ran.
//!
//! Each test appends `target test body_start_us body_end_us` (microseconds
//! since the Unix epoch) to the file `SETUP_BENCH_LOG` names, if set.
//! With one test thread, the gap between one test's body end and the next
//! one's body start is everything the framework does per test: the
//! previous test's tear-down and this one's set-up (test_setup.sh reports
//! it).

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch: comparable across the test threads
/// and with the script's own clock.
pub fn now_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_micros()
}

/// Logs one test's body, from `started` (its first statement) to now.
pub fn record(target: &str, test: &str, started: u128) {
    let ended = now_us();
    let Some(path) = std::env::var_os("SETUP_BENCH_LOG") else {
        return;
    };
    let line = format!("{target} {test} {started} {ended}\n");
    // One small write with O_APPEND: lines from parallel tests do not mix.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .expect("SETUP_BENCH_LOG is writable");
}

/// Calls `$each!(t00, .., t99)`: the 100 tests of a target.
macro_rules! hundred {
    ($each:ident) => {
        $each!(
            t00, t01, t02, t03, t04, t05, t06, t07, t08, t09, t10, t11, t12, t13, t14, t15, t16,
            t17, t18, t19, t20, t21, t22, t23, t24, t25, t26, t27, t28, t29, t30, t31, t32, t33,
            t34, t35, t36, t37, t38, t39, t40, t41, t42, t43, t44, t45, t46, t47, t48, t49, t50,
            t51, t52, t53, t54, t55, t56, t57, t58, t59, t60, t61, t62, t63, t64, t65, t66, t67,
            t68, t69, t70, t71, t72, t73, t74, t75, t76, t77, t78, t79, t80, t81, t82, t83, t84,
            t85, t86, t87, t88, t89, t90, t91, t92, t93, t94, t95, t96, t97, t98, t99
        );
    };
}

/// The pgdbm tests of a target: `$label` names it in the log, `$options`
/// are the `#[pgdbm::test]` options. Each writes its own rows and must see
/// only them (its schema or database is its own).
#[allow(unused_macros)] // setup_sqlx shares the rest of this module
macro_rules! pgdbm_tests {
    ($label:literal, $options:tt, $($name:ident),* $(,)?) => {$(
        #[pgdbm::test $options]
        async fn $name(db: pgdbm::Database) {
            let started = setup_common::now_us();
            let name = stringify!($name);
            let org: i64 = db
                .fetch_value(
                    "INSERT INTO {{tables.organizations}} (slug, name) VALUES ($1, $1) RETURNING id",
                    &[&name],
                )
                .await
                .unwrap();
            db.execute(
                "INSERT INTO {{tables.users}} (organization_id, email) VALUES ($1, $2)",
                &[&org, &format!("{name}@example.com")],
            )
            .await
            .unwrap();
            let emails: Vec<String> = db
                .fetch_all("SELECT email FROM {{tables.users}}", &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            assert_eq!(emails, [format!("{name}@example.com")]);
            setup_common::record($label, name, started);
        }
    )*};
}
