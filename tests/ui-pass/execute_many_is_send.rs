//! `execute_many`'s future is `Send`: it runs on a spawned task. A separate
//! program (built by trybuild from `tests/errors.rs`), so that while it is
//! not `Send` this one test fails instead of the whole test binary.

use pgdbm::ToSql;
use pgdbm::testing::TestDatabase;

#[tokio::main]
async fn main() {
    let test = TestDatabase::new().await.unwrap();
    test.execute("CREATE TABLE t (id int PRIMARY KEY)", &[])
        .await
        .unwrap();
    let db = test.db().clone();
    let inserted = tokio::spawn(async move {
        let ids: Vec<i32> = (0..50).collect();
        let rows: Vec<[&(dyn ToSql + Sync); 1]> = ids.iter().map(|i| [i as _]).collect();
        db.execute_many("INSERT INTO t (id) VALUES ($1)", &rows)
            .await
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(inserted, 50);
    let count: i64 = test
        .fetch_value("SELECT count(*) FROM t", &[])
        .await
        .unwrap();
    assert_eq!(count, 50);
}
