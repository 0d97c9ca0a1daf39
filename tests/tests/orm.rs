//! The ORM helpers against a real server, each in two tenant schemas of one
//! database: keyset pagination, DDL from the struct, enums and relations.

use pgdbm::testing::TestDatabase;
use pgdbm::{Cursor, Database, Error, Table};

// ---------------------------------------------------------------------------
// Keyset pagination
// ---------------------------------------------------------------------------

#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "items")]
struct Item {
    #[pgdbm(primary_key, generated)]
    id: i64,
    score: i32,
    name: String,
}

async fn tenants(test: &TestDatabase, names: [&str; 2]) -> [Database; 2] {
    names.map(|name| test.with_schema(name).unwrap())
}

async fn create_items(db: &Database) {
    db.create_schema().await.unwrap();
    db.execute(
        "CREATE TABLE {{tables.items}} (id bigserial PRIMARY KEY, score int NOT NULL,
                                          name text NOT NULL)",
        &[],
    )
    .await
    .unwrap();
    db.execute("CREATE INDEX ON {{tables.items}} (score, id)", &[])
        .await
        .unwrap();
}

async fn add_items(db: &Database, prefix: &str, scores: &[i32]) {
    let rows: Vec<Item> = scores
        .iter()
        .enumerate()
        .map(|(i, &score)| Item {
            id: 0,
            score,
            name: format!("{prefix}{i}"),
        })
        .collect();
    db.insert_many(&rows).await.unwrap();
}

type Ordering = for<'a> fn(pgdbm::Select<'a, Item>) -> pgdbm::Select<'a, Item>;

