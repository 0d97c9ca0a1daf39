//! Set-up benchmark: 100 `#[pgdbm::test]`s with database isolation (each
//! a clone of a template migrated once) on the 20-migration set in
//! migrations/pgdbm. Run by test_setup.sh; see setup_common for what is
//! logged.

#[macro_use]
mod setup_common;

use pgdbm::Database;

macro_rules! tests {
    ($($name:ident),* $(,)?) => {$(
        #[pgdbm::test(migrations = "migrations/pgdbm", isolation = "database")]
        async fn $name(db: Database) {
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
            // Only this test's row: the database is its own.
            let emails: Vec<String> = db
                .fetch_all("SELECT email FROM {{tables.users}}", &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            assert_eq!(emails, [format!("{name}@example.com")]);
            setup_common::record("pgdbm_database", name, started);
        }
    )*};
}

hundred!(tests);
