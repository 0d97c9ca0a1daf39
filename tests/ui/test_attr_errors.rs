// #[pgdbm::test] points at what is wrong: a function that is not async,
// an unknown option, a bad isolation value, a missing argument.

#[pgdbm::test]
fn not_async(db: pgdbm::Database) {}

#[pgdbm::test(migration = "migrations")]
async fn unknown_option(db: pgdbm::Database) {}

#[pgdbm::test(isolation = "table")]
async fn bad_isolation(db: pgdbm::Database) {}

#[pgdbm::test]
async fn no_arguments() {}

fn main() {}
