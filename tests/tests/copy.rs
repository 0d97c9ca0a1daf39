//! Binary COPY in and out against a real server: every method, bad input,
//! transactions, schemas, cancel safety and a 100,000-row round trip.

use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt, stream};
use pgdbm::testing::TestDatabase;
use pgdbm::{
    Database, Error, FromRow, IsolationLevel, SharedPool, Table, ToSql, TransactionOptions,
};

/// A row of `people`, for the typed COPY methods.
#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "people")]
struct Person {
    #[pgdbm(primary_key, generated)]
    id: i64,
    name: String,
    age: Option<i32>,
}

/// Read by column name from a query.
#[derive(FromRow, Debug, PartialEq)]
struct NameAge {
    name: String,
    age: Option<i32>,
}

type Value<'a> = &'a (dyn ToSql + Sync);

/// The `items` table as every test starts with it.
const ITEMS_TABLE: &str =
    "CREATE TABLE {{tables.items}} (id int8 PRIMARY KEY, name text NOT NULL, qty int4)";

async fn with_tables(db: &Database) {
    db.execute(ITEMS_TABLE, &[]).await.unwrap();
    db.execute(
        "CREATE TABLE {{tables.people}} (id bigserial PRIMARY KEY, name text NOT NULL, age int4)",
        &[],
    )
    .await
    .unwrap();
}

/// A database whose pool has exactly one connection, so that every COPY
/// and every check after it runs on the same connection.
async fn single_connection() -> TestDatabase {
    let test = TestDatabase::with_config(|c| c.with_pool_size(1, 1))
        .await
        .unwrap();
    with_tables(&test).await;
    test
}

async fn count(db: &Database, table: &str) -> i64 {
    db.fetch_value(&format!("SELECT count(*) FROM {{{{tables.{table}}}}}"), &[])
        .await
        .unwrap()
}

/// `err` is a parameter error whose message starts with `prefix` (the row
/// and column) and mentions `mentions` (the cause).
#[track_caller]
fn assert_parameter_error(err: &Error, prefix: &str, mentions: &str) {
    match err {
        Error::Parameter(e) => {
            assert!(e.message().starts_with(prefix), "{err}");
            assert!(e.message().contains(mentions), "{err}");
        }
        other => panic!("expected Parameter, got {other:?}"),
    }
}

/// The backend of the pool's (only) connection, through `acquire`; also
/// checks that no COPY left a transaction open on it (one that wrote would
/// have an xid).
async fn pooled_pid(db: &Database) -> i32 {
    let conn = db.acquire().await.unwrap();
    let row = conn
        .fetch_one("SELECT pg_backend_pid(), txid_current_if_assigned()", &[])
        .await
        .unwrap()
        .unwrap();
    let xid: Option<i64> = row.get(1);
    assert_eq!(xid, None, "a transaction was left open on the connection");
    row.get(0)
}

/// Records `(id, name, qty)` for ids `from..from + n`.
fn items(from: i64, n: i64) -> Vec<(i64, String, Option<i32>)> {
    (from..from + n)
        .map(|id| (id, format!("item {id}"), i32::try_from(id % 7).ok()))
        .collect()
}

