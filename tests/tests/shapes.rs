//! One statement per shape: IN lists bind one array, so any length is one
//! prepared statement; per-schema caches stay within their bound however
//! many schemas a pool serves.

use pgdbm::testing::TestDatabase;

#[derive(pgdbm::Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "items")]
struct Item {
    #[pgdbm(primary_key)]
    id: i32,
    sku: String,
}

#[tokio::test]
async fn in_lists_of_any_length_share_one_prepared_statement() {
    let test = TestDatabase::with_config(|c| c.with_schema("shop"))
        .await
        .unwrap();
    test.create_schema().await.unwrap();
    test.execute(
        "CREATE TABLE {{tables.items}} (id int PRIMARY KEY, sku text NOT NULL)",
        &[],
    )
    .await
    .unwrap();
    test.execute(
        "INSERT INTO {{tables.items}} SELECT g, 'sku-' || g FROM generate_series(1, 100) g",
        &[],
    )
    .await
    .unwrap();

    // A connection of its own, so its prepared statements can be listed.
    let conn = test.acquire().await.unwrap();
    let one = conn
        .select::<Item>()
        .filter(Item::ID.is_in([7]))
        .all()
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    let fifty: Vec<i32> = (1..=50).collect();
    let many = conn
        .select::<Item>()
        .filter(Item::ID.is_in(fifty.clone()))
        .all()
        .await
        .unwrap();
    assert_eq!(many.len(), 50);
    let none = conn
        .select::<Item>()
        .filter(Item::ID.is_in(Vec::<i32>::new()))
        .all()
        .await
        .unwrap();
    assert!(none.is_empty(), "an empty list matches nothing");
    let rest = conn
        .select::<Item>()
        .filter(Item::ID.not_in(fifty))
        .count()
        .await
        .unwrap();
    assert_eq!(rest, 50);
    let all = conn
        .select::<Item>()
        .filter(Item::ID.not_in(Vec::<i32>::new()))
        .count()
        .await
        .unwrap();
    assert_eq!(all, 100, "an empty NOT IN list matches everything");

    let prepared: Vec<String> = conn
        .fetch_all(
            "SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%\"shop\".\"items\"%ANY(%' \
             AND statement NOT LIKE '%count(%'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        prepared.len(),
        1,
        "lists of 1, 50 and 0 values are one statement: {prepared:#?}"
    );
}

#[tokio::test]
async fn a_pool_keeps_the_caches_of_at_most_its_bound_of_schemas() {
    let test = TestDatabase::with_config(|mut c| {
        c.schema_cache_size = 100;
        c
    })
    .await
    .unwrap();
    let pool = test.pool().clone();
    for i in 0..2_000 {
        let db = pool.database(Some(&format!("tenant_{i}"))).unwrap();
        // Expanding a template fills the schema's cache.
        assert_eq!(db.render("{{schema}}").unwrap(), format!("\"tenant_{i}\""));
    }
    let stats = test.pool_stats().await.unwrap();
    assert_eq!(stats.cached_schemas, 100);
    // A schema whose cache was dropped still works: it is rebuilt.
    let early = pool.database(Some("tenant_0")).unwrap();
    assert_eq!(early.fetch_value::<i32>("SELECT 1", &[]).await.unwrap(), 1);
    assert_eq!(test.pool_stats().await.unwrap().cached_schemas, 100);
}
