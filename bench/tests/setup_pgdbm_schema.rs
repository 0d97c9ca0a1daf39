//! Set-up benchmark: 100 `#[pgdbm::test]`s with schema isolation (the
//! default) on the 20-migration set in migrations/pgdbm. Run by
//! test_setup.sh; see setup_common for what is logged.

#[macro_use]
mod setup_common;

macro_rules! tests {
    ($($name:ident),* $(,)?) => {
        pgdbm_tests!("pgdbm_schema", (migrations = "migrations/pgdbm"), $($name),*);
    };
}

hundred!(tests);
