//! One repository function, written against `pgdbm::Executor`, called with
//! a `Database`, a `Conn` and a `Transaction` (and a savepoint).

use pgdbm::Executor;
use pgdbm::testing::TestDatabase;

#[derive(pgdbm::Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "accounts")]
struct Account {
    #[pgdbm(primary_key)]
    id: i64,
    owner: String,
    cents: i64,
}

/// Writes through the builder, reads through raw SQL, on whatever it gets.
async fn open_account(ex: &impl Executor, id: i64, owner: &str) -> pgdbm::Result<Account> {
    let account = Account {
        id,
        owner: owner.to_owned(),
        cents: 0,
    };
    ex.insert(&account).execute().await?;
    let n: i64 = ex
        .fetch_value(
            "SELECT count(*) FROM {{tables.accounts}} WHERE owner = $1",
            &[&owner],
        )
        .await?;
    assert_eq!(n, 1);
    Ok(ex.find::<Account>(&id).await?.expect("just inserted"))
}

async fn total(ex: &impl Executor) -> pgdbm::Result<i64> {
    ex.fetch_value("SELECT count(*) FROM {{tables.accounts}}", &[])
        .await
}

#[tokio::test]
async fn one_function_runs_on_the_manager_a_connection_and_a_transaction() {
    let test = TestDatabase::with_config(|c| c.with_schema("bank"))
        .await
        .unwrap();
    let db = test.db().clone();
    db.create_schema().await.unwrap();
    db.execute(
        "CREATE TABLE {{tables.accounts}} (id bigint PRIMARY KEY, owner text NOT NULL, cents bigint NOT NULL)",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(db.schema(), Executor::schema(&db));

    let a = open_account(&db, 1, "ann").await.unwrap();
    assert_eq!(a.owner, "ann");

    let conn = db.acquire().await.unwrap();
    open_account(&conn, 2, "bob").await.unwrap();
    assert_eq!(Executor::schema(&conn), Some("bank"));
    drop(conn);

    let mut tx = db.transaction().await.unwrap();
    open_account(&tx, 3, "cy").await.unwrap();
    {
        let savepoint = tx.transaction().await.unwrap();
        open_account(&savepoint, 4, "dee").await.unwrap();
        assert_eq!(total(&savepoint).await.unwrap(), 4);
        savepoint.rollback().await.unwrap();
    }
    assert_eq!(total(&tx).await.unwrap(), 3, "the savepoint's row is gone");
    tx.rollback().await.unwrap();
    assert_eq!(
        total(&db).await.unwrap(),
        2,
        "the transaction's row is gone"
    );

    // The futures are Send: a repository call can be spawned.
    let spawned = tokio::spawn(async move { total(&db).await })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(spawned, 2);
}

/// A row stream owns its SQL: the text may be built for the call and
/// dropped before the rows are read.
#[tokio::test]
async fn a_stream_outlives_the_sql_text_it_was_started_with() {
    use futures_util::TryStreamExt;
    let test = TestDatabase::new().await.unwrap();
    let stream = {
        let sql = format!("SELECT g FROM generate_series(1, {}) g", 3);
        test.fetch_stream(&sql, &[]).await.unwrap()
    };
    let rows: Vec<i32> = stream
        .map_ok(|r| r.get::<i32>(0))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows, [1, 2, 3]);
}
