//! Set-up benchmark: 100 `#[pgdbm::test]`s with database isolation (each
//! a clone of a template migrated once) on the 20-migration set in
//! migrations/pgdbm. Run by test_setup.sh; see setup_common for what is
//! logged.

#[macro_use]
mod setup_common;

macro_rules! tests {
    ($($name:ident),* $(,)?) => {
        pgdbm_tests!("pgdbm_database", (migrations = "migrations/pgdbm", isolation = "database"), $($name),*);
    };
}

hundred!(tests);
