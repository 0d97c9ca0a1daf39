//! Rows decoded through serde against a real server: `Serde<T>` with
//! `fetch_all_as`/`fetch_as` on a manager, a connection and a transaction,
//! `Row::deserialize`, every SQL type the deserializer reads (checked
//! against the server's own text and the driver's typed values), and the
//! errors, which name the column.

use std::collections::HashMap;

use futures_util::TryStreamExt;
use pgdbm::testing::TestDatabase;
use pgdbm::{Database, Error, Serde};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize, Debug, Clone, PartialEq)]
struct Address {
    city: String,
    zip: Option<String>,
    lines: Vec<String>,
}

#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Status {
    Open,
    Shipped,
}

#[derive(Deserialize, Debug, Clone, PartialEq)]
struct Order {
    id: i64,
    customer: String,
    note: Option<String>,
    qty: Option<i32>,
    weight: f32,
    price: f64,
    paid: bool,
    tags: Vec<String>,
    shipping: Option<Address>,
    meta: serde_json::Value,
    status: Status,
    total: f64,
    total_text: String,
    placed: String,
    blob: Option<Vec<u8>>,
}

async fn orders_db() -> TestDatabase {
    let test = TestDatabase::with_config(|c| c.with_schema("shop"))
        .await
        .unwrap();
    test.execute(
        "CREATE TYPE {{schema}}.status AS ENUM ('open', 'shipped')",
        &[],
    )
    .await
    .unwrap();
    test.execute(
        "CREATE TABLE {{tables.orders}} (
            id bigserial PRIMARY KEY,
            customer text NOT NULL,
            note varchar(200),
            qty int,
            weight real NOT NULL,
            price double precision NOT NULL,
            paid bool NOT NULL,
            tags text[] NOT NULL DEFAULT '{}',
            shipping jsonb,
            meta json NOT NULL DEFAULT '{}',
            status {{schema}}.status NOT NULL DEFAULT 'open',
            total numeric(12, 4) NOT NULL,
            placed timestamptz NOT NULL,
            blob bytea
        )",
        &[],
    )
    .await
    .unwrap();
    test.execute(
        r#"INSERT INTO {{tables.orders}}
             (customer, note, qty, weight, price, paid, tags, shipping, meta, status, total, placed, blob)
           VALUES
             ('ann', 'leave at door', 3, 1.5, 9.75, true, '{"gift","fragile"}',
              '{"city": "Oslo", "zip": "0150", "lines": ["Karl Johans gate 1"]}',
              '{"source": "web", "score": [1, 2.5, null]}', 'shipped', 12345.6789,
              '2024-05-06 07:08:09.5+00', '\x00ff10'),
             ('bob', NULL, NULL, 0.25, -1e10, false, '{}', NULL, '[]', 'open', -0.5,
              '1999-12-31 23:59:59.999999+00', NULL)"#,
        &[],
    )
    .await
    .unwrap();
    test
}

const ORDER_SQL: &str = "SELECT id, customer, note, qty, weight, price, paid, tags, shipping, meta,
                                status, total, total::text AS total_text, placed, blob
                           FROM {{tables.orders}} ORDER BY id";

fn expected_orders() -> Vec<Order> {
    vec![
        Order {
            id: 1,
            customer: "ann".into(),
            note: Some("leave at door".into()),
            qty: Some(3),
            weight: 1.5,
            price: 9.75,
            paid: true,
            tags: vec!["gift".into(), "fragile".into()],
            shipping: Some(Address {
                city: "Oslo".into(),
                zip: Some("0150".into()),
                lines: vec!["Karl Johans gate 1".into()],
            }),
            meta: json!({"source": "web", "score": [1, 2.5, null]}),
            status: Status::Shipped,
            total: 12345.6789,
            total_text: "12345.6789".into(),
            placed: "2024-05-06T07:08:09.500Z".into(),
            blob: Some(vec![0x00, 0xff, 0x10]),
        },
        Order {
            id: 2,
            customer: "bob".into(),
            note: None,
            qty: None,
            weight: 0.25,
            price: -1e10,
            paid: false,
            tags: vec![],
            shipping: None,
            meta: json!([]),
            status: Status::Open,
            total: -0.5,
            total_text: "-0.5000".into(),
            placed: "1999-12-31T23:59:59.999999Z".into(),
            blob: None,
        },
    ]
}