fn as_records(rows: &[(i64, String, Option<i32>)]) -> impl Iterator<Item = [Value<'_>; 3]> {
    rows.iter()
        .map(|(id, name, qty)| [id as Value<'_>, name as Value<'_>, qty as Value<'_>])
}

const ITEM_COLUMNS: &[&str] = &["id", "name", "qty"];

/// The COPY failed without writing anything, and the one pooled connection
/// is the same as before and still works, for COPY too.
async fn assert_unharmed(db: &Database, pid: i32, items_before: i64) {
    assert_eq!(count(db, "items").await, items_before);
    assert_eq!(pooled_pid(db).await, pid, "the connection was replaced");
    let extra = items(1_000_000, 2);
    let n = db
        .copy_records_to_table("items", ITEM_COLUMNS, as_records(&extra))
        .await
        .unwrap();
    assert_eq!(n, 2);
    db.execute("DELETE FROM {{tables.items}} WHERE id >= 1000000", &[])
        .await
        .unwrap();
    assert_eq!(pooled_pid(db).await, pid);
}

#[tokio::test]
async fn copy_records_to_table_writes_every_record() {
    let test = TestDatabase::new().await.unwrap();
    with_tables(&test).await;
    let rows = items(1, 50);
    let n = test
        .copy_records_to_table("items", ITEM_COLUMNS, as_records(&rows))
        .await
        .unwrap();
    assert_eq!(n, 50);
    let back: Vec<(i64, String, Option<i32>)> = test
        .fetch_all_as(
            "SELECT id, name, qty FROM {{tables.items}} ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(back, rows);

    // Columns in another order, one left to its default (NULL), records as
    // vectors, the table named with its case folded.
    let n = test
        .copy_records_to_table(
            "ITEMS",
            &["name", "id"],
            vec![
                vec![&"x" as Value<'_>, &100i64 as Value<'_>],
                vec![&"y", &101i64],
            ],
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    let qty: Option<i32> = test
        .fetch_value("SELECT qty FROM {{tables.items}} WHERE id = 100", &[])
        .await
        .unwrap();
    assert_eq!(qty, None);

    // No records: nothing copied.
    let none: Vec<[Value<'_>; 3]> = Vec::new();
    assert_eq!(
        test.copy_records_to_table("items", ITEM_COLUMNS, none)
            .await
            .unwrap(),
        0
    );
    assert_eq!(count(&test, "items").await, 52);
}

#[tokio::test]
async fn empty_column_list_means_every_column() {
    let test = TestDatabase::new().await.unwrap();
    with_tables(&test).await;
    let rows = items(1, 3);
    let n = test
        .copy_records_to_table("items", &[], as_records(&rows))
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(count(&test, "items").await, 3);

    // Generated columns are left out, as COPY without a column list does.
    test.execute(
        "CREATE TABLE {{tables.gen}} (a int4, b int4 GENERATED ALWAYS AS (a * 2) STORED, c text)",
        &[],
    )
    .await
    .unwrap();
    let n = test
        .copy_records_to_table("gen", &[], [[&21i32 as Value<'_>, &"c"]])
        .await
        .unwrap();
    assert_eq!(n, 1);
    let (b, c): (i32, String) = test
        .fetch_all_as("SELECT b, c FROM {{tables.gen}}", &[])
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!((b, c.as_str()), (42, "c"));
    let err = test
        .copy_records_to_table("missing", &[], [[&1i32 as Value<'_>]])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UndefinedTable(_)), "{err:?}");
}

/// A generated column named in the list is refused before any COPY is
/// sent (the server would refuse the COPY before copy mode, which puts
/// tokio-postgres out of step, rust-postgres#789): a typed error, the same
/// connection, and a transaction it ran in still usable.
#[tokio::test]
async fn a_generated_column_in_the_list_is_refused_before_the_copy() {
    let test = single_connection().await;
    test.execute(
        "CREATE TABLE {{tables.gen}} (a int4, b int4 GENERATED ALWAYS AS (a * 2) STORED)",
        &[],
    )
    .await
    .unwrap();
    let pid = pooled_pid(&test).await;
    let err = test
        .copy_records_to_table("gen", &["a", "b"], [[&1i32 as Value<'_>, &2i32]])
        .await
        .unwrap_err();
    match &err {
        Error::InvalidIdentifier(e) => assert!(e.to_string().contains("generated"), "{e}"),
        other => panic!("expected InvalidIdentifier, got {other:?}"),
    }
    assert_unharmed(&test, pid, 0).await;

    let tx = test.transaction().await.unwrap();
    let err = tx
        .copy_records_to_table("gen", &["a", "b"], [[&1i32 as Value<'_>, &2i32]])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidIdentifier(_)), "{err:?}");
    let n = tx
        .copy_records_to_table("gen", &["a"], [[&1i32 as Value<'_>]])
        .await
        .unwrap();
    assert_eq!(n, 1);
    tx.commit().await.unwrap();
    assert_eq!(count(&test, "gen").await, 1);
    assert_eq!(pooled_pid(&test).await, pid, "the connection was replaced");
}

#[tokio::test]
async fn copy_in_copy_in_stream_and_copy_out_models() {
    let test = TestDatabase::new().await.unwrap();
    with_tables(&test).await;
    let people: Vec<Person> = (0..20)
        .map(|i| Person {
            id: -1, // generated: not sent
            name: format!("p{i}"),
            age: (i % 3 != 0).then_some(i),
        })
        .collect();
    assert_eq!(test.copy_in(&people).await.unwrap(), 20);

    let more = stream::iter(20..30).map(|i| Person {
        id: 0,
        name: format!("p{i}"),
        age: Some(i),
    });
    assert_eq!(test.copy_in_stream(more).await.unwrap(), 10);

    let mut back: Vec<Person> = test
        .copy_out::<Person>()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    back.sort_by_key(|p| p.id);
    assert_eq!(back.len(), 30);
    assert_eq!(
        back.iter().map(|p| p.id).collect::<Vec<_>>(),
        (1..=30).collect::<Vec<i64>>(),
        "ids come from the sequence"
    );
    for (i, p) in back.iter().enumerate() {
        let i = i as i32;
        assert_eq!(p.name, format!("p{i}"));
        let age = if i < 20 {
            (i % 3 != 0).then_some(i)
        } else {
            Some(i)
        };
        assert_eq!(p.age, age);
    }

    // By column name into a FromRow struct, through templates, with a
    // trailing semicolon and comment.
    let rows: Vec<NameAge> = test
        .copy_out_query("SELECT age, name FROM {{tables.people}} WHERE id <= 2 ORDER BY id; -- two")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        rows,
        [
            NameAge {
                name: "p0".into(),
                age: None
            },
            NameAge {
                name: "p1".into(),
                age: Some(1)
            },
        ]
    );

    // Owned models move into the stream; the borrowed form takes any
    // iterator of references.
    let n = test.copy_in(people.iter().take(2)).await.unwrap();
    assert_eq!(n, 2);
    assert_eq!(count(&test, "people").await, 32);
}

#[tokio::test]
async fn copy_out_query_decodes_tuples_and_checks_types_first() {
    let test = TestDatabase::new().await.unwrap();
    let rows: Vec<(i32, String, Option<f64>)> = test
        .copy_out_query("SELECT g, 'n' || g, CASE WHEN g % 2 = 0 THEN g / 2.0 END::float8 FROM generate_series(1, 4) g")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        rows,
        [
            (1, "n1".to_owned(), None),
            (2, "n2".to_owned(), Some(1.0)),
            (3, "n3".to_owned(), None),
            (4, "n4".to_owned(), Some(2.0)),
        ]
    );

    // A type that cannot hold the column is refused before any row.
    let err = test
        .copy_out_query::<(i64,)>("SELECT 'x'::text AS t")
        .await
        .unwrap_err();
    match err {
        Error::RowMapping(e) => {
            assert_eq!(e.column, "t");
            assert!(e.found.contains("text"), "{e}");
        }
        other => panic!("expected RowMapping, got {other:?}"),
    }
    // A column missing from the result, for a struct read by name.
    let err = test
        .copy_out_query::<NameAge>("SELECT 'a'::text AS name")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::RowMapping(ref e) if e.column == "age"),
        "{err:?}"
    );
    // COPY takes no bind parameters.
    let err = test
        .copy_out_query::<(i32,)>("SELECT $1::int4")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Parameter(e) if e.message().contains("no bind parameters")),
        "{err:?}"
    );
    // The server's errors are mapped.
    let err = test
        .copy_out_query::<(i32,)>("SELECT x FROM no_such_table")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UndefinedTable(_)), "{err:?}");
}

#[tokio::test]
async fn copy_out_row_that_cannot_decode_names_column_and_row() {
    let test = single_connection().await;
    let pid = pooled_pid(&test).await;
    let mut rows = test
        .copy_out_query::<(i32,)>(
            "SELECT CASE WHEN g = 3 THEN NULL ELSE g END AS n FROM generate_series(1, 100000) g",
        )
        .await
        .unwrap();
    assert_eq!(rows.try_next().await.unwrap(), Some((1,)));
    assert_eq!(rows.try_next().await.unwrap(), Some((2,)));
    match rows.next().await {
        Some(Err(Error::RowMapping(e))) => {
            assert_eq!(e.column, "n");
            assert!(e.found.contains("row 2"), "{e}");
        }
        other => panic!("expected a mapping error, got {other:?}"),
    }
    // The stream ends after its error.
    assert!(rows.next().await.is_none());
    drop(rows);
    // The rest of the COPY was cancelled; the connection is kept.
    assert_unharmed(&test, pid, 0).await;
}

#[tokio::test]
async fn wrong_rust_type_names_row_and_column() {
    let test = single_connection().await;
    let pid = pooled_pid(&test).await;
    let rows = items(1, 100);
    let bad = "not a number";
    let records = rows.iter().enumerate().map(|(i, (id, name, qty))| {
        let qty: Value<'_> = if i == 17 { &bad } else { qty };
        [id as Value<'_>, name as Value<'_>, qty]
    });
    let err = test
        .copy_records_to_table("items", ITEM_COLUMNS, records)
        .await
        .unwrap_err();
    assert_parameter_error(&err, "row 17, column \"qty\": ", "int4");
    assert_unharmed(&test, pid, 0).await;

    // A record of the wrong width.
    let err = test
        .copy_records_to_table(
            "items",
            ITEM_COLUMNS,
            [
                vec![&1i64 as Value<'_>, &"a", &None::<i32>],
                vec![&2i64 as Value<'_>, &"b"],
            ],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Parameter(e) if e.message().starts_with("row 1: 2 values for 3 columns")),
        "{err}"
    );
    assert_unharmed(&test, pid, 0).await;

    // i32 for an int8 column is refused too: the types are the server's.
    let err = test
        .copy_records_to_table("items", &["id", "name"], [[&1i32 as Value<'_>, &"a"]])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Parameter(e) if e.message().starts_with("row 0, column \"id\"")),
        "{err}"
    );
    assert_unharmed(&test, pid, 0).await;
}

#[tokio::test]
async fn null_into_not_null_fails_whole_copy() {
    let test = single_connection().await;
    let pid = pooled_pid(&test).await;
    let seed = items(1, 5);
    test.copy_records_to_table("items", ITEM_COLUMNS, as_records(&seed))
        .await
        .unwrap();
    let rows = items(10, 100);
    let no_name: Option<&str> = None;
    let records = rows.iter().enumerate().map(|(i, (id, name, qty))| {
        let name: Value<'_> = if i == 10 { &no_name } else { name };
        [id as Value<'_>, name, qty as Value<'_>]
    });
    let err = test
        .copy_records_to_table("items", ITEM_COLUMNS, records)
        .await
        .unwrap_err();
    match &err {
        Error::NotNullViolation(e) => assert_eq!(e.column(), Some("name")),
        other => panic!("expected NotNullViolation, got {other:?}"),
    }
    assert_unharmed(&test, pid, 5).await;
}

#[tokio::test]
async fn unique_violation_in_the_middle_writes_nothing() {
    let test = single_connection().await;
    let pid = pooled_pid(&test).await;
    let seed = items(5_000, 3);
    test.copy_records_to_table("items", ITEM_COLUMNS, as_records(&seed))
        .await
        .unwrap();
    // 1,000 rows; row 700 repeats the id of row 500.
    let mut rows = items(1, 1_000);
    rows[700].0 = rows[500].0;
    let err = test
        .copy_records_to_table("items", ITEM_COLUMNS, as_records(&rows))
        .await
        .unwrap_err();
    match &err {
        Error::UniqueViolation(e) => {
            assert_eq!(e.constraint(), Some("items_pkey"));
            assert!(
                e.detail().unwrap_or_default().contains("(id)=(501)"),
                "{err}"
            );
        }
        other => panic!("expected UniqueViolation, got {other:?}"),
    }
    assert_unharmed(&test, pid, 3).await;

    // Through copy_in too.
    let people = [
        Person {
            id: 0,
            name: "a".into(),
            age: None,
        },
        Person {
            id: 0,
            name: "b".into(),
            age: None,
        },
    ];
    test.execute("CREATE UNIQUE INDEX ON {{tables.people}} (name)", &[])
        .await
        .unwrap();
    test.copy_in(&people).await.unwrap();
    let err = test.copy_in(&people).await.unwrap_err();
    assert!(matches!(err, Error::UniqueViolation(_)), "{err:?}");
    assert_eq!(count(&test, "people").await, 2);
    assert_unharmed(&test, pid, 3).await;
}

#[tokio::test]
async fn unknown_column_and_table_are_the_servers_errors() {
    let test = single_connection().await;
    let pid = pooled_pid(&test).await;
    let rows = items(1, 3);
    let err = test
        .copy_records_to_table("items", &["id", "name", "nope"], as_records(&rows))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UndefinedColumn(_)), "{err:?}");
    assert_unharmed(&test, pid, 0).await;

    let err = test
        .copy_records_to_table("missing", ITEM_COLUMNS, as_records(&rows))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UndefinedTable(_)), "{err:?}");
    assert_unharmed(&test, pid, 0).await;

    let err = test
        .copy_records_to_table("no_such_schema.items", ITEM_COLUMNS, as_records(&rows))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UndefinedTable(_)), "{err:?}");

    // Names that cannot be identifiers are refused before anything is sent.
    let err = test
        .copy_records_to_table("a.b.c", ITEM_COLUMNS, as_records(&rows))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidIdentifier(_)), "{err:?}");
    let err = test
        .copy_records_to_table("items", &["id", ""], as_records(&rows))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidIdentifier(_)), "{err:?}");
    assert_unharmed(&test, pid, 0).await;
}

#[tokio::test]
async fn quoted_and_hostile_names_stay_names() {
    let test = TestDatabase::new().await.unwrap();
    test.execute(
        "CREATE TABLE {{tables.\"Mixed Case\"}} (\"Id\" int8, \"we\"\"ird; col\" text)",
        &[],
    )
    .await
    .unwrap();
    let n = test
        .copy_records_to_table(
            "\"Mixed Case\"",
            &["Id", "we\"ird; col"],
            [[&1i64 as Value<'_>, &"v"]],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    let v: String = test
        .fetch_value(
            "SELECT \"we\"\"ird; col\" FROM {{tables.\"Mixed Case\"}}",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(v, "v");
}

#[tokio::test]
async fn copy_in_a_transaction_commits_and_rolls_back_with_it() {
    let test = TestDatabase::new().await.unwrap();
    with_tables(&test).await;

    let tx = test.transaction().await.unwrap();
    let rows = items(1, 10);
    assert_eq!(
        tx.copy_records_to_table("items", ITEM_COLUMNS, as_records(&rows))
            .await
            .unwrap(),
        10
    );
    // Visible inside, through COPY out too.
    let ids: Vec<(i64,)> = tx
        .copy_out_query::<(i64,)>("SELECT id FROM {{tables.items}}")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids.len(), 10);
    assert_eq!(count(&test, "items").await, 0, "not visible outside yet");
    tx.commit().await.unwrap();
    assert_eq!(count(&test, "items").await, 10);

    let tx = test.transaction().await.unwrap();
    let rows = items(100, 10);
    tx.copy_records_to_table("items", ITEM_COLUMNS, as_records(&rows))
        .await
        .unwrap();
    let people = [Person {
        id: 0,
        name: "a".into(),
        age: Some(1),
    }];
    tx.copy_in(&people).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count(&test, "items").await, 10);
    assert_eq!(count(&test, "people").await, 0);

    // Dropped uncommitted: rolled back too.
    {
        let tx = test.transaction().await.unwrap();
        tx.copy_records_to_table("items", ITEM_COLUMNS, as_records(&rows))
            .await
            .unwrap();
    }
    assert_eq!(count(&test, "items").await, 10);
}

#[tokio::test]
async fn failed_copy_leaves_the_transaction_usable() {
    let test = TestDatabase::new().await.unwrap();
    with_tables(&test).await;
    let tx = test.transaction().await.unwrap();
    tx.execute("INSERT INTO {{tables.items}} VALUES (1, 'first', 1)", &[])
        .await
        .unwrap();
    let good = items(10, 5);
    tx.copy_records_to_table("items", ITEM_COLUMNS, as_records(&good))
        .await
        .unwrap();

    // A server-side failure (duplicate key), a client-side one (wrong type),
    // an unknown column and an unknown table, each under its own savepoint.
    let dup = items(1, 3);
    let err = tx
        .copy_records_to_table("items", ITEM_COLUMNS, as_records(&dup))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UniqueViolation(_)), "{err:?}");
    let err = tx
        .copy_records_to_table("items", &["id", "name"], [[&"x" as Value<'_>, &"y"]])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Parameter(_)), "{err:?}");
    let err = tx
        .copy_records_to_table("items", &["nope"], [[&1i64 as Value<'_>]])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UndefinedColumn(_)), "{err:?}");
    let err = tx
        .copy_records_to_table("missing", &["id"], [[&1i64 as Value<'_>]])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UndefinedTable(_)), "{err:?}");

    // Still usable: more work, then commit.
    tx.execute("INSERT INTO {{tables.items}} VALUES (2, 'after', 2)", &[])
        .await
        .unwrap();
    let more = items(20, 5);
    tx.copy_records_to_table("items", ITEM_COLUMNS, as_records(&more))
        .await
        .unwrap();
    assert_eq!(tx.depth(), 1);
    tx.commit().await.unwrap();
    assert_eq!(count(&test, "items").await, 12);

    // In a savepoint (depth 2) the COPY's own savepoint is depth 3.
    let mut tx = test.transaction().await.unwrap();
    {
        let sp = tx.transaction().await.unwrap();
        let err = sp
            .copy_records_to_table("items", ITEM_COLUMNS, as_records(&dup))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::UniqueViolation(_)), "{err:?}");
        let rows = items(30, 4);
        sp.copy_records_to_table("items", ITEM_COLUMNS, as_records(&rows))
            .await
            .unwrap();
        sp.commit().await.unwrap();
    }
    tx.execute("INSERT INTO {{tables.items}} VALUES (3, 'last', 3)", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count(&test, "items").await, 17);
}

#[tokio::test]
async fn copy_on_an_acquired_connection() {
    let test = TestDatabase::new().await.unwrap();
    with_tables(&test).await;
    let mut conn = test.acquire().await.unwrap();
    let rows = items(1, 10);
    conn.copy_records_to_table("items", ITEM_COLUMNS, as_records(&rows))
        .await
        .unwrap();
    let err = conn
        .copy_records_to_table("items", ITEM_COLUMNS, as_records(&rows))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UniqueViolation(_)), "{err:?}");
    let tx = conn.transaction().await.unwrap();
    tx.copy_in(&[Person {
        id: 0,
        name: "a".into(),
        age: None,
    }])
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let n: i64 = conn
        .fetch_value("SELECT count(*) FROM {{tables.items}}", &[])
        .await
        .unwrap();
    assert_eq!(n, 10);
    let people: Vec<Person> = conn
        .copy_out::<Person>()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(people.len(), 1);
}

#[tokio::test]
async fn copy_lands_only_in_the_managers_schema() {
    let test = TestDatabase::new().await.unwrap();
    let pool = SharedPool::connect(test.config().clone()).await.unwrap();
    let alpha = pool.database(Some("alpha")).unwrap();
    let beta = pool.database(Some("beta")).unwrap();
    for db in [&alpha, &beta] {
        db.create_schema().await.unwrap();
        with_tables(db).await;
    }
    let rows = items(1, 7);
    alpha
        .copy_records_to_table("items", ITEM_COLUMNS, as_records(&rows))
        .await
        .unwrap();
    beta.copy_in(&[Person {
        id: 0,
        name: "b".into(),
        age: None,
    }])
    .await
    .unwrap();
    assert_eq!(count(&alpha, "items").await, 7);
    assert_eq!(count(&beta, "items").await, 0);
    assert_eq!(count(&alpha, "people").await, 0);
    assert_eq!(count(&beta, "people").await, 1);
    let direct: i64 = alpha
        .fetch_value("SELECT count(*) FROM \"alpha\".\"items\"", &[])
        .await
        .unwrap();
    assert_eq!(direct, 7);

    // Out of each manager's own table.
    let out: Vec<Person> = alpha
        .copy_out::<Person>()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(out.is_empty());
    let out: Vec<Person> = beta
        .copy_out::<Person>()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(out.len(), 1);

    // An explicit schema in the name wins over the manager's.
    beta.copy_records_to_table("alpha.items", ITEM_COLUMNS, as_records(&items(100, 1)))
        .await
        .unwrap();
    assert_eq!(count(&alpha, "items").await, 8);
    assert_eq!(count(&beta, "items").await, 0);
    pool.close().await;
}

#[tokio::test]
async fn hundred_thousand_rows_in_and_out() {
    let test = TestDatabase::new().await.unwrap();
    with_tables(&test).await;
    const N: i64 = 100_000;
    let ids: Vec<i64> = (1..=N).collect();
    let names: Vec<String> = ids.iter().map(|i| format!("name {i}")).collect();
    let records = ids
        .iter()
        .zip(&names)
        .map(|(id, name)| [id as Value<'_>, name as Value<'_>]);
    let n = test
        .copy_records_to_table("items", &["id", "name"], records)
        .await
        .unwrap();
    assert_eq!(n, N as u64);

    let mut rows = test
        .copy_out_query::<(i64, String)>("SELECT id, name FROM {{tables.items}}")
        .await
        .unwrap();
    let (mut seen, mut sum) = (0i64, 0i64);
    while let Some((id, name)) = rows.try_next().await.unwrap() {
        assert_eq!(name, format!("name {id}"));
        seen += 1;
        sum += id;
    }
    assert_eq!(seen, N);
    assert_eq!(sum, N * (N + 1) / 2);
    let server_sum: i64 = test
        .fetch_value("SELECT sum(id)::int8 FROM {{tables.items}}", &[])
        .await
        .unwrap();
    assert_eq!(server_sum, sum);
}

/// A stream that yields `n` people, then never finishes.
fn stalled_people(n: i32) -> impl futures_util::Stream<Item = Person> + Send {
    stream::iter(0..n)
        .map(|i| Person {
            id: 0,
            name: format!("s{i}"),
            age: None,
        })
        .chain(stream::pending())
}

#[tokio::test]
async fn dropped_copy_future_leaves_connections_clean() {
    let test = single_connection().await;
    let pid = pooled_pid(&test).await;

    // On a manager: the pooled connection is cleaned up and kept.
    let dropped = tokio::time::timeout(
        Duration::from_millis(300),
        test.copy_in_stream(stalled_people(5_000)),
    )
    .await;
    assert!(dropped.is_err(), "the COPY cannot finish");
    assert_eq!(count(&test, "people").await, 0);
    assert_unharmed(&test, pid, 0).await;

    // On an acquired connection: the next call settles it first.
    let conn = test.acquire().await.unwrap();
    let dropped = tokio::time::timeout(
        Duration::from_millis(300),
        conn.copy_in_stream(stalled_people(10)),
    )
    .await;
    assert!(dropped.is_err());
    let n: i64 = conn
        .fetch_value("SELECT count(*) FROM {{tables.people}}", &[])
        .await
        .unwrap();
    assert_eq!(n, 0);
    conn.copy_in(&[Person {
        id: 0,
        name: "ok".into(),
        age: None,
    }])
    .await
    .unwrap();
    drop(conn);
    assert_eq!(count(&test, "people").await, 1);

    // In a transaction: the COPY's savepoint is rolled back, the
    // transaction carries on.
    let tx = test.transaction().await.unwrap();
    tx.execute(
        "INSERT INTO {{tables.items}} VALUES (1, 'before', NULL)",
        &[],
    )
    .await
    .unwrap();
    let dropped = tokio::time::timeout(
        Duration::from_millis(300),
        tx.copy_in_stream(stalled_people(10)),
    )
    .await;
    assert!(dropped.is_err());
    tx.execute(
        "INSERT INTO {{tables.items}} VALUES (2, 'after', NULL)",
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count(&test, "items").await, 2);
    assert_eq!(count(&test, "people").await, 1);
    assert_eq!(pooled_pid(&test).await, pid);
}

#[tokio::test]
async fn call_timeout_ends_a_stalled_copy() {
    let test = single_connection().await;
    let pid = pooled_pid(&test).await;
    let limited = test.with_timeout(Some(Duration::from_millis(300)));
    let err = limited
        .copy_in_stream(stalled_people(100))
        .await
        .unwrap_err();
    match &err {
        Error::Timeout(t) => assert!(t.sql.as_deref().unwrap_or_default().starts_with("COPY ")),
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert_eq!(count(&test, "people").await, 0);
    assert_unharmed(&test, pid, 0).await;

    // Inside a transaction the savepoint is rolled back and the
    // transaction stays usable.
    let tx = limited.transaction().await.unwrap();
    let err = tx.copy_in_stream(stalled_people(3)).await.unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    tx.copy_in(&[Person {
        id: 0,
        name: "x".into(),
        age: None,
    }])
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count(&test, "people").await, 1);
}

/// A COPY that waits on a lock (SHARE blocks its ROW EXCLUSIVE) and times
/// out there: the wait is the scope's `LOCK TABLE`, sent before any COPY,
/// so it is cancelled like any statement; the error is the timeout, the
/// connection is kept and a transaction stays usable.
#[tokio::test]
async fn timeout_while_the_copy_waits_for_a_lock() {
    let test = single_connection().await;
    let pid = pooled_pid(&test).await;
    let config = test.config().clone().with_pool_size(1, 1);
    let other = SharedPool::connect(config)
        .await
        .unwrap()
        .database(test.schema())
        .unwrap();
    let mut locker = other.acquire().await.unwrap();
    let lock = locker.transaction().await.unwrap();
    lock.execute("LOCK TABLE {{tables.items}} IN SHARE MODE", &[])
        .await
        .unwrap();

    let limited = test.with_timeout(Some(Duration::from_millis(300)));
    let rows = items(1, 3);
    let err = limited
        .copy_records_to_table("items", ITEM_COLUMNS, as_records(&rows))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");

    let tx = limited.transaction().await.unwrap();
    let err = tx
        .copy_records_to_table("items", ITEM_COLUMNS, as_records(&rows))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert_eq!(tx.fetch_value::<i32>("SELECT 1", &[]).await.unwrap(), 1);
    lock.rollback().await.unwrap();
    let n = tx
        .copy_records_to_table("items", ITEM_COLUMNS, as_records(&rows))
        .await
        .unwrap();
    assert_eq!(n, 3);
    tx.rollback().await.unwrap();
    assert_unharmed(&test, pid, 0).await;
}

/// The COPY's scope holds the table (ROW EXCLUSIVE, as the COPY would)
/// until it ends, so no `ALTER TABLE` can change a column's type between
/// the check of a cached description and the rows.
#[tokio::test]
async fn a_copy_keeps_its_table_locked_until_its_transaction_ends() {
    let test = TestDatabase::new().await.unwrap();
    with_tables(&test).await;
    test.copy_records_to_table("items", ITEM_COLUMNS, as_records(&items(1, 3)))
        .await
        .unwrap();
    let tx = test.transaction().await.unwrap();
    tx.copy_records_to_table("items", ITEM_COLUMNS, as_records(&items(10, 3)))
        .await
        .unwrap();
    let other = test.acquire().await.unwrap();
    other
        .execute("SET lock_timeout = '200ms'", &[])
        .await
        .unwrap();
    let alter = "ALTER TABLE {{tables.items}} ALTER COLUMN qty TYPE float4";
    let err = other.execute(alter, &[]).await.unwrap_err();
    assert!(matches!(err, Error::LockTimeout(_)), "{err:?}");
    tx.commit().await.unwrap();
    other.execute(alter, &[]).await.unwrap();
    assert_eq!(count(&test, "items").await, 6);
}

/// A COPY without a column list is cached without one: after a column is
/// renamed it fails the catalog check in copy mode and is described again,
/// instead of being refused (which would cost the connection).
#[tokio::test]
async fn a_cached_copy_without_a_column_list_survives_a_renamed_column() {
    let test = single_connection().await;
    let pid = pooled_pid(&test).await;
    for from in [1, 10] {
        test.copy_records_to_table("items", &[], as_records(&items(from, 2)))
            .await
            .unwrap();
    }
    test.execute(
        "ALTER TABLE {{tables.items}} RENAME COLUMN name TO title",
        &[],
    )
    .await
    .unwrap();
    test.copy_records_to_table("items", &[], as_records(&items(20, 2)))
        .await
        .unwrap();
    let titled: i64 = test
        .fetch_value(
            "SELECT count(*) FROM {{tables.items}} WHERE title LIKE 'item %'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(titled, 6);
    assert_eq!(pooled_pid(&test).await, pid, "the connection was replaced");
}

#[tokio::test]
async fn a_column_named_twice_is_refused_before_any_copy() {
    let test = single_connection().await;
    let pid = pooled_pid(&test).await;
    let err = test
        .copy_records_to_table("items", &["id", "name", "id"], as_records(&items(1, 1)))
        .await
        .unwrap_err();
    match &err {
        Error::InvalidIdentifier(e) => assert!(e.to_string().contains("twice"), "{e}"),
        other => panic!("expected InvalidIdentifier, got {other:?}"),
    }
    assert_unharmed(&test, pid, 0).await;
}

#[tokio::test]
async fn dropping_copy_out_early_cancels_it() {
    let test = single_connection().await;
    let pid = pooled_pid(&test).await;
    let mut rows = test
        .copy_out_query::<(i32,)>("SELECT generate_series(1, 50000000)")
        .await
        .unwrap();
    for expected in 1..=3 {
        assert_eq!(rows.try_next().await.unwrap(), Some((expected,)));
    }
    let dropped = std::time::Instant::now();
    drop(rows);
    // The connection is cancelled and drained, not left streaming 50M rows.
    assert_unharmed(&test, pid, 0).await;
    assert!(
        dropped.elapsed() < Duration::from_secs(3),
        "took {:?}",
        dropped.elapsed()
    );

    // On an acquired connection, the next call waits only for the cancel.
    let conn = test.acquire().await.unwrap();
    {
        let mut rows = conn
            .copy_out_query::<(i32,)>("SELECT generate_series(1, 50000000)")
            .await
            .unwrap();
        assert_eq!(rows.try_next().await.unwrap(), Some((1,)));
    }
    let one: i32 = conn.fetch_value("SELECT 1", &[]).await.unwrap();
    assert_eq!(one, 1);
}

#[tokio::test]
async fn stale_description_after_alter_table_is_refreshed() {
    let test = single_connection().await;
    let pid = pooled_pid(&test).await;
    let rows = items(1, 2);
    test.copy_records_to_table("items", ITEM_COLUMNS, as_records(&rows))
        .await
        .unwrap();

    // qty int4 -> int8: the cached description (int4) is stale; the COPY
    // notices before writing and takes the new type.
    test.execute("ALTER TABLE {{tables.items}} ALTER qty TYPE int8", &[])
        .await
        .unwrap();
    let n = test
        .copy_records_to_table(
            "items",
            ITEM_COLUMNS,
            [[&3i64 as Value<'_>, &"three", &Some(3i64)]],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);

    // Same width, other type (int8 -> float8): an i64 is refused rather
    // than written as a float's bits.
    test.execute("ALTER TABLE {{tables.items}} ALTER qty TYPE float8", &[])
        .await
        .unwrap();
    let err = test
        .copy_records_to_table(
            "items",
            ITEM_COLUMNS,
            [[&4i64 as Value<'_>, &"four", &Some(4i64)]],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Parameter(e) if e.message().contains("float8")),
        "{err}"
    );

    // The same inside a transaction, where the check runs under the COPY's
    // savepoint.
    test.execute("ALTER TABLE {{tables.items}} ALTER qty TYPE int4", &[])
        .await
        .unwrap();
    let tx = test.transaction().await.unwrap();
    tx.copy_records_to_table(
        "items",
        ITEM_COLUMNS,
        [[&5i64 as Value<'_>, &"five", &Some(5i32)]],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let qty: Vec<(i64, Option<i32>)> = test
        .fetch_all_as("SELECT id, qty FROM {{tables.items}} ORDER BY id", &[])
        .await
        .unwrap();
    assert_eq!(
        qty,
        [(1, Some(1)), (2, Some(2)), (3, Some(3)), (5, Some(5))]
    );
    assert_eq!(pooled_pid(&test).await, pid);
}

#[tokio::test]
async fn copy_futures_can_be_spawned() {
    let test = TestDatabase::new().await.unwrap();
    with_tables(&test).await;
    let db = test.db().clone();
    let task = tokio::spawn(async move {
        let rows = items(1, 10);
        let n = db
            .copy_records_to_table("items", ITEM_COLUMNS, as_records(&rows))
            .await?;
        let people = stream::iter(0..3).map(|i| Person {
            id: 0,
            name: format!("t{i}"),
            age: None,
        });
        let m = db.copy_in_stream(people).await?;
        let out: Vec<Person> = db.copy_out::<Person>().await?.try_collect().await?;
        Ok::<_, Error>((n, m, out.len()))
    });
    assert_eq!(task.await.unwrap().unwrap(), (10, 3, 3));

    // Collected records, borrowed models, and a transaction's COPY.
    let db = test.db().clone();
    let task = tokio::spawn(async move {
        let rows = items(100, 5);
        let records: Vec<[Value<'_>; 3]> = as_records(&rows).collect();
        let tx = db.transaction().await?;
        let n = tx
            .copy_records_to_table("items", ITEM_COLUMNS, records)
            .await?;
        let people = vec![Person {
            id: 0,
            name: "v".into(),
            age: None,
        }];
        let m = tx.copy_in(&people).await?;
        tx.commit().await?;
        Ok::<_, Error>((n, m))
    });
    assert_eq!(task.await.unwrap().unwrap(), (5, 1));
    assert_eq!(count(&test, "items").await, 15);
}

#[tokio::test]
async fn records_as_tuples_boxes_slices_and_references() {
    let test = TestDatabase::new().await.unwrap();
    with_tables(&test).await;

    // Owned tuples, moved in; then borrowed.
    let owned = items(1, 3);
    let n = test
        .copy_records_to_table("items", ITEM_COLUMNS, owned.clone())
        .await
        .unwrap();
    assert_eq!(n, 3);
    let borrowed = items(4, 2);
    test.copy_records_to_table("items", ITEM_COLUMNS, &borrowed)
        .await
        .unwrap();
    // Tuples of borrowed values, and a wider tuple for two columns.
    let names = ["six".to_string(), "seven".to_string()];
    let refs = [
        (6i64, names[0].as_str(), None::<i32>),
        (7, &names[1], Some(7)),
    ];
    test.copy_records_to_table("items", ITEM_COLUMNS, refs)
        .await
        .unwrap();

    // Boxed values, Sync and Sync + Send.
    let boxed: Vec<Vec<Box<dyn ToSql + Sync>>> = vec![vec![
        Box::new(8i64),
        Box::new("eight".to_string()),
        Box::new(Some(1i32)),
    ]];
    test.copy_records_to_table("items", ITEM_COLUMNS, boxed)
        .await
        .unwrap();
    let sendable: Vec<Vec<Box<dyn ToSql + Sync + Send>>> = (9..11i64)
        .map(|id| -> Vec<Box<dyn ToSql + Sync + Send>> {
            vec![
                Box::new(id),
                Box::new(format!("item {id}")),
                Box::new(None::<i32>),
            ]
        })
        .collect();
    test.copy_records_to_table("items", ITEM_COLUMNS, &sendable)
        .await
        .unwrap();

    // Slices and vectors of references.
    let (id, name, qty) = (11i64, "eleven", Some(11i32));
    let row: [Value<'_>; 3] = [&id, &name, &qty];
    test.copy_records_to_table("items", ITEM_COLUMNS, [&row[..]])
        .await
        .unwrap();
    let (id, name) = (12i64, "twelve");
    test.copy_records_to_table("items", &["id", "name"], [vec![&id as Value<'_>, &name]])
        .await
        .unwrap();

    let back: Vec<(i64, String, Option<i32>)> = test
        .fetch_all_as(
            "SELECT id, name, qty FROM {{tables.items}} ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let mut expected = items(1, 5);
    expected.extend([
        (6, "six".to_string(), None),
        (7, "seven".to_string(), Some(7)),
        (8, "eight".to_string(), Some(1)),
        (9, "item 9".to_string(), None),
        (10, "item 10".to_string(), None),
        (11, "eleven".to_string(), Some(11)),
        (12, "twelve".to_string(), None),
    ]);
    assert_eq!(back, expected);
}

#[tokio::test]
async fn tuple_and_boxed_records_of_wrong_width_or_type_name_row_and_column() {
    let test = single_connection().await;
    let pid = pooled_pid(&test).await;
    let seed = items(1, 4);
    test.copy_records_to_table("items", ITEM_COLUMNS, &seed)
        .await
        .unwrap();

    // Tuples two wide for three columns.
    let err = test
        .copy_records_to_table("items", ITEM_COLUMNS, [(10i64, "a"), (11, "b")])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Parameter(e) if e.message().starts_with("row 0: 2 values for 3 columns (\"id\", \"name\", \"qty\")")),
        "{err}"
    );
    assert_unharmed(&test, pid, 4).await;

    // A tuple with a text where qty (int4) is: typed error naming both.
    let err = test
        .copy_records_to_table("items", ITEM_COLUMNS, [(20i64, "a", "not a number")])
        .await
        .unwrap_err();
    assert_parameter_error(&err, "row 0, column \"qty\": ", "int4");
    assert_unharmed(&test, pid, 4).await;

    // Tuples whose type fits the first columns but not the table's: an i32
    // id for int8 is refused, not widened.
    let err = test
        .copy_records_to_table("items", ITEM_COLUMNS, [(21i32, "a", None::<i32>)])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Parameter(e) if e.message().starts_with("row 0, column \"id\"")),
        "{err}"
    );
    assert_unharmed(&test, pid, 4).await;

    // Boxed records: row 6 is short, row 9 has a wrong type; each fails the
    // whole COPY at its own row.
    let boxed = |bad: Option<usize>, short: Option<usize>| {
        (0..12usize)
            .map(|i| {
                let mut row: Vec<Box<dyn ToSql + Sync + Send>> =
                    vec![Box::new(100 + i as i64), Box::new(format!("b{i}"))];
                if short != Some(i) {
                    if bad == Some(i) {
                        row.push(Box::new(1.5f64));
                    } else {
                        row.push(Box::new(Some(i as i32)));
                    }
                }
                row
            })
            .collect::<Vec<_>>()
    };
    let err = test
        .copy_records_to_table("items", ITEM_COLUMNS, boxed(None, Some(6)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Parameter(e) if e.message().starts_with("row 6: 2 values for 3 columns")),
        "{err}"
    );
    assert_unharmed(&test, pid, 4).await;
    let err = test
        .copy_records_to_table("items", ITEM_COLUMNS, boxed(Some(9), None))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Parameter(e) if e.message().starts_with("row 9, column \"qty\": ")),
        "{err}"
    );
    assert_unharmed(&test, pid, 4).await;
    assert_eq!(
        test.copy_records_to_table("items", ITEM_COLUMNS, boxed(None, None))
            .await
            .unwrap(),
        12
    );
    assert_eq!(count(&test, "items").await, 16);
}

/// Records borrowing `names`, ids from 300.
fn borrowed_records(names: &[String]) -> impl Iterator<Item = (i64, &String, Option<i32>)> {
    names.iter().zip(300..).map(|(name, id)| (id, name, None))
}

/// Compile-level check that a COPY of owned tuples (and of sendable boxed
/// values) is `Send`, so it can be spawned.
#[tokio::test]
async fn copy_of_owned_tuples_can_be_spawned() {
    let test = TestDatabase::new().await.unwrap();
    with_tables(&test).await;
    let db = test.db().clone();
    let task = tokio::spawn(async move {
        let rows = items(1, 10);
        let n = db
            .copy_records_to_table("items", ITEM_COLUMNS, rows)
            .await?;
        // Made on the fly by an iterator adapter.
        let made = (100..105i64).map(|id| (id, format!("n{id}"), Some(id as i32)));
        let m = db
            .copy_records_to_table("items", ITEM_COLUMNS, made)
            .await?;
        // Tuples borrowing from a local, through a function that names the
        // iterator (an inline closure taking references can defeat the
        // compiler's `Send` proof; see `CopyRecord`).
        let names: Vec<String> = (0..3).map(|i| format!("b{i}")).collect();
        let m = m + db
            .copy_records_to_table("items", ITEM_COLUMNS, borrowed_records(&names))
            .await?;
        let boxed: Vec<Vec<Box<dyn ToSql + Sync + Send>>> =
            vec![vec![Box::new(200i64), Box::new("b"), Box::new(None::<i32>)]];
        let tx = db.transaction().await?;
        let k = tx
            .copy_records_to_table("items", ITEM_COLUMNS, boxed)
            .await?;
        tx.commit().await?;
        Ok::<_, Error>(n + m + k)
    });
    assert_eq!(task.await.unwrap().unwrap(), 19);
    assert_eq!(count(&test, "items").await, 19);
}

/// How many times COPYs on this pool described their table.
async fn describes(db: &Database) -> u64 {
    db.pool_stats().await.unwrap().copy_describes
}

async fn qty_column(db: &Database) -> Vec<(i64, Option<f32>)> {
    db.fetch_all_as(
        "SELECT id, qty::float4 FROM {{tables.items}} ORDER BY id",
        &[],
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn later_copies_use_the_cached_description_until_the_table_changes() {
    let test = single_connection().await;
    let pid = pooled_pid(&test).await;
    let start = describes(&test).await;
    test.copy_records_to_table("items", ITEM_COLUMNS, &items(1, 3))
        .await
        .unwrap();
    assert_eq!(describes(&test).await, start + 1);
    for from in [10, 20, 30] {
        test.copy_records_to_table("items", ITEM_COLUMNS, &items(from, 3))
            .await
            .unwrap();
    }
    assert_eq!(describes(&test).await, start + 1, "served from the cache");

    // Another column list, or none, is another entry.
    test.copy_records_to_table("items", &["id", "name"], [(40i64, "a")])
        .await
        .unwrap();
    test.copy_records_to_table("items", &[], [(41i64, "b", None::<i32>)])
        .await
        .unwrap();
    test.copy_records_to_table("items", &[], [(42i64, "c", None::<i32>)])
        .await
        .unwrap();
    assert_eq!(describes(&test).await, start + 3);

    // qty int4 -> float4: the cached entry is found stale in the COPY's own
    // round trip and refreshed; the values land as float4.
    test.execute("ALTER TABLE {{tables.items}} ALTER qty TYPE float4", &[])
        .await
        .unwrap();
    let n = test
        .copy_records_to_table("items", ITEM_COLUMNS, [(50i64, "f", Some(1.5f32))])
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(describes(&test).await, start + 4);
    test.copy_records_to_table("items", ITEM_COLUMNS, [(51i64, "g", Some(-2.25f32))])
        .await
        .unwrap();
    assert_eq!(describes(&test).await, start + 4);
    let back = qty_column(&test).await;
    assert_eq!(back[back.len() - 2..], [(50, Some(1.5)), (51, Some(-2.25))]);
    assert_eq!(count(&test, "items").await, 17);
    assert_eq!(pooled_pid(&test).await, pid, "no connection was lost");
}

#[tokio::test]
async fn same_width_type_changes_after_a_cached_copy_read_back_right() {
    let test = single_connection().await;
    let pid = pooled_pid(&test).await;
    test.copy_records_to_table("items", ITEM_COLUMNS, [(1i64, "a", Some(1i32))])
        .await
        .unwrap();

    // int4 -> float4, same width: an i32 now is refused, naming row and
    // column, rather than written as a float's bits.
    test.execute("ALTER TABLE {{tables.items}} ALTER qty TYPE float4", &[])
        .await
        .unwrap();
    let err = test
        .copy_records_to_table("items", ITEM_COLUMNS, [(2i64, "b", Some(2i32))])
        .await
        .unwrap_err();
    assert_parameter_error(&err, "row 0, column \"qty\": ", "float4");
    assert_eq!(count(&test, "items").await, 1);
    test.copy_records_to_table("items", ITEM_COLUMNS, [(2i64, "b", Some(0.5f32))])
        .await
        .unwrap();

    // int8 -> float8 for the key, after that entry was cached.
    test.execute("ALTER TABLE {{tables.items}} ALTER id TYPE float8", &[])
        .await
        .unwrap();
    let err = test
        .copy_records_to_table("items", ITEM_COLUMNS, [(3i64, "c", Some(3f32))])
        .await
        .unwrap_err();
    assert_parameter_error(&err, "row 0, column \"id\": ", "float8");
    test.copy_records_to_table("items", ITEM_COLUMNS, [(3.5f64, "c", Some(3f32))])
        .await
        .unwrap();
    let back: Vec<(f64, Option<f32>)> = test
        .fetch_all_as("SELECT id, qty FROM {{tables.items}} ORDER BY id", &[])
        .await
        .unwrap();
    assert_eq!(back, [(1.0, Some(1.0)), (2.0, Some(0.5)), (3.5, Some(3.0))]);

    // To a domain over int4: the catalog shows the domain, the server
    // describes its base type, so i32 values go in.
    test.execute("CREATE DOMAIN small_qty AS int4 CHECK (VALUE < 100)", &[])
        .await
        .unwrap();
    test.execute(
        "ALTER TABLE {{tables.items}} ALTER qty TYPE small_qty USING qty::int4",
        &[],
    )
    .await
    .unwrap();
    test.copy_records_to_table("items", ITEM_COLUMNS, [(4f64, "d", Some(4i32))])
        .await
        .unwrap();
    test.copy_records_to_table("items", ITEM_COLUMNS, [(5f64, "e", Some(5i32))])
        .await
        .unwrap();
    let err = test
        .copy_records_to_table("items", ITEM_COLUMNS, [(6f64, "f", Some(600i32))])
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some("23514"), "{err:?}");
    assert_eq!(count(&test, "items").await, 5);
    assert_eq!(pooled_pid(&test).await, pid);
}

#[tokio::test]
async fn two_schemas_with_one_table_name_each_get_their_own_types() {
    let test = TestDatabase::new().await.unwrap();
    let pool = SharedPool::connect(test.config().clone().with_pool_size(1, 1))
        .await
        .unwrap();
    let alpha = pool.database(Some("alpha")).unwrap();
    let beta = pool.database(Some("beta")).unwrap();
    for (db, qty) in [(&alpha, "int4"), (&beta, "float8")] {
        db.create_schema().await.unwrap();
        db.execute(
            &format!("CREATE TABLE {{{{tables.items}}}} (id int8, name text, qty {qty})"),
            &[],
        )
        .await
        .unwrap();
    }
    let start = describes(&alpha).await;
    for round in 0..3i64 {
        alpha
            .copy_records_to_table("items", ITEM_COLUMNS, [(round, "a", Some(round as i32))])
            .await
            .unwrap();
        beta.copy_records_to_table(
            "items",
            ITEM_COLUMNS,
            [(round, "b", Some(round as f64 + 0.5))],
        )
        .await
        .unwrap();
    }
    // Each schema's table was described once, and only once.
    assert_eq!(describes(&alpha).await, start + 2);
    // Each refuses the other's type.
    let err = alpha
        .copy_records_to_table("items", ITEM_COLUMNS, [(9i64, "x", Some(1.5f64))])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Parameter(e) if e.message().contains("int4")),
        "{err}"
    );
    let err = beta
        .copy_records_to_table("items", ITEM_COLUMNS, [(9i64, "x", Some(1i32))])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Parameter(e) if e.message().contains("float8")),
        "{err}"
    );
    // Named with its schema from the other manager: the same entry.
    beta.copy_records_to_table("alpha.items", ITEM_COLUMNS, [(7i64, "c", Some(7i32))])
        .await
        .unwrap();
    assert_eq!(describes(&alpha).await, start + 2);

    let a: Vec<(i64, Option<i32>)> = alpha
        .fetch_all_as("SELECT id, qty FROM {{tables.items}} ORDER BY id", &[])
        .await
        .unwrap();
    assert_eq!(a, [(0, Some(0)), (1, Some(1)), (2, Some(2)), (7, Some(7))]);
    let b: Vec<(i64, Option<f64>)> = beta
        .fetch_all_as("SELECT id, qty FROM {{tables.items}} ORDER BY id", &[])
        .await
        .unwrap();
    assert_eq!(b, [(0, Some(0.5)), (1, Some(1.5)), (2, Some(2.5))]);
    pool.close().await;
}

#[tokio::test]
async fn dropped_and_recreated_tables_are_described_again() {
    let test = single_connection().await;
    let pid = pooled_pid(&test).await;
    test.copy_records_to_table("items", ITEM_COLUMNS, &items(1, 2))
        .await
        .unwrap();
    let start = describes(&test).await;

    // Recreated as it was: the cached description still holds.
    test.execute("DROP TABLE {{tables.items}}", &[])
        .await
        .unwrap();
    test.execute(ITEMS_TABLE, &[]).await.unwrap();
    test.copy_records_to_table("items", ITEM_COLUMNS, &items(3, 2))
        .await
        .unwrap();
    assert_eq!(describes(&test).await, start);
    assert_eq!(count(&test, "items").await, 2);

    // Recreated with other types and another column order.
    test.execute("DROP TABLE {{tables.items}}", &[])
        .await
        .unwrap();
    test.execute(
        "CREATE TABLE {{tables.items}} (qty float4, id int4, name text)",
        &[],
    )
    .await
    .unwrap();
    test.copy_records_to_table("items", ITEM_COLUMNS, [(5i32, "e", Some(0.25f32))])
        .await
        .unwrap();
    assert_eq!(describes(&test).await, start + 1);
    let back: Vec<(i32, String, Option<f32>)> = test
        .fetch_all_as("SELECT id, name, qty FROM {{tables.items}}", &[])
        .await
        .unwrap();
    assert_eq!(back, [(5, "e".to_string(), Some(0.25))]);
    assert_eq!(pooled_pid(&test).await, pid);

    // Dropped: the COPY's lock on the table reports it missing before any
    // COPY is sent, so the error is typed and the connection kept.
    test.execute("DROP TABLE {{tables.items}}", &[])
        .await
        .unwrap();
    for _ in 0..2 {
        let err = test
            .copy_records_to_table("items", ITEM_COLUMNS, [(6i32, "f", Some(1f32))])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::UndefinedTable(_)), "{err:?}");
        assert_eq!(pooled_pid(&test).await, pid, "the connection was replaced");
    }
    test.execute(ITEMS_TABLE, &[]).await.unwrap();
    assert_unharmed(&test, pid, 0).await;

    // In a transaction the COPY's savepoint is rolled back and the
    // transaction stays usable.
    test.copy_records_to_table("items", ITEM_COLUMNS, &items(1, 1))
        .await
        .unwrap();
    test.execute("DROP TABLE {{tables.items}}", &[])
        .await
        .unwrap();
    let tx = test.transaction().await.unwrap();
    let err = tx
        .copy_records_to_table("items", ITEM_COLUMNS, &items(2, 1))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UndefinedTable(_)), "{err:?}");
    tx.execute(ITEMS_TABLE, &[]).await.unwrap();
    tx.copy_records_to_table("items", ITEM_COLUMNS, &items(2, 1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count(&test, "items").await, 1);
    assert_eq!(pooled_pid(&test).await, pid, "the connection was replaced");
}

#[tokio::test]
async fn copy_in_a_transaction_after_alter_table_is_refreshed_under_its_savepoint() {
    let test = single_connection().await;
    let pid = pooled_pid(&test).await;
    test.copy_records_to_table("items", ITEM_COLUMNS, [(1i64, "a", Some(1i32))])
        .await
        .unwrap();

    // ALTER and COPY in one transaction: the cached COPY starts, is found
    // stale and abandoned, its savepoint rolled back to (not the ALTER or
    // the INSERT before it), and the COPY runs again with float4.
    let before = describes(&test).await;
    let tx = test.transaction().await.unwrap();
    tx.execute("INSERT INTO {{tables.items}} VALUES (2, 'b', 2)", &[])
        .await
        .unwrap();
    tx.execute("ALTER TABLE {{tables.items}} ALTER qty TYPE float4", &[])
        .await
        .unwrap();
    let n = tx
        .copy_records_to_table("items", ITEM_COLUMNS, [(3i64, "c", Some(3.5f32))])
        .await
        .unwrap();
    assert_eq!(n, 1);
    // The transaction is usable, and the refreshed entry serves it again.
    tx.copy_records_to_table("items", ITEM_COLUMNS, [(4i64, "d", Some(4.5f32))])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(describes(&test).await, before + 1);
    assert_eq!(
        qty_column(&test).await,
        [
            (1, Some(1.0)),
            (2, Some(2.0)),
            (3, Some(3.5)),
            (4, Some(4.5))
        ]
    );

    // A transaction whose ALTER is rolled back: the entry it cached
    // (int8) is stale again afterwards, and found so.
    let tx = test.transaction().await.unwrap();
    tx.execute("ALTER TABLE {{tables.items}} ALTER qty TYPE int8", &[])
        .await
        .unwrap();
    tx.copy_records_to_table("items", ITEM_COLUMNS, [(5i64, "e", Some(5i64))])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    test.copy_records_to_table("items", ITEM_COLUMNS, [(5i64, "e", Some(5.5f32))])
        .await
        .unwrap();

    // ALTER outside, COPY inside.
    test.execute("ALTER TABLE {{tables.items}} ALTER qty TYPE float8", &[])
        .await
        .unwrap();
    let tx = test.transaction().await.unwrap();
    tx.copy_records_to_table("items", ITEM_COLUMNS, [(6i64, "f", Some(6.25f64))])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        qty_column(&test).await,
        [
            (1, Some(1.0)),
            (2, Some(2.0)),
            (3, Some(3.5)),
            (4, Some(4.5)),
            (5, Some(5.5)),
            (6, Some(6.25))
        ]
    );
    assert_eq!(pooled_pid(&test).await, pid);
}

/// Under REPEATABLE READ a query of the catalog sees the table as of the
/// transaction's snapshot, while the COPY sees it as last committed, so the
/// catalog cannot vouch for a cached description there.
#[tokio::test]
async fn repeatable_read_does_not_trust_its_snapshot_of_the_catalog() {
    let test = TestDatabase::with_config(|c| c.with_pool_size(2, 2))
        .await
        .unwrap();
    with_tables(&test).await;
    test.copy_records_to_table("items", ITEM_COLUMNS, [(1i64, "a", Some(1i32))])
        .await
        .unwrap();
    let opts = TransactionOptions::new().isolation(IsolationLevel::RepeatableRead);
    let tx = test.transaction_opts(opts).await.unwrap();
    // The snapshot is taken here, before the ALTER commits elsewhere.
    let _: i32 = tx.fetch_value("SELECT 1", &[]).await.unwrap();
    test.execute("ALTER TABLE {{tables.items}} ALTER qty TYPE float4", &[])
        .await
        .unwrap();
    let err = tx
        .copy_records_to_table("items", ITEM_COLUMNS, [(2i64, "b", Some(2i32))])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Parameter(e) if e.message().contains("float4")),
        "an int4 was written into a float4 column: {err}"
    );
    tx.copy_records_to_table("items", ITEM_COLUMNS, [(2i64, "b", Some(2.5f32))])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(qty_column(&test).await, [(1, Some(1.0)), (2, Some(2.5))]);
}

/// A cached COPY that arrives while an `ALTER TABLE` is running (its lock
/// held, not yet committed) reads the catalog only after the ALTER commits,
/// as the COPY itself then sees the table.
#[tokio::test]
async fn cached_copy_waits_out_an_alter_table_in_progress() {
    let test = TestDatabase::with_config(|c| c.with_pool_size(2, 2))
        .await
        .unwrap();
    with_tables(&test).await;
    test.copy_records_to_table("items", ITEM_COLUMNS, [(1i64, "a", Some(1i32))])
        .await
        .unwrap();

    for in_transaction in [false, true] {
        let alter = test.transaction().await.unwrap();
        let to = if in_transaction { "int4" } else { "float4" };
        alter
            .execute(
                &format!("ALTER TABLE {{{{tables.items}}}} ALTER qty TYPE {to}"),
                &[],
            )
            .await
            .unwrap();
        let db = test.db().clone();
        let copy = tokio::spawn(async move {
            if in_transaction {
                // Cached as float4 by the first round; the table is going back to int4.
                let tx = db.transaction().await?;
                let n = tx
                    .copy_records_to_table("items", ITEM_COLUMNS, [(3i64, "c", Some(3.25f32))])
                    .await;
                tx.commit().await?;
                n
            } else {
                db.copy_records_to_table("items", ITEM_COLUMNS, [(2i64, "b", Some(2i32))])
                    .await
            }
        });
        // Let the COPY reach the server and wait behind the ALTER's lock.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!copy.is_finished());
        alter.commit().await.unwrap();
        let err = copy.await.unwrap().unwrap_err();
        let wanted = if in_transaction { "int4" } else { "float4" };
        assert!(
            matches!(&err, Error::Parameter(e) if e.message().contains(wanted)),
            "written as the old type: {err}"
        );
        if !in_transaction {
            test.copy_records_to_table("items", ITEM_COLUMNS, [(2i64, "b", Some(2.5f32))])
                .await
                .unwrap();
        }
    }
    assert_eq!(qty_column(&test).await, [(1, Some(1.0)), (2, Some(2.0))]);
}

/// `LOCK TABLE .. ROW EXCLUSIVE` is allowed in a read-only transaction but
/// a COPY FROM is not, and the server would refuse it before copy mode:
/// pgdbm refuses it first, so the transaction and the connection survive.
#[tokio::test]
async fn a_copy_in_a_read_only_transaction_is_refused_before_it_is_sent() {
    let test = single_connection().await;
    let pid = pooled_pid(&test).await;
    let tx = test
        .transaction_opts(TransactionOptions::new().read_only(true))
        .await
        .unwrap();
    let err = tx
        .copy_records_to_table("items", ITEM_COLUMNS, as_records(&items(1, 2)))
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some("25006"), "{err:?}");
    let n: i64 = tx
        .fetch_value("SELECT count(*) FROM {{tables.items}}", &[])
        .await
        .unwrap();
    assert_eq!(n, 0);
    tx.rollback().await.unwrap();
    assert_unharmed(&test, pid, 0).await;
}