fn by_id(q: pgdbm::Select<'_, Item>) -> pgdbm::Select<'_, Item> {
    q.order_by(Item::ID.asc())
}
fn score_asc(q: pgdbm::Select<'_, Item>) -> pgdbm::Select<'_, Item> {
    q.order_by(Item::SCORE.asc()).order_by(Item::ID.asc())
}
fn score_desc(q: pgdbm::Select<'_, Item>) -> pgdbm::Select<'_, Item> {
    q.order_by(Item::SCORE.desc()).order_by(Item::ID.desc())
}
fn mixed(q: pgdbm::Select<'_, Item>) -> pgdbm::Select<'_, Item> {
    q.order_by(Item::SCORE.desc()).order_by(Item::ID.asc())
}

/// Every page of the query, `size` at a time, following `next`.
async fn walk(db: &Database, size: u64, query: Ordering) -> Vec<Vec<Item>> {
    let mut pages = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let mut q = query(db.select::<Item>()).limit(size);
        if let Some(c) = cursor.take() {
            q = q.after(c);
        }
        let page = q.page().await.unwrap();
        pages.push(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages.len() < 100, "pagination does not end");
    }
    pages
}

#[tokio::test]
async fn keyset_sql_uses_row_values_or_the_expanded_form() {
    let test = TestDatabase::new().await.unwrap();
    let app = test.with_schema("app").unwrap();
    let cursor = Cursor::from_token("20:000000000000002a").unwrap();
    let cursor2 = Cursor::from_token("23:00000001.20:000000000000002a").unwrap();
    let cols = r#""app"."items"."id", "app"."items"."score", "app"."items"."name""#;

    let one = app
        .select::<Item>()
        .order_by(Item::ID.asc())
        .after(cursor.clone())
        .limit(10)
        .to_sql()
        .unwrap();
    assert_eq!(
        one,
        format!(
            r#"SELECT {cols} FROM "app"."items" WHERE "app"."items"."id" > $1 ORDER BY "app"."items"."id" ASC LIMIT $2"#
        )
    );

    let same = app
        .select::<Item>()
        .filter(Item::NAME.like("a%"))
        .order_by(Item::SCORE.desc())
        .order_by(Item::ID.desc())
        .after(cursor2.clone())
        .limit(10)
        .to_sql()
        .unwrap();
    assert_eq!(
        same,
        format!(
            r#"SELECT {cols} FROM "app"."items" WHERE "app"."items"."name" LIKE $1 AND ("app"."items"."score", "app"."items"."id") < ($2, $3) ORDER BY "app"."items"."score" DESC, "app"."items"."id" DESC LIMIT $4"#
        )
    );

    // Mixed directions: the expanded form (each placeholder binds the cursor
    // value it names, so the first is sent three times).
    let mixed = app
        .select::<Item>()
        .order_by(Item::SCORE.desc())
        .order_by(Item::ID.asc())
        .after(cursor2.clone())
        .to_sql()
        .unwrap();
    assert_eq!(
        mixed,
        format!(
            r#"SELECT {cols} FROM "app"."items" WHERE "app"."items"."score" <= $1 AND ("app"."items"."score" < $2 OR ("app"."items"."score" = $3 AND "app"."items"."id" > $4)) ORDER BY "app"."items"."score" DESC, "app"."items"."id" ASC"#
        )
    );

    // `before` reads backwards: flipped comparison, reversed ORDER BY.
    let back = app
        .select::<Item>()
        .order_by(Item::ID.asc())
        .before(cursor)
        .limit(10)
        .to_sql()
        .unwrap();
    assert_eq!(
        back,
        format!(
            r#"SELECT {cols} FROM "app"."items" WHERE "app"."items"."id" < $1 ORDER BY "app"."items"."id" DESC LIMIT $2"#
        )
    );
}

#[tokio::test]
async fn pages_cover_each_tenant_exactly_and_never_cross() {
    let test = TestDatabase::new().await.unwrap();
    let [north, south] = tenants(&test, ["north", "south"]).await;
    for db in [&north, &south] {
        create_items(db).await;
    }
    add_items(&north, "n", &[5, 3, 9, 3, 1, 7, 3, 8, 2, 6, 4]).await;
    add_items(&south, "s", &[1, 2, 3]).await;

    for (db, prefix, total) in [(&north, "n", 11), (&south, "s", 3)] {
        // One column.
        let pages = walk(db, 4, by_id).await;
        let all: Vec<Item> = pages.concat();
        assert_eq!(all.len(), total);
        assert!(all.iter().all(|i| i.name.starts_with(prefix)));
        assert!(all.windows(2).all(|w| w[0].id < w[1].id));
        assert!(pages.iter().all(|p| p.len() <= 4));

        // Several columns in one direction, with ties on the first.
        for order in [score_asc as Ordering, score_desc] {
            let expected = order(db.select::<Item>()).all().await.unwrap();
            for size in [1, 2, 3, 5, 20] {
                let paged = walk(db, size, order).await.concat();
                assert_eq!(paged, expected, "size {size}");
            }
        }

        // Mixed directions: the expanded form.
        let expected = mixed(db.select::<Item>()).all().await.unwrap();
        for size in [1, 2, 4] {
            assert_eq!(walk(db, size, mixed).await.concat(), expected);
        }
    }

    // A cursor from one tenant used on the other selects the other's rows
    // after those values, never the first tenant's.
    let first = north
        .select::<Item>()
        .order_by(Item::ID.asc())
        .limit(2)
        .page()
        .await
        .unwrap();
    let elsewhere = south
        .select::<Item>()
        .order_by(Item::ID.asc())
        .after(first.next.unwrap())
        .all()
        .await
        .unwrap();
    assert!(elsewhere.iter().all(|i| i.name.starts_with('s')));
}

#[tokio::test]
async fn pages_are_stable_under_concurrent_inserts_and_go_back() {
    let test = TestDatabase::new().await.unwrap();
    let [a, b] = tenants(&test, ["tenant_a", "tenant_b"]).await;
    for db in [&a, &b] {
        create_items(db).await;
        add_items(db, "old", &[10, 20, 30, 40, 50, 60]).await;
    }
    let order = score_asc;

    let first = order(a.select::<Item>()).limit(2).page().await.unwrap();
    assert_eq!(scores(&first.items), [10, 20]);
    assert!(first.prev.is_none());
    // Rows land before and after the cursor, in both tenants, between pages.
    for db in [&a, &b] {
        add_items(db, "new", &[5, 15, 25, 35]).await;
    }
    let second = order(a.select::<Item>())
        .after(first.next.clone().unwrap())
        .limit(2)
        .page()
        .await
        .unwrap();
    // Nothing repeated, nothing of the old rows skipped: 25 is new and after
    // the cursor, so it belongs here; 5 and 15 are before it.
    assert_eq!(scores(&second.items), [25, 30]);
    let rest = order(a.select::<Item>())
        .after(second.next.clone().unwrap())
        .limit(10)
        .page()
        .await
        .unwrap();
    assert_eq!(scores(&rest.items), [35, 40, 50, 60]);
    assert!(rest.next.is_none());

    // Back from the second page: the rows just before it, in order.
    let back = order(a.select::<Item>())
        .before(second.prev.clone().unwrap())
        .limit(2)
        .page()
        .await
        .unwrap();
    assert_eq!(scores(&back.items), [15, 20]);
    assert!(back.prev.is_some(), "5 and 10 come before");
    assert_eq!(back.next, first.next);
    let start = order(a.select::<Item>())
        .before(back.prev.unwrap())
        .limit(5)
        .page()
        .await
        .unwrap();
    assert_eq!(scores(&start.items), [5, 10]);
    assert!(start.prev.is_none());

    // A token round trip continues the same query; count honours the cursor.
    let token = first.next.unwrap().to_token();
    let resumed = order(a.select::<Item>())
        .after(Cursor::from_token(&token).unwrap())
        .count()
        .await
        .unwrap();
    assert_eq!(resumed, 6); // 25, 30, 35, 40, 50, 60
    assert_eq!(b.select::<Item>().count().await.unwrap(), 10);
}

#[tokio::test]
async fn paging_while_another_task_inserts_sees_every_row_once() {
    let test = TestDatabase::new().await.unwrap();
    let [a, b] = tenants(&test, ["live_a", "live_b"]).await;
    for db in [&a, &b] {
        create_items(db).await;
    }
    let scores: Vec<i32> = (0..60).map(|i| (i * 7) % 20).collect();
    add_items(&a, "old", &scores).await;
    let before: Vec<i64> = a
        .select::<Item>()
        .columns(Item::ID)
        .all()
        .await
        .unwrap()
        .into_iter()
        .map(|(id,)| id)
        .collect();

    // Inserts into both tenants, scores all over the range, while pages are read.
    let writer = {
        let (a, b) = (a.clone(), b.clone());
        tokio::spawn(async move {
            for round in 0..20 {
                add_items(&a, "new", &[round % 20, (round * 3) % 20]).await;
                add_items(&b, "other", &[round]).await;
                tokio::task::yield_now().await;
            }
        })
    };
    let mut seen = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let mut q = score_asc(a.select::<Item>()).limit(7);
        if let Some(c) = cursor.take() {
            q = q.after(c);
        }
        let page = q.page().await.unwrap();
        assert!(page.items.iter().all(|i| !i.name.starts_with("other")));
        seen.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    writer.await.unwrap();
    // In order, no row twice, and every row that was there from the start.
    assert!(
        seen.windows(2)
            .all(|w| (w[0].score, w[0].id) < (w[1].score, w[1].id))
    );
    let ids: std::collections::HashSet<i64> = seen.iter().map(|i| i.id).collect();
    assert_eq!(ids.len(), seen.len());
    assert!(before.iter().all(|id| ids.contains(id)));
}

fn scores(items: &[Item]) -> Vec<i32> {
    items.iter().map(|i| i.score).collect()
}

#[tokio::test]
async fn keyset_misuse_is_an_error_before_anything_is_sent() {
    let test = TestDatabase::new().await.unwrap();
    let [a, _] = tenants(&test, ["ka", "kb"]).await;
    create_items(&a).await;
    add_items(&a, "x", &[1, 2, 3]).await;

    let no_order = a.select::<Item>().limit(2).page().await;
    assert!(matches!(no_order, Err(Error::Config(_))), "{no_order:?}");

    let page = a
        .select::<Item>()
        .order_by(Item::SCORE.asc())
        .order_by(Item::ID.asc())
        .limit(1)
        .page()
        .await
        .unwrap();
    let cursor = page.next.unwrap();
    assert_eq!(cursor.len(), 2);
    // A cursor for two columns on a query ordered by one.
    let wrong_width = a
        .select::<Item>()
        .order_by(Item::ID.asc())
        .after(cursor.clone())
        .all()
        .await;
    assert!(
        matches!(wrong_width, Err(Error::Config(_))),
        "{wrong_width:?}"
    );
    // A cursor of (int, bigint) on (text, bigint): refused by type, not
    // reinterpreted.
    let wrong_type = a
        .select::<Item>()
        .order_by(Item::NAME.asc())
        .order_by(Item::ID.asc())
        .after(cursor)
        .all()
        .await;
    assert!(wrong_type.is_err(), "{wrong_type:?}");
    assert!(Cursor::from_token("20:zz").is_err());
}

#[tokio::test]
async fn keyset_conditions_use_the_index() {
    let test = TestDatabase::new().await.unwrap();
    let [a, _] = tenants(&test, ["ia", "ib"]).await;
    create_items(&a).await;
    a.execute(
        "INSERT INTO {{tables.items}} (score, name)
         SELECT g % 100, 'n' || g FROM generate_series(1, 20000) g",
        &[],
    )
    .await
    .unwrap();
    a.execute("ANALYZE {{tables.items}}", &[]).await.unwrap();
    let page = a
        .select::<Item>()
        .order_by(Item::SCORE.asc())
        .order_by(Item::ID.asc())
        .limit(10)
        .page()
        .await
        .unwrap();
    let next = page.next.unwrap();
    let q = a
        .select::<Item>()
        .order_by(Item::SCORE.asc())
        .order_by(Item::ID.asc())
        .after(next.clone())
        .limit(10);
    let sql = q.to_sql().unwrap();
    // Explain the statement as the builder sends it, with the cursor's
    // values bound the same way (as raw, typed parameters).
    let explain = format!("EXPLAIN {sql}");
    let last = page.items.last().unwrap();
    let plan = a
        .fetch_all(&explain, &[&last.score, &last.id, &10i64])
        .await
        .unwrap();
    let plan: Vec<String> = plan.iter().map(|r| r.get::<String>(0usize)).collect();
    let plan = plan.join("\n");
    assert!(plan.contains("Index"), "{plan}");
    assert!(!plan.contains("Seq Scan"), "{plan}");
    assert!(plan.contains("ROW(score, id) > ROW("), "{plan}");
}

// ---------------------------------------------------------------------------
// DDL from the struct
// ---------------------------------------------------------------------------

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
struct Prefs {
    dark: bool,
}

/// Every type the derive maps, each checked by a round trip through the
/// table it creates.
#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "everything")]
struct Everything {
    #[pgdbm(primary_key, generated)]
    id: i64,
    small: i16,
    int: i32,
    real: f32,
    double: f64,
    flag: bool,
    text: String,
    bytes: Vec<u8>,
    tags: Vec<String>,
    maybe: Option<i32>,
    #[pgdbm(json)]
    prefs: Prefs,
    #[pgdbm(json)]
    maybe_prefs: Option<Prefs>,
    value: serde_json::Value,
    day: chrono::NaiveDate,
    at: chrono::DateTime<chrono::Utc>,
    local: chrono::NaiveDateTime,
    t_at: time::OffsetDateTime,
    t_day: time::Date,
    uuid: uuid::Uuid,
    price: rust_decimal::Decimal,
    #[pgdbm(sql_type = "varchar(20)")]
    code: String,
    #[pgdbm(generated)]
    created_at: chrono::DateTime<chrono::Utc>,
    #[pgdbm(skip)]
    cache: Option<String>,
}

#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "Member \"List\"")]
struct Membership {
    #[pgdbm(primary_key)]
    org: i32,
    #[pgdbm(primary_key, column = "Member")]
    member: i64,
    role: Option<String>,
}

#[derive(Table, Debug)]
struct Aliased {
    #[pgdbm(primary_key)]
    id: MyId,
}
type MyId = i64;

#[test]
fn create_table_sql_maps_rust_types_and_quotes_everything() {
    let sql = Everything::create_table_sql(Some("app")).unwrap();
    assert_eq!(
        sql,
        r#"CREATE TABLE IF NOT EXISTS "app"."everything" (
    "id" bigint GENERATED BY DEFAULT AS IDENTITY,
    "small" smallint NOT NULL,
    "int" integer NOT NULL,
    "real" real NOT NULL,
    "double" double precision NOT NULL,
    "flag" boolean NOT NULL,
    "text" text NOT NULL,
    "bytes" bytea NOT NULL,
    "tags" text[] NOT NULL,
    "maybe" integer,
    "prefs" jsonb NOT NULL,
    "maybe_prefs" jsonb,
    "value" jsonb NOT NULL,
    "day" date NOT NULL,
    "at" timestamptz NOT NULL,
    "local" timestamp NOT NULL,
    "t_at" timestamptz NOT NULL,
    "t_day" date NOT NULL,
    "uuid" uuid NOT NULL,
    "price" numeric NOT NULL,
    "code" varchar(20) NOT NULL,
    "created_at" timestamptz DEFAULT now() NOT NULL,
    PRIMARY KEY ("id")
)"#
    );
    // A composite key; hostile names are quoted, never folded.
    assert_eq!(
        pgdbm::create_table_sql::<Membership>(Some(r#"te"nant"#)).unwrap(),
        r#"CREATE TABLE IF NOT EXISTS "te""nant"."Member ""List""" (
    "org" integer NOT NULL,
    "Member" bigint NOT NULL,
    "role" text,
    PRIMARY KEY ("org", "Member")
)"#
    );
    assert!(
        Membership::create_table_sql(None)
            .unwrap()
            .starts_with(r#"CREATE TABLE IF NOT EXISTS "Member ""List""" ("#)
    );
    // An alias is not recognised: the error names the column.
    match Aliased::create_table_sql(None) {
        Err(Error::Config(e)) => assert!(e.to_string().contains("aliased.id"), "{e}"),
        other => panic!("{other:?}"),
    }
}

fn everything(n: i32) -> Everything {
    use chrono::TimeZone;
    Everything {
        id: 0,
        small: 7,
        int: n,
        real: 1.5,
        double: 2.25,
        flag: true,
        text: format!("row {n}"),
        bytes: vec![0, 1, 255],
        tags: vec!["a".into(), "b".into()],
        maybe: None,
        prefs: Prefs { dark: true },
        maybe_prefs: Some(Prefs { dark: false }),
        value: serde_json::json!({"k": [1, 2]}),
        day: chrono::NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
        at: chrono::Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
        local: chrono::NaiveDate::from_ymd_opt(2024, 1, 2)
            .unwrap()
            .and_hms_opt(3, 4, 5)
            .unwrap(),
        t_at: time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        t_day: time::Date::from_calendar_date(2024, time::Month::March, 1).unwrap(),
        uuid: uuid::Uuid::from_u128(0x1234),
        price: rust_decimal::Decimal::new(12345, 2),
        code: "X-1".into(),
        created_at: chrono::Utc.timestamp_opt(0, 0).unwrap(),
        cache: None,
    }
}

#[tokio::test]
async fn create_table_makes_a_working_table_in_each_tenant() {
    let test = TestDatabase::new().await.unwrap();
    let [a, b] = tenants(&test, ["ddl_a", "ddl_b"]).await;
    for db in [&a, &b] {
        db.create_schema().await.unwrap();
        db.create_table::<Everything>().await.unwrap();
        // IF NOT EXISTS: a second run is a no-op.
        db.create_table::<Everything>().await.unwrap();
        db.create_table::<Membership>().await.unwrap();
    }
    let saved = a
        .insert(&everything(1))
        .returning::<Everything>()
        .one()
        .await
        .unwrap();
    assert!(saved.id > 0);
    assert!(
        saved.created_at > everything(1).created_at,
        "now() filled it"
    );
    let found = a.find::<Everything>(&saved.id).await.unwrap().unwrap();
    assert_eq!(found, saved);
    let mut expected = everything(1);
    expected.id = saved.id;
    expected.created_at = saved.created_at;
    assert_eq!(found, expected);
    assert_eq!(b.select::<Everything>().count().await.unwrap(), 0);

    // The composite key is the table's primary key.
    let m = Membership {
        org: 1,
        member: 2,
        role: None,
    };
    b.insert(&m).await.unwrap();
    assert!(matches!(b.insert(&m).await, Err(Error::UniqueViolation(_))));
    assert_eq!(b.find::<Membership>(&(1, 2)).await.unwrap(), Some(m));
    assert_eq!(a.select::<Membership>().count().await.unwrap(), 0);

    // Through the generic executor, in a transaction.
    async fn make(ex: &impl pgdbm::Executor) -> pgdbm::Result<()> {
        ex.create_table::<Item>().await
    }
    let tx = a.transaction().await.unwrap();
    make(&tx).await.unwrap();
    tx.commit().await.unwrap();
    assert!(a.table_exists("items").await.unwrap());
    assert!(!b.table_exists("items").await.unwrap());
}

// ---------------------------------------------------------------------------
// Enums
// ---------------------------------------------------------------------------

#[derive(pgdbm::Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[pgdbm(type_name = "order_status", rename_all = "snake_case")]
enum Status {
    Pending,
    PaidInFull,
    #[pgdbm(rename = "void")]
    Cancelled,
}

#[derive(pgdbm::Enum, Debug, Clone, Copy, PartialEq)]
#[pgdbm(text, rename_all = "SCREAMING-KEBAB-CASE")]
enum Channel {
    WebShop,
    Phone,
}

#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "orders")]
struct Order {
    #[pgdbm(primary_key, generated)]
    id: i64,
    status: Status,
    channel: Channel,
    previous: Option<Status>,
}

fn order(status: Status, channel: Channel) -> Order {
    Order {
        id: 0,
        status,
        channel,
        previous: None,
    }
}

async fn shop(db: &Database) {
    db.create_schema().await.unwrap();
    db.create_enum::<Status>().await.unwrap();
    // Idempotent, and a text enum needs no type.
    db.create_enum::<Status>().await.unwrap();
    db.create_enum::<Channel>().await.unwrap();
    db.create_table::<Order>().await.unwrap();
}

#[test]
fn enum_labels_types_and_ddl() {
    use pgdbm::Enum;
    assert_eq!(Status::LABELS, ["pending", "paid_in_full", "void"]);
    assert_eq!(Channel::LABELS, ["WEB-SHOP", "PHONE"]);
    assert_eq!(Status::PaidInFull.label(), "paid_in_full");
    assert_eq!(Status::from_label("void"), Some(Status::Cancelled));
    assert_eq!(Status::from_label("Cancelled"), None);
    assert_eq!(
        Order::create_table_sql(Some("t1")).unwrap(),
        r#"CREATE TABLE IF NOT EXISTS "t1"."orders" (
    "id" bigint GENERATED BY DEFAULT AS IDENTITY,
    "status" "t1"."order_status" NOT NULL,
    "channel" text NOT NULL,
    "previous" "t1"."order_status",
    PRIMARY KEY ("id")
)"#
    );
}

#[tokio::test]
async fn enums_are_per_tenant_types_usable_everywhere() {
    use futures_util::TryStreamExt;
    let test = TestDatabase::new().await.unwrap();
    let [a, b] = tenants(&test, ["shop_a", "shop_b"]).await;
    for db in [&a, &b] {
        shop(db).await;
    }
    // Each tenant has its own type.
    let types: i64 = a
        .fetch_value(
            "SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE t.typname = 'order_status' AND n.nspname IN ('shop_a', 'shop_b')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(types, 2);

    // Insert and read back through the builder.
    let mut paid = order(Status::PaidInFull, Channel::WebShop);
    paid.previous = Some(Status::Pending);
    a.insert_many(&[paid.clone(), order(Status::Pending, Channel::Phone)])
        .await
        .unwrap();
    b.insert(&order(Status::Cancelled, Channel::Phone))
        .await
        .unwrap();

    // Filters bind the enum as the column's type.
    let found = a
        .select::<Order>()
        .filter(Order::STATUS.eq(Status::PaidInFull))
        .one()
        .await
        .unwrap();
    assert_eq!(found.previous, Some(Status::Pending));
    assert_eq!(found.channel, Channel::WebShop);
    assert_eq!(
        a.select::<Order>()
            .filter(Order::STATUS.is_in([Status::Pending, Status::Cancelled]))
            .count()
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        a.select::<Order>()
            .filter(Order::CHANNEL.eq(Channel::Phone))
            .count()
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        b.select::<Order>()
            .filter(Order::STATUS.eq(Status::PaidInFull))
            .count()
            .await
            .unwrap(),
        0
    );
    // Ordered by the type's label order, not alphabetically.
    let ordered: Vec<(Status,)> = a
        .select::<Order>()
        .columns(Order::STATUS)
        .order_by(Order::STATUS.asc())
        .all()
        .await
        .unwrap();
    assert_eq!(ordered, [(Status::Pending,), (Status::PaidInFull,)]);

    // Raw SQL parameters and values, as the enum type and as text.
    let n: i64 = a
        .fetch_value(
            "SELECT count(*) FROM {{tables.orders}} WHERE status = $1",
            &[&Status::Pending],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    let s: Status = a
        .fetch_value("SELECT $1::text", &[&Status::Cancelled])
        .await
        .unwrap();
    assert_eq!(s, Status::Cancelled);
    let s: Status = b
        .fetch_value("SELECT status FROM {{tables.orders}}", &[])
        .await
        .unwrap();
    assert_eq!(s, Status::Cancelled);

    // COPY in and out.
    let copied = vec![
        order(Status::Cancelled, Channel::WebShop),
        order(Status::Pending, Channel::WebShop),
    ];
    assert_eq!(b.copy_in(&copied).await.unwrap(), 2);
    let out: Vec<Order> = b
        .copy_out::<Order>()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(
        out.iter().filter(|o| o.status == Status::Cancelled).count(),
        2
    );
}

#[tokio::test]
async fn an_unknown_label_is_a_row_mapping_error_naming_it() {
    let test = TestDatabase::new().await.unwrap();
    let [a, b] = tenants(&test, ["lbl_a", "lbl_b"]).await;
    shop(&a).await;
    // Tenant b's type has a label the Rust enum lacks (a newer migration).
    b.create_schema().await.unwrap();
    b.execute(
        "CREATE TYPE {{schema}}.order_status AS ENUM ('pending', 'paid_in_full', 'void', 'disputed')",
        &[],
    )
    .await
    .unwrap();
    // create_enum leaves an existing type alone.
    b.create_enum::<Status>().await.unwrap();
    b.create_table::<Order>().await.unwrap();
    b.execute(
        "INSERT INTO {{tables.orders}} (status, channel) VALUES ('disputed', 'PHONE')",
        &[],
    )
    .await
    .unwrap();
    match b.select::<Order>().all().await {
        Err(Error::RowMapping(e)) => {
            let text = e.to_string();
            assert!(text.contains("'disputed'"), "{text}");
            assert!(text.contains("status"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    // A text enum column with an unknown value, likewise.
    b.execute(
        "UPDATE {{tables.orders}} SET status = 'void', channel = 'FAX'",
        &[],
    )
    .await
    .unwrap();
    match b.select::<Order>().all().await {
        Err(Error::RowMapping(e)) => assert!(e.to_string().contains("'FAX'"), "{e}"),
        other => panic!("{other:?}"),
    }
    // Tenant a is untouched: its type has three labels.
    let labels: i64 = a
        .fetch_value(
            "SELECT count(*) FROM pg_enum WHERE enumtypid = to_regtype('{{schema}}.order_status')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(labels, 3);
    // create_enum inside a transaction, where an error would abort it.
    let tx = a.transaction().await.unwrap();
    tx.create_enum::<Status>().await.unwrap();
    let one: i32 = tx.fetch_value("SELECT 1", &[]).await.unwrap();
    assert_eq!(one, 1);
    tx.commit().await.unwrap();
}

// ---------------------------------------------------------------------------
// Relations
// ---------------------------------------------------------------------------

#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "customers")]
struct Customer {
    #[pgdbm(primary_key, generated)]
    id: i64,
    name: String,
}

#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "invoices")]
struct Invoice {
    #[pgdbm(primary_key, generated)]
    id: i64,
    #[pgdbm(belongs_to = Customer)]
    customer_id: i64,
    total: i32,
    note: Option<String>,
}

/// A nullable foreign key.
#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "tickets")]
struct Ticket {
    #[pgdbm(primary_key, generated)]
    id: i64,
    #[pgdbm(belongs_to = Customer)]
    customer_id: Option<i64>,
}

async fn billing(db: &Database, names: &[&str], invoices: &[(usize, i32)]) -> Vec<Customer> {
    db.create_schema().await.unwrap();
    db.create_table::<Customer>().await.unwrap();
    db.create_table::<Invoice>().await.unwrap();
    let customers: Vec<Customer> = names
        .iter()
        .map(|n| Customer {
            id: 0,
            name: (*n).into(),
        })
        .collect();
    let customers = db
        .insert_many(&customers)
        .returning::<Customer>()
        .all()
        .await
        .unwrap();
    let rows: Vec<Invoice> = invoices
        .iter()
        .map(|&(c, total)| Invoice {
            id: 0,
            customer_id: customers[c].id,
            total,
            note: None,
        })
        .collect();
    db.insert_many(&rows).await.unwrap();
    customers
}

#[tokio::test]
async fn relations_load_in_one_query_per_side_and_per_tenant() {
    let test = TestDatabase::new().await.unwrap();
    let [a, b] = tenants(&test, ["rel_a", "rel_b"]).await;
    // Both tenants number their customers from 1: a key alone must never
    // reach the other tenant's row.
    let ca = billing(
        &a,
        &["Ann", "Bob", "Cy"],
        &[(0, 10), (1, 20), (0, 30), (0, 40)],
    )
    .await;
    let cb = billing(&b, &["Zed"], &[(0, 99)]).await;
    assert_eq!(ca[0].id, cb[0].id);

    // belongs_to.
    let invoices = a
        .select::<Invoice>()
        .order_by(Invoice::ID.asc())
        .all()
        .await
        .unwrap();
    let customers = a
        .load_related::<Customer, _, _>(&invoices, |i| i.customer_id)
        .await
        .unwrap();
    assert_eq!(customers.len(), 2, "distinct keys only");
    let names: Vec<&str> = invoices
        .iter()
        .map(|i| customers[&i.customer_id].name.as_str())
        .collect();
    assert_eq!(names, ["Ann", "Bob", "Ann", "Ann"]);
    let theirs = b
        .load_related::<Customer, _, _>(&invoices[..1], |i| i.customer_id)
        .await
        .unwrap();
    assert_eq!(theirs[&ca[0].id].name, "Zed");

    // The same through the `belongs_to` field, no closure.
    let declared = a.load_belongs_to::<Customer, _>(&invoices).await.unwrap();
    assert_eq!(declared, customers);
    // NULL foreign keys are skipped; unknown ones find nothing.
    a.create_table::<Ticket>().await.unwrap();
    let tickets = [
        Ticket {
            id: 1,
            customer_id: None,
        },
        Ticket {
            id: 2,
            customer_id: Some(ca[2].id),
        },
        Ticket {
            id: 3,
            customer_id: Some(999),
        },
    ];
    let owners_of = a.load_belongs_to::<Customer, _>(&tickets).await.unwrap();
    assert_eq!(owners_of.len(), 1);
    assert_eq!(owners_of[&ca[2].id].name, "Cy");

    // has_many, grouped and in key order; a customer without invoices has
    // no entry.
    let by_customer = a
        .load_many(&ca, |c| c.id, Invoice::CUSTOMER_ID)
        .await
        .unwrap();
    let totals = |c: &Customer| -> Vec<i32> {
        by_customer
            .get(&c.id)
            .map_or(Vec::new(), |v| v.iter().map(|i| i.total).collect())
    };
    assert_eq!(totals(&ca[0]), [10, 30, 40]);
    assert_eq!(totals(&ca[1]), [20]);
    assert!(totals(&ca[2]).is_empty());
    let zed = b
        .load_many(&cb, |c| c.id, Invoice::CUSTOMER_ID)
        .await
        .unwrap();
    assert_eq!(zed[&cb[0].id].len(), 1);
    assert_eq!(zed[&cb[0].id][0].total, 99);

    // No parents: an empty map, nothing sent.
    let none: Vec<Invoice> = Vec::new();
    assert!(
        a.load_related::<Customer, _, _>(&none, |i| i.customer_id)
            .await
            .unwrap()
            .is_empty()
    );

    // Through the generic executor, inside a transaction.
    async fn owners(
        ex: &impl pgdbm::Executor,
        invoices: &[Invoice],
    ) -> pgdbm::Result<std::collections::HashMap<i64, Customer>> {
        ex.load_related::<Customer, _, _>(invoices, |i| i.customer_id)
            .await
    }
    let tx = a.transaction().await.unwrap();
    assert_eq!(owners(&tx, &invoices).await.unwrap().len(), 2);
    tx.commit().await.unwrap();
}