#[tokio::test]
async fn derived_structs_with_options_nested_json_and_arrays() {
    let test = orders_db().await;
    let orders: Vec<Serde<Order>> = test.fetch_all_as(ORDER_SQL, &[]).await.unwrap();
    let orders: Vec<Order> = orders.into_iter().map(Serde::into_inner).collect();
    assert_eq!(orders, expected_orders());

    // fetch_as: the first row, Deref to the value.
    let first: Option<Serde<Order>> = test.fetch_as(ORDER_SQL, &[]).await.unwrap();
    let first = first.unwrap();
    assert_eq!(first.customer, "ann");
    assert_eq!(first.shipping.as_ref().unwrap().city, "Oslo");
    let none: Option<Serde<Order>> = test
        .fetch_as(
            "SELECT * FROM {{tables.orders}} WHERE customer = $1",
            &[&"nobody"],
        )
        .await
        .unwrap();
    assert!(none.is_none());

    // Parameters bind as usual; columns a struct does not name are ignored,
    // even those of a type the deserializer does not read.
    #[derive(Deserialize, Debug, PartialEq)]
    struct Slim {
        customer: String,
        #[serde(default)]
        missing_but_defaulted: i32,
        absent: Option<String>,
    }
    let slim: Vec<Serde<Slim>> = test
        .fetch_all_as(
            "SELECT *, interval '1 day' AS span FROM {{tables.orders}} WHERE paid = $1",
            &[&false],
        )
        .await
        .unwrap();
    assert_eq!(
        slim.into_iter().map(Serde::into_inner).collect::<Vec<_>>(),
        [Slim {
            customer: "bob".into(),
            missing_but_defaulted: 0,
            absent: None
        }]
    );
}

