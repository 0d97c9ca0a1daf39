//! Set-up benchmark: 100 `#[sqlx::test]`s on the same 20 migrations as
//! plain SQL (migrations/sqlx, generated from migrations/pgdbm and checked
//! by tests/migrations_match.rs). Each test gets a new database with every
//! migration run into it. Needs DATABASE_URL; run by test_setup.sh.

#[macro_use]
mod setup_common;

use sqlx::PgPool;

macro_rules! tests {
    ($($name:ident),* $(,)?) => {$(
        #[sqlx::test(migrations = "migrations/sqlx")]
        async fn $name(pool: PgPool) {
            let started = setup_common::now_us();
            let name = stringify!($name);
            let org: i64 = sqlx::query_scalar(
                "INSERT INTO organizations (slug, name) VALUES ($1, $1) RETURNING id",
            )
            .bind(name)
            .fetch_one(&pool)
            .await
            .unwrap();
            sqlx::query("INSERT INTO users (organization_id, email) VALUES ($1, $2)")
                .bind(org)
                .bind(format!("{name}@example.com"))
                .execute(&pool)
                .await
                .unwrap();
            // Only this test's row: the database is its own.
            let emails: Vec<String> = sqlx::query_scalar("SELECT email FROM users")
                .fetch_all(&pool)
                .await
                .unwrap();
            assert_eq!(emails, [format!("{name}@example.com")]);
            setup_common::record("sqlx", name, started);
        }
    )*};
}

hundred!(tests);