#[tokio::test]
async fn maps_values_and_tuples() {
    let test = orders_db().await;
    let maps: Vec<Serde<HashMap<String, serde_json::Value>>> = test
        .fetch_all_as(
            "SELECT id, customer, note, qty, weight, price, paid, tags, shipping, meta, status, total
               FROM {{tables.orders}} ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(maps.len(), 2);
    let ann = &maps[0];
    assert_eq!(ann.len(), 12);
    assert_eq!(ann["id"], json!(1));
    assert_eq!(ann["customer"], json!("ann"));
    assert_eq!(ann["note"], json!("leave at door"));
    assert_eq!(ann["qty"], json!(3));
    assert_eq!(ann["weight"], json!(1.5));
    assert_eq!(ann["price"], json!(9.75));
    assert_eq!(ann["paid"], json!(true));
    assert_eq!(ann["tags"], json!(["gift", "fragile"]));
    assert_eq!(ann["shipping"]["lines"][0], json!("Karl Johans gate 1"));
    assert_eq!(ann["meta"]["score"], json!([1, 2.5, null]));
    assert_eq!(ann["status"], json!("shipped"));
    // numeric is exact text when nothing asks for a number.
    assert_eq!(ann["total"], json!("12345.6789"));
    let bob = &maps[1];
    assert_eq!(bob["note"], serde_json::Value::Null);
    assert_eq!(bob["qty"], serde_json::Value::Null);
    assert_eq!(bob["shipping"], serde_json::Value::Null);
    assert_eq!(bob["tags"], json!([]));

    // A whole row as one serde_json::Value (an object).
    let value: Option<Serde<serde_json::Value>> = test
        .fetch_as(
            "SELECT customer, qty FROM {{tables.orders}} ORDER BY id DESC",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(value.unwrap().0, json!({"customer": "bob", "qty": null}));

    // Tuples and Vecs read by position.
    let tuples: Vec<Serde<(i64, String, Option<i32>)>> = test
        .fetch_all_as(
            "SELECT id, customer, qty FROM {{tables.orders}} ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(tuples[0].0, (1, "ann".to_string(), Some(3)));
    assert_eq!(tuples[1].0, (2, "bob".to_string(), None));
    let vecs: Vec<Serde<Vec<serde_json::Value>>> = test
        .fetch_all_as("SELECT 1::int2, 'x'::text, NULL::int4", &[])
        .await
        .unwrap();
    assert_eq!(
        vecs[0].0,
        vec![json!(1), json!("x"), serde_json::Value::Null]
    );
    // A tuple shorter than the row is an error naming the first unread column.
    let err = test
        .fetch_all_as::<Serde<(i64,)>>("SELECT 1::int8, 2::int8", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::RowMapping(e) if e.column == "#1" && e.found.contains("2 columns")),
        "{err:?}"
    );
}

#[tokio::test]
async fn arrays_of_every_scalar_type() {
    let test = TestDatabase::new().await.unwrap();

    #[derive(Deserialize, Debug, PartialEq)]
    struct Arrays {
        ints: Vec<i32>,
        smalls: Vec<i16>,
        bigs: Vec<i64>,
        with_nulls: Vec<Option<i32>>,
        floats: Vec<f64>,
        reals: Vec<f32>,
        bools: Vec<bool>,
        texts: Vec<String>,
        varchars: Vec<String>,
        grid: Vec<Vec<i32>>,
        empty: Vec<String>,
        nums: Vec<String>,
        num_floats: Vec<f64>,
        docs: Vec<serde_json::Value>,
        blobs: Vec<Vec<u8>>,
        uuids: Vec<String>,
        dates: Vec<String>,
        null_array: Option<Vec<i32>>,
        three_d: Vec<Vec<Vec<i32>>>,
    }
    let row = test
        .fetch_one(
            r#"SELECT '{1,2,3}'::int4[] AS ints, '{-1,1}'::int2[] AS smalls,
                      ARRAY[9007199254740993]::int8[] AS bigs,
                      '{1,NULL,3}'::int4[] AS with_nulls, '{0.5,-2}'::float8[] AS floats,
                      '{1.25}'::float4[] AS reals, '{t,f}'::bool[] AS bools,
                      '{"a b","c,d","é"}'::text[] AS texts, '{x}'::varchar[] AS varchars,
                      '{{1,2},{3,4},{5,6}}'::int4[] AS grid, '{}'::text[] AS empty,
                      '{1.10,-0.001,NaN}'::numeric[] AS nums,
                      '{1.5,2}'::numeric[] AS num_floats,
                      ARRAY['{"a":1}'::jsonb, 'null'::jsonb, '[2]'::jsonb] AS docs,
                      ARRAY['\x0102'::bytea, ''::bytea] AS blobs,
                      ARRAY['00112233-4455-6677-8899-aabbccddeeff'::uuid] AS uuids,
                      ARRAY['2024-02-29'::date, 'infinity'::date] AS dates,
                      NULL::int4[] AS null_array,
                      '{{{1},{2}},{{3},{4}}}'::int4[] AS three_d"#,
            &[],
        )
        .await
        .unwrap()
        .unwrap();
    let arrays: Arrays = row.deserialize().unwrap();
    assert_eq!(
        arrays,
        Arrays {
            ints: vec![1, 2, 3],
            smalls: vec![-1, 1],
            bigs: vec![9_007_199_254_740_993],
            with_nulls: vec![Some(1), None, Some(3)],
            floats: vec![0.5, -2.0],
            reals: vec![1.25],
            bools: vec![true, false],
            texts: vec!["a b".into(), "c,d".into(), "é".into()],
            varchars: vec!["x".into()],
            grid: vec![vec![1, 2], vec![3, 4], vec![5, 6]],
            empty: vec![],
            nums: vec!["1.10".into(), "-0.001".into(), "NaN".into()],
            num_floats: vec![1.5, 2.0],
            docs: vec![json!({"a": 1}), serde_json::Value::Null, json!([2])],
            blobs: vec![vec![1, 2], vec![]],
            uuids: vec!["00112233-4455-6677-8899-aabbccddeeff".into()],
            dates: vec!["2024-02-29".into(), "infinity".into()],
            null_array: None,
            three_d: vec![vec![vec![1], vec![2]], vec![vec![3], vec![4]]],
        }
    );

    // A NULL element into a non-Option element type names the column.
    let err = test
        .fetch_one(
            "SELECT '{1,2}'::int4[] AS ok, '{1,NULL}'::int4[] AS with_nulls",
            &[],
        )
        .await
        .unwrap()
        .unwrap()
        .deserialize::<HashMap<String, Vec<i32>>>()
        .unwrap_err();
    assert!(
        matches!(&err, Error::RowMapping(e) if e.column == "with_nulls" && e.found.contains("NULL")),
        "{err:?}"
    );
}

#[tokio::test]
async fn numeric_text_is_exactly_the_servers() {
    let test = TestDatabase::new().await.unwrap();
    let values = [
        "0",
        "0.0",
        "1",
        "-1",
        "12345.6789",
        "-12345.6789",
        "0.0001",
        "0.00000001",
        "0.5",
        "10000",
        "100000000",
        "1200000000.000",
        "99999999999999999999999999999999999999.123456789012345678901234567890",
        "-0.000000000000000000000000000000000001",
        "3.14159265358979323846",
        "1e-20",
        "1e20",
        "123.4500",
        "NaN",
        "Infinity",
        "-Infinity",
    ];
    for text in values {
        let row = test
            .fetch_one(
                "SELECT $1::text::numeric AS n, $1::text::numeric::text AS t",
                &[&text],
            )
            .await
            .unwrap()
            .unwrap();
        let (n, t): (String, String) = row.deserialize().unwrap();
        assert_eq!(n, t, "numeric {text}");
        // The decimal feature's type agrees where it holds the value exactly.
        if text.len() <= 20 && !text.contains("Inf") && !text.contains("NaN") {
            let decimal: rust_decimal::Decimal = row.get("n");
            assert_eq!(decimal.to_string(), n, "numeric {text}");
        }
    }
    // Integer and float fields read a numeric as a number.
    #[derive(Deserialize)]
    struct Amounts {
        whole: i64,
        big: u128,
        half: f64,
        real: f32,
    }
    let a: Amounts = test
        .fetch_one(
            "SELECT 42.000::numeric AS whole, 340282366920938463463374607431768211455::numeric AS big,
                    0.5::numeric AS half, 1.25::numeric AS real",
            &[],
        )
        .await
        .unwrap()
        .unwrap()
        .deserialize()
        .unwrap();
    assert_eq!((a.whole, a.big, a.half, a.real), (42, u128::MAX, 0.5, 1.25));
    // A fraction is not an integer.
    let err = test
        .fetch_one("SELECT 4.5::numeric AS amount", &[])
        .await
        .unwrap()
        .unwrap()
        .deserialize::<HashMap<String, i64>>()
        .unwrap_err();
    assert!(
        matches!(&err, Error::RowMapping(e) if e.column == "amount" && e.found.starts_with("SQL type numeric: invalid type: string \"4.5\"")),
        "{err:?}"
    );
}

#[tokio::test]
async fn dates_times_and_uuids_match_chrono_uuid_and_the_server() {
    let test = TestDatabase::new().await.unwrap();
    let dates = [
        "2000-01-01",
        "1999-12-31",
        "1970-01-01",
        "2024-02-29",
        "2100-03-01",
        "1600-02-29",
        "0001-01-01",
        "0001-12-31 BC",
        "0044-03-15 BC",
        "4713-11-24 BC",
        "9999-12-31",
        "10000-01-01",
        "262000-06-30",
    ];
    for date in dates {
        let row = test
            .fetch_one(
                "SELECT $1::text::date AS d, ($1::text::date + time '13:14:15.25') AS ts,
                        ($1::text::date + time '00:00:00.000007') AT TIME ZONE 'UTC' AS tz",
                &[&date],
            )
            .await
            .unwrap()
            .unwrap();
        let (d, ts, tz): (String, String, String) = row.deserialize().unwrap();
        // chrono's Debug (its serde form) is the reference.
        let chrono_d: chrono::NaiveDate = row.get("d");
        let chrono_ts: chrono::NaiveDateTime = row.get("ts");
        let chrono_tz: chrono::DateTime<chrono::Utc> = row.get("tz");
        assert_eq!(d, format!("{chrono_d:?}"), "date {date}");
        assert_eq!(ts, format!("{chrono_ts:?}"), "timestamp {date}");
        assert_eq!(tz, format!("{chrono_tz:?}"), "timestamptz {date}");
        // RFC 3339 parses back to the same instant.
        if !date.ends_with("BC") && !date.starts_with("262000") && !date.starts_with("10000") {
            let parsed = chrono::DateTime::parse_from_rfc3339(&tz).unwrap();
            assert_eq!(parsed, chrono_tz, "timestamptz {date}");
        }
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Times {
        t0: String,
        t1: String,
        t2: String,
        t3: String,
        tz1: String,
        tz2: String,
        inf: String,
        ninf: String,
        dinf: String,
        id: String,
        id_null: Option<String>,
    }
    let session_offset: String = test
        .fetch_value("SELECT current_setting('TimeZone')", &[])
        .await
        .unwrap();
    let times: Times = test
        .fetch_one(
            "SELECT time '00:00' AS t0, time '07:08:09.5' AS t1, time '23:59:59.999999' AS t2,
                    time '24:00' AS t3, timetz '01:02:03+05:30' AS tz1, timetz '01:02:03-08' AS tz2,
                    timestamp 'infinity' AS inf, timestamptz '-infinity' AS ninf,
                    date '-infinity' AS dinf,
                    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS id, NULL::uuid AS id_null",
            &[],
        )
        .await
        .unwrap()
        .unwrap()
        .deserialize()
        .unwrap();
    assert_eq!(
        times,
        Times {
            t0: "00:00:00".into(),
            t1: "07:08:09.500".into(),
            t2: "23:59:59.999999".into(),
            t3: "24:00:00".into(),
            tz1: "01:02:03+05:30".into(),
            tz2: "01:02:03-08:00".into(),
            inf: "infinity".into(),
            ninf: "-infinity".into(),
            dinf: "-infinity".into(),
            id: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into(),
            id_null: None,
        },
        "session time zone {session_offset}"
    );
    let id = uuid::Uuid::from_u128(0x6ba7_b810_9dad_11d1_80b4_00c0_4fd4_30c8);
    let text: (String,) = test
        .fetch_one("SELECT $1::uuid", &[&id])
        .await
        .unwrap()
        .unwrap()
        .deserialize()
        .unwrap();
    assert_eq!(text.0, id.hyphenated().to_string());
}

#[tokio::test]
async fn errors_name_the_column_type_and_rust_type() {
    let test = orders_db().await;

    // A type mismatch: text into an integer field.
    #[derive(Deserialize, Debug)]
    struct Wrong {
        #[allow(dead_code)]
        customer: i32,
    }
    let err = test
        .fetch_all_as::<Serde<Wrong>>("SELECT customer FROM {{tables.orders}}", &[])
        .await
        .unwrap_err();
    match &err {
        Error::RowMapping(e) => {
            assert_eq!(e.column, "customer");
            assert!(e.expected.ends_with("Wrong"), "{}", e.expected);
            assert!(
                e.found
                    .starts_with("SQL type text: invalid type: string \"ann\""),
                "{}",
                e.found
            );
        }
        other => panic!("expected RowMapping, got {other:?}"),
    }
    assert!(err.to_string().contains("\"customer\""), "{err}");

    // NULL into a field that is not an Option.
    #[derive(Deserialize, Debug)]
    struct NeedsNote {
        #[allow(dead_code)]
        note: String,
    }
    let err = test
        .fetch_all_as::<Serde<NeedsNote>>("SELECT note FROM {{tables.orders}} ORDER BY id", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::RowMapping(e) if e.column == "note" && e.found.starts_with("NULL")),
        "{err:?}"
    );

    // A field with no column.
    #[derive(Deserialize, Debug)]
    struct NeedsEmail {
        #[allow(dead_code)]
        email: String,
    }
    let err = test
        .fetch_all_as::<Serde<NeedsEmail>>("SELECT customer FROM {{tables.orders}}", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::RowMapping(e) if e.column == "email" && e.found.contains("no such column")),
        "{err:?}"
    );

    // A type the deserializer does not read.
    let err = test
        .fetch_one("SELECT interval '1 day' AS span", &[])
        .await
        .unwrap()
        .unwrap()
        .deserialize::<serde_json::Value>()
        .unwrap_err();
    match &err {
        Error::RowMapping(e) => {
            assert_eq!(e.column, "span");
            assert_eq!(e.expected, "Value");
            assert!(e.found.starts_with("SQL type interval"), "{}", e.found);
            assert!(e.found.contains("::text"), "{}", e.found);
        }
        other => panic!("expected RowMapping, got {other:?}"),
    }
    // ... which the suggested cast fixes.
    let ok: HashMap<String, String> = test
        .fetch_one("SELECT (interval '1 day')::text AS span", &[])
        .await
        .unwrap()
        .unwrap()
        .deserialize()
        .unwrap();
    assert_eq!(ok["span"], "1 day");

    // A json document that does not fit the nested struct.
    #[derive(Deserialize, Debug)]
    struct BadShipping {
        #[allow(dead_code)]
        shipping: Option<HashMap<String, i32>>,
    }
    let err = test
        .fetch_all_as::<Serde<BadShipping>>("SELECT shipping FROM {{tables.orders}}", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::RowMapping(e) if e.column == "shipping" && e.found.starts_with("SQL type jsonb: invalid type")),
        "{err:?}"
    );

    // An enum label Rust does not know.
    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "lowercase")]
    enum OnlyOpen {
        Open,
    }
    #[derive(Deserialize, Debug)]
    struct WithStatus {
        #[allow(dead_code)]
        status: OnlyOpen,
    }
    let _ = OnlyOpen::Open;
    let err = test
        .fetch_all_as::<Serde<WithStatus>>("SELECT status FROM {{tables.orders}}", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::RowMapping(e) if e.column == "status" && e.found.contains("shipped")),
        "{err:?}"
    );

    // The manager is still usable.
    let n: i64 = test
        .fetch_value("SELECT count(*) FROM {{tables.orders}}", &[])
        .await
        .unwrap();
    assert_eq!(n, 2);
}

#[tokio::test]
async fn in_a_transaction_and_on_a_connection() {
    let test = orders_db().await;
    let db: &Database = &test;

    let tx = db.transaction().await.unwrap();
    tx.execute(
        "UPDATE {{tables.orders}} SET note = $1 WHERE customer = 'bob'",
        &[&"call first"],
    )
    .await
    .unwrap();
    #[derive(Deserialize, Debug, PartialEq)]
    struct Note {
        customer: String,
        note: Option<String>,
    }
    let notes: Vec<Serde<Note>> = tx
        .fetch_all_as(
            "SELECT customer, note FROM {{tables.orders}} ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(notes[1].note.as_deref(), Some("call first"));
    let orders: Vec<Serde<Order>> = tx.fetch_all_as(ORDER_SQL, &[]).await.unwrap();
    assert_eq!(orders[0].0, expected_orders()[0]);
    let row = tx
        .fetch_one(
            "SELECT customer, note FROM {{tables.orders}} WHERE id = $1",
            &[&2i64],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.deserialize::<Note>().unwrap(),
        Note {
            customer: "bob".into(),
            note: Some("call first".into())
        }
    );
    // A mapping error does not abort the transaction: it happens client-side.
    assert!(
        tx.fetch_all_as::<Serde<(i32,)>>("SELECT customer FROM {{tables.orders}}", &[])
            .await
            .is_err()
    );
    tx.rollback().await.unwrap();

    let notes: Vec<Serde<Note>> = db
        .fetch_all_as(
            "SELECT customer, note FROM {{tables.orders}} ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(notes[1].note, None);

    let conn = db.acquire().await.unwrap();
    let first: Option<Serde<Note>> = conn
        .fetch_as(
            "SELECT customer, note FROM {{tables.orders}} ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(first.unwrap().customer, "ann");
}

#[tokio::test]
async fn row_deserialize_on_fetch_one() {
    let test = orders_db().await;
    let row = test
        .fetch_one(
            "SELECT id, customer, shipping, tags FROM {{tables.orders}} WHERE customer = $1",
            &[&"ann"],
        )
        .await
        .unwrap()
        .unwrap();

    #[derive(Deserialize, Debug, PartialEq)]
    struct Summary {
        id: i64,
        customer: String,
        shipping: Address,
        tags: Vec<String>,
    }
    let summary: Summary = row.deserialize().unwrap();
    assert_eq!(summary.id, 1);
    assert_eq!(summary.shipping.zip.as_deref(), Some("0150"));
    assert_eq!(summary.tags, ["gift", "fragile"]);
    // The same row as a map and as a json object.
    let map: HashMap<String, serde_json::Value> = row.deserialize().unwrap();
    assert_eq!(map["shipping"]["city"], "Oslo");
    let value: serde_json::Value = row.deserialize().unwrap();
    assert_eq!(value["customer"], "ann");
    // Newtypes and renamed fields.
    #[derive(Deserialize, Debug, PartialEq)]
    struct OrderId(i64);
    #[derive(Deserialize, Debug, PartialEq)]
    struct Renamed {
        #[serde(rename = "id")]
        order: OrderId,
        #[serde(rename = "customer")]
        who: String,
    }
    assert_eq!(
        row.deserialize::<Renamed>().unwrap(),
        Renamed {
            order: OrderId(1),
            who: "ann".into()
        }
    );
    // deny_unknown_fields sees every column.
    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Strict {
        #[allow(dead_code)]
        id: i64,
    }
    let err = row.deserialize::<Strict>().unwrap_err();
    assert!(
        matches!(&err, Error::RowMapping(e) if e.column == "customer" && e.found.starts_with("unknown field `customer`")),
        "{err:?}"
    );
}

#[tokio::test]
async fn copy_rows_are_not_decoded_through_serde() {
    let test = orders_db().await;
    let stream = test
        .copy_out_query::<Serde<HashMap<String, i64>>>("SELECT id FROM {{tables.orders}}")
        .await;
    let err = match stream {
        Ok(stream) => stream.try_collect::<Vec<_>>().await.unwrap_err(),
        Err(e) => e,
    };
    assert!(
        matches!(&err, Error::RowMapping(e) if e.found.contains("serde decoding needs a query row")),
        "{err:?}"
    );
    // The manager is still usable afterwards.
    let n: i64 = test
        .fetch_value("SELECT count(*) FROM {{tables.orders}}", &[])
        .await
        .unwrap();
    assert_eq!(n, 2);
}
