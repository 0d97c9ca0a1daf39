//! Every supported field type against a real column: inserted with
//! `insert(..).returning()`, read back with `select`, compared, and used in
//! a typed filter (so binding it as a parameter works too), as a plain
//! field and as an `Option` (NULL and a value), on a `Database` and inside
//! a `Transaction`. Plus: timestamptz under a non-UTC session time zone, and
//! a field bound to a column of a wider type.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use pgdbm::testing::TestDatabase;
use pgdbm::{Error, Json, Table};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;

async fn test_db() -> TestDatabase {
    TestDatabase::with_config(|c| c.with_schema("types"))
        .await
        .unwrap()
}

/// Inserts `some` (every `Option` set) and `none` (every `Option` NULL)
/// with `returning`, checks both come back unchanged from the insert and
/// from `select`, then runs `filters`: each `(condition, expected)` must
/// select exactly the expected row. Works on anything with the builder
/// methods (`Database`, `Conn`, `Transaction`).
macro_rules! round_trip {
    ($x:expr, $T:ident, $some:expr, $none:expr, |$a:ident, $b:ident| [$(($cond:expr, $which:ident)),* $(,)?]) => {{
        let x = $x;
        let some: $T = $some;
        let none: $T = $none;
        let $a = x.insert(&some).returning::<$T>().one().await.unwrap();
        assert_eq!($a, $T { id: $a.id, ..some.clone() }, "inserted {}", stringify!($T));
        let $b = x.insert(&none).returning::<$T>().one().await.unwrap();
        assert_eq!($b, $T { id: $b.id, ..none.clone() }, "inserted {}", stringify!($T));
        let all = x.select::<$T>().order_by($T::ID.asc()).all().await.unwrap();
        assert_eq!(all, [$a.clone(), $b.clone()], "selected {}", stringify!($T));
        $(
            let found = x.select::<$T>().filter($cond).all().await.unwrap();
            assert_eq!(found, std::slice::from_ref(&$which), "filter {}", stringify!($cond));
        )*
        ($a, $b)
    }};
}

// ---------------------------------------------------------------------------
// Integers, floats, bool, text, bytea

#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "scalars")]
struct Scalars {
    #[pgdbm(primary_key, generated)]
    id: i64,
    small: i16,
    small_opt: Option<i16>,
    regular: i32,
    regular_opt: Option<i32>,
    big: i64,
    big_opt: Option<i64>,
    single: f32,
    single_opt: Option<f32>,
    dbl: f64,
    dbl_opt: Option<f64>,
    flag: bool,
    flag_opt: Option<bool>,
    label: String,
    label_opt: Option<String>,
    blob: Vec<u8>,
    blob_opt: Option<Vec<u8>>,
}

const SCALARS_DDL: &str = "CREATE TABLE {{tables.scalars}} (
    id bigserial PRIMARY KEY,
    small smallint NOT NULL, small_opt smallint,
    regular int NOT NULL, regular_opt int,
    big bigint NOT NULL, big_opt bigint,
    single real NOT NULL, single_opt real,
    dbl double precision NOT NULL, dbl_opt double precision,
    flag bool NOT NULL, flag_opt bool,
    label text NOT NULL, label_opt text,
    blob bytea NOT NULL, blob_opt bytea)";

fn scalars() -> (Scalars, Scalars) {
    let some = Scalars {
        id: 0,
        small: i16::MIN,
        small_opt: Some(i16::MAX),
        regular: i32::MIN,
        regular_opt: Some(-7),
        big: i64::MAX,
        big_opt: Some(i64::MIN),
        single: 1.5,
        single_opt: Some(-0.25),
        dbl: 1e300,
        dbl_opt: Some(std::f64::consts::PI),
        flag: true,
        flag_opt: Some(false),
        label: "héllo, 'world' \\ \"quoted\"".into(),
        label_opt: Some(String::new()),
        blob: vec![0, 1, 254, 255, b'\\'],
        blob_opt: Some(Vec::new()),
    };
    let none = Scalars {
        id: 0,
        small: 0,
        small_opt: None,
        regular: 0,
        regular_opt: None,
        big: 0,
        big_opt: None,
        single: 0.0,
        single_opt: None,
        dbl: 0.0,
        dbl_opt: None,
        flag: false,
        flag_opt: None,
        label: String::new(),
        label_opt: None,
        blob: vec![42],
        blob_opt: None,
    };
    (some, none)
}

macro_rules! scalars_round_trip {
    ($x:expr) => {{
        let (some, none) = scalars();
        round_trip!($x, Scalars, some, none, |a, b| [
            (Scalars::SMALL.eq(i16::MIN), a),
            (Scalars::SMALL_OPT.eq(i16::MAX), a),
            (Scalars::SMALL_OPT.is_null(), b),
            (Scalars::REGULAR.eq(i32::MIN), a),
            (Scalars::REGULAR_OPT.eq(-7), a),
            (Scalars::REGULAR_OPT.is_null(), b),
            (Scalars::BIG.eq(i64::MAX), a),
            (Scalars::BIG_OPT.eq(i64::MIN), a),
            (Scalars::BIG_OPT.is_null(), b),
            (Scalars::SINGLE.eq(1.5f32), a),
            (Scalars::SINGLE_OPT.eq(-0.25f32), a),
            (Scalars::SINGLE_OPT.is_null(), b),
            (Scalars::DBL.eq(1e300), a),
            (Scalars::DBL_OPT.eq(std::f64::consts::PI), a),
            (Scalars::DBL_OPT.is_null(), b),
            (Scalars::FLAG.eq(true), a),
            (Scalars::FLAG_OPT.eq(false), a),
            (Scalars::FLAG_OPT.is_null(), b),
            (Scalars::LABEL.eq("héllo, 'world' \\ \"quoted\""), a),
            (Scalars::LABEL_OPT.eq(""), a),
            (Scalars::LABEL_OPT.is_null(), b),
            (Scalars::BLOB.eq(vec![0u8, 1, 254, 255, b'\\']), a),
            (Scalars::BLOB_OPT.eq(Vec::<u8>::new()), a),
            (Scalars::BLOB_OPT.is_null(), b),
            (
                Scalars::SMALL
                    .gt(i16::MIN)
                    .and(Scalars::BLOB.eq(vec![42u8])),
                b
            ),
        ])
    }};
}

// ---------------------------------------------------------------------------
// uuid

#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "ids")]
struct Ids {
    #[pgdbm(primary_key, generated)]
    id: i64,
    uid: uuid::Uuid,
    uid_opt: Option<uuid::Uuid>,
}

const IDS_DDL: &str =
    "CREATE TABLE {{tables.ids}} (id bigserial PRIMARY KEY, uid uuid NOT NULL, uid_opt uuid)";

const UID_A: uuid::Uuid = uuid::Uuid::from_u128(0x6ba7_b810_9dad_11d1_80b4_00c0_4fd4_30c8);
const UID_B: uuid::Uuid = uuid::Uuid::from_u128(0xa0ee_bc99_9c0b_4ef8_bb6d_6bb9_bd38_0a11);

macro_rules! ids_round_trip {
    ($x:expr) => {{
        let some = Ids {
            id: 0,
            uid: UID_A,
            uid_opt: Some(UID_B),
        };
        let none = Ids {
            id: 0,
            uid: uuid::Uuid::nil(),
            uid_opt: None,
        };
        round_trip!($x, Ids, some, none, |a, b| [
            (Ids::UID.eq(UID_A), a),
            (Ids::UID.eq(uuid::Uuid::nil()), b),
            (Ids::UID_OPT.eq(UID_B), a),
            (Ids::UID_OPT.is_null(), b),
        ])
    }};
}

// ---------------------------------------------------------------------------
// chrono

#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "chrono_times")]
struct ChronoTimes {
    #[pgdbm(primary_key, generated)]
    id: i64,
    day: NaiveDate,
    day_opt: Option<NaiveDate>,
    clock: NaiveTime,
    clock_opt: Option<NaiveTime>,
    local: NaiveDateTime,
    local_opt: Option<NaiveDateTime>,
    instant: DateTime<Utc>,
    instant_opt: Option<DateTime<Utc>>,
}

const CHRONO_DDL: &str = "CREATE TABLE {{tables.chrono_times}} (
    id bigserial PRIMARY KEY,
    day date NOT NULL, day_opt date,
    clock time NOT NULL, clock_opt time,
    local timestamp NOT NULL, local_opt timestamp,
    instant timestamptz NOT NULL, instant_opt timestamptz)";

fn chrono_values() -> (NaiveDate, NaiveTime, NaiveDateTime, DateTime<Utc>) {
    let day = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    let clock = NaiveTime::from_hms_micro_opt(13, 14, 15, 123_456).unwrap();
    let local = day.and_time(clock);
    let instant = Utc.from_utc_datetime(
        &NaiveDate::from_ymd_opt(1969, 7, 20)
            .unwrap()
            .and_hms_micro_opt(20, 17, 40, 1)
            .unwrap(),
    );
    (day, clock, local, instant)
}

macro_rules! chrono_round_trip {
    ($x:expr) => {{
        let (day, clock, local, instant) = chrono_values();
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        let some = ChronoTimes {
            id: 0,
            day,
            day_opt: Some(day.pred_opt().unwrap()),
            clock,
            clock_opt: Some(NaiveTime::MIN),
            local,
            local_opt: Some(local - chrono::Duration::microseconds(1)),
            instant,
            instant_opt: Some(epoch),
        };
        let none = ChronoTimes {
            id: 0,
            day: NaiveDate::from_ymd_opt(1, 1, 1).unwrap(),
            day_opt: None,
            clock: NaiveTime::from_hms_opt(23, 59, 59).unwrap(),
            clock_opt: None,
            local: epoch.naive_utc(),
            local_opt: None,
            instant: epoch + chrono::Duration::days(20_000),
            instant_opt: None,
        };
        round_trip!($x, ChronoTimes, some, none, |a, b| [
            (ChronoTimes::DAY.eq(day), a),
            (ChronoTimes::DAY_OPT.eq(day.pred_opt().unwrap()), a),
            (ChronoTimes::DAY_OPT.is_null(), b),
            (ChronoTimes::CLOCK.eq(clock), a),
            (ChronoTimes::CLOCK_OPT.eq(NaiveTime::MIN), a),
            (ChronoTimes::CLOCK_OPT.is_null(), b),
            (ChronoTimes::LOCAL.eq(local), a),
            (
                ChronoTimes::LOCAL_OPT.eq(local - chrono::Duration::microseconds(1)),
                a
            ),
            (ChronoTimes::LOCAL_OPT.is_null(), b),
            (ChronoTimes::INSTANT.eq(instant), a),
            (ChronoTimes::INSTANT.gt(epoch), b),
            (ChronoTimes::INSTANT_OPT.eq(epoch), a),
            (ChronoTimes::INSTANT_OPT.is_null(), b),
        ])
    }};
}

// ---------------------------------------------------------------------------
// time

#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "time_times")]
struct TimeTimes {
    #[pgdbm(primary_key, generated)]
    id: i64,
    day: time::Date,
    day_opt: Option<time::Date>,
    clock: time::Time,
    clock_opt: Option<time::Time>,
    local: time::PrimitiveDateTime,
    local_opt: Option<time::PrimitiveDateTime>,
    instant: time::OffsetDateTime,
    instant_opt: Option<time::OffsetDateTime>,
}

const TIME_DDL: &str = "CREATE TABLE {{tables.time_times}} (
    id bigserial PRIMARY KEY,
    day date NOT NULL, day_opt date,
    clock time NOT NULL, clock_opt time,
    local timestamp NOT NULL, local_opt timestamp,
    instant timestamptz NOT NULL, instant_opt timestamptz)";

fn time_values() -> (
    time::Date,
    time::Time,
    time::PrimitiveDateTime,
    time::OffsetDateTime,
) {
    let day = time::Date::from_calendar_date(2024, time::Month::February, 29).unwrap();
    let clock = time::Time::from_hms_micro(13, 14, 15, 123_456).unwrap();
    let local = time::PrimitiveDateTime::new(day, clock);
    // An instant written with a +05:30 offset.
    let instant = local.assume_offset(time::UtcOffset::from_hms(5, 30, 0).unwrap());
    (day, clock, local, instant)
}

macro_rules! time_round_trip {
    ($x:expr) => {{
        let (day, clock, local, instant) = time_values();
        let epoch = time::OffsetDateTime::UNIX_EPOCH;
        let micro = time::Duration::microseconds(1);
        let some = TimeTimes {
            id: 0,
            day,
            day_opt: Some(day.previous_day().unwrap()),
            clock,
            clock_opt: Some(time::Time::MIDNIGHT),
            local,
            local_opt: Some(local - micro),
            instant,
            instant_opt: Some(epoch),
        };
        let none = TimeTimes {
            id: 0,
            day: time::Date::from_calendar_date(1, time::Month::January, 1).unwrap(),
            day_opt: None,
            clock: time::Time::from_hms(23, 59, 59).unwrap(),
            clock_opt: None,
            local: time::PrimitiveDateTime::new(epoch.date(), epoch.time()),
            local_opt: None,
            instant: epoch + time::Duration::days(20_000),
            instant_opt: None,
        };
        let (a, b) = round_trip!($x, TimeTimes, some, none, |a, b| [
            (TimeTimes::DAY.eq(day), a),
            (TimeTimes::DAY_OPT.eq(day.previous_day().unwrap()), a),
            (TimeTimes::DAY_OPT.is_null(), b),
            (TimeTimes::CLOCK.eq(clock), a),
            (TimeTimes::CLOCK_OPT.eq(time::Time::MIDNIGHT), a),
            (TimeTimes::CLOCK_OPT.is_null(), b),
            (TimeTimes::LOCAL.eq(local), a),
            (TimeTimes::LOCAL_OPT.eq(local - micro), a),
            (TimeTimes::LOCAL_OPT.is_null(), b),
            // Bound with its +05:30 offset, compared as an instant.
            (TimeTimes::INSTANT.eq(instant), a),
            (
                TimeTimes::INSTANT.eq(instant.to_offset(time::UtcOffset::UTC)),
                a
            ),
            (TimeTimes::INSTANT_OPT.eq(epoch), a),
            (TimeTimes::INSTANT_OPT.is_null(), b),
        ]);
        // Read back in UTC, the same instant.
        assert_eq!(a.instant.offset(), time::UtcOffset::UTC);
        assert_eq!(
            a.instant.unix_timestamp_nanos(),
            instant.unix_timestamp_nanos()
        );
        (a, b)
    }};
}

// ---------------------------------------------------------------------------
// json

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Settings {
    theme: String,
    font_size: u8,
    tags: Vec<String>,
    extra: Option<Box<Settings>>,
}

#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "docs")]
struct Docs {
    #[pgdbm(primary_key, generated)]
    id: i64,
    doc: serde_json::Value,
    doc_opt: Option<serde_json::Value>,
    text_doc: serde_json::Value,
    text_doc_opt: Option<serde_json::Value>,
    #[pgdbm(json)]
    settings: Settings,
    #[pgdbm(json)]
    settings_opt: Option<Settings>,
}

const DOCS_DDL: &str = "CREATE TABLE {{tables.docs}} (
    id bigserial PRIMARY KEY,
    doc jsonb NOT NULL, doc_opt jsonb,
    text_doc json NOT NULL, text_doc_opt json,
    settings jsonb NOT NULL, settings_opt jsonb)";

fn settings(theme: &str) -> Settings {
    Settings {
        theme: theme.into(),
        font_size: 14,
        tags: vec!["a".into(), "ü".into()],
        extra: Some(Box::new(Settings {
            theme: "nested".into(),
            font_size: 1,
            tags: vec![],
            extra: None,
        })),
    }
}

macro_rules! docs_round_trip {
    ($x:expr) => {{
        let doc = json!({"k": [1, 2.5, null, "s", {"deep": true}], "n": -1});
        let text_doc = json!({"z": 1, "a": [true]});
        let some = Docs {
            id: 0,
            doc: doc.clone(),
            doc_opt: Some(json!("just a string")),
            text_doc: text_doc.clone(),
            text_doc_opt: Some(json!(42)),
            settings: settings("dark"),
            settings_opt: Some(settings("light")),
        };
        let none = Docs {
            id: 0,
            doc: json!([]),
            doc_opt: None,
            text_doc: json!(null),
            text_doc_opt: None,
            settings: settings("plain"),
            settings_opt: None,
        };
        let (a, b) = round_trip!($x, Docs, some, none, |a, b| [
            (Docs::DOC.eq(doc.clone()), a),
            (Docs::DOC.eq(json!([])), b),
            (Docs::DOC_OPT.eq(json!("just a string")), a),
            (Docs::DOC_OPT.is_null(), b),
            // json (not jsonb) has no equality operator in PostgreSQL.
            (Docs::TEXT_DOC_OPT.is_not_null(), a),
            (Docs::TEXT_DOC_OPT.is_null(), b),
            (Docs::SETTINGS.eq(Json(settings("dark"))), a),
            (Docs::SETTINGS.eq(Json(settings("plain"))), b),
            (Docs::SETTINGS_OPT.eq(Json(settings("light"))), a),
            (Docs::SETTINGS_OPT.is_null(), b),
        ]);
        // A JSON null document is a value, not SQL NULL.
        let nulls: i64 = $x
            .fetch_value(
                "SELECT count(*) FROM {{tables.docs}} WHERE text_doc IS NOT NULL AND text_doc::text = 'null'",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(nulls, 1);
        (a, b)
    }};
}

// ---------------------------------------------------------------------------
// numeric

#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "money")]
struct Money {
    #[pgdbm(primary_key, generated)]
    id: i64,
    amount: Decimal,
    amount_opt: Option<Decimal>,
}

const MONEY_DDL: &str = "CREATE TABLE {{tables.money}} (id bigserial PRIMARY KEY, amount numeric NOT NULL, amount_opt numeric(20, 4))";

macro_rules! money_round_trip {
    ($x:expr) => {{
        let amount = Decimal::new(123_456_789, 4); // 12345.6789
        let negative = Decimal::new(-1, 28); // -0.0000000000000000000000000001
        let some = Money {
            id: 0,
            amount,
            amount_opt: Some(Decimal::new(-5, 1)), // -0.5, stored as -0.5000
        };
        let none = Money {
            id: 0,
            amount: negative,
            amount_opt: None,
        };
        let (a, b) = round_trip!($x, Money, some, none, |a, b| [
            (Money::AMOUNT.eq(amount), a),
            (Money::AMOUNT.eq(negative), b),
            (Money::AMOUNT.gt(Decimal::ZERO), a),
            (Money::AMOUNT_OPT.eq(Decimal::new(-5, 1)), a),
            (Money::AMOUNT_OPT.lt(Decimal::ZERO), a),
            (Money::AMOUNT_OPT.is_null(), b),
        ]);
        assert_eq!(a.amount.to_string(), "12345.6789");
        assert_eq!(a.amount_opt.unwrap().to_string(), "-0.5000");
        let text: String = $x
            .fetch_value(
                "SELECT amount::text FROM {{tables.money}} WHERE id = $1",
                &[&a.id],
            )
            .await
            .unwrap();
        assert_eq!(text, "12345.6789");
        (a, b)
    }};
}

// ---------------------------------------------------------------------------
// arrays

#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "lists")]
struct Lists {
    #[pgdbm(primary_key, generated)]
    id: i64,
    numbers: Vec<i32>,
    numbers_opt: Option<Vec<i32>>,
    words: Vec<String>,
    words_opt: Option<Vec<String>>,
}

const LISTS_DDL: &str = "CREATE TABLE {{tables.lists}} (
    id bigserial PRIMARY KEY,
    numbers int[] NOT NULL, numbers_opt int[],
    words text[] NOT NULL, words_opt text[])";

macro_rules! lists_round_trip {
    ($x:expr) => {{
        let words = vec![
            "a b".to_string(),
            "c,d".into(),
            "\"q\"".into(),
            String::new(),
            "NULL".into(),
        ];
        let some = Lists {
            id: 0,
            numbers: vec![1, -2, i32::MAX],
            numbers_opt: Some(vec![]),
            words: words.clone(),
            words_opt: Some(vec!["x".into()]),
        };
        let none = Lists {
            id: 0,
            numbers: vec![],
            numbers_opt: None,
            words: vec![],
            words_opt: None,
        };
        round_trip!($x, Lists, some, none, |a, b| [
            (Lists::NUMBERS.eq(vec![1, -2, i32::MAX]), a),
            (Lists::NUMBERS.eq(Vec::<i32>::new()), b),
            (Lists::NUMBERS_OPT.eq(Vec::<i32>::new()), a),
            (Lists::NUMBERS_OPT.is_null(), b),
            (Lists::WORDS.eq(words.clone()), a),
            (Lists::WORDS_OPT.eq(vec!["x".to_string()]), a),
            (Lists::WORDS_OPT.is_null(), b),
        ])
    }};
}

async fn create_all(x: &pgdbm::Database) {
    for ddl in [
        SCALARS_DDL,
        IDS_DDL,
        CHRONO_DDL,
        TIME_DDL,
        DOCS_DDL,
        MONEY_DDL,
        LISTS_DDL,
    ] {
        x.execute(ddl, &[]).await.unwrap();
    }
}

// ---------------------------------------------------------------------------
// On a Database

#[tokio::test]
async fn integers_floats_bool_text_and_bytea() {
    let test = test_db().await;
    create_all(&test).await;
    scalars_round_trip!(&*test);
}

#[tokio::test]
async fn uuids() {
    let test = test_db().await;
    create_all(&test).await;
    ids_round_trip!(&*test);
}

#[tokio::test]
async fn chrono_dates_and_times() {
    let test = test_db().await;
    create_all(&test).await;
    chrono_round_trip!(&*test);
}

#[tokio::test]
async fn time_dates_and_times() {
    let test = test_db().await;
    create_all(&test).await;
    time_round_trip!(&*test);
}

#[tokio::test]
async fn json_values_and_serde_fields() {
    let test = test_db().await;
    create_all(&test).await;
    let (a, _) = docs_round_trip!(&*test);
    // jsonb normalizes key order and spacing; json keeps the text as sent.
    let (doc, text_doc): (String, String) = test
        .fetch_as(
            "SELECT doc::text, text_doc::text FROM {{tables.docs}} WHERE id = $1",
            &[&a.id],
        )
        .await
        .unwrap()
        .unwrap();
    assert!(doc.starts_with(r#"{"k": [1, 2.5, null"#), "{doc}");
    assert!(!text_doc.contains(' '), "{text_doc}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text_doc).unwrap(),
        json!({"z": 1, "a": [true]})
    );
}

#[tokio::test]
async fn decimal_numeric() {
    let test = test_db().await;
    create_all(&test).await;
    money_round_trip!(&*test);
}

#[tokio::test]
async fn int_and_text_arrays() {
    let test = test_db().await;
    create_all(&test).await;
    lists_round_trip!(&*test);
}

// ---------------------------------------------------------------------------
// Inside a Transaction

#[tokio::test]
async fn every_type_inside_a_transaction() {
    let test = test_db().await;
    create_all(&test).await;

    let tx = test.transaction().await.unwrap();
    Box::pin(async { scalars_round_trip!(&tx) }).await;
    Box::pin(async { ids_round_trip!(&tx) }).await;
    Box::pin(async { chrono_round_trip!(&tx) }).await;
    Box::pin(async { time_round_trip!(&tx) }).await;
    Box::pin(async { docs_round_trip!(&tx) }).await;
    Box::pin(async { money_round_trip!(&tx) }).await;
    Box::pin(async { lists_round_trip!(&tx) }).await;
    tx.commit().await.unwrap();
    assert_eq!(test.select::<Docs>().count().await.unwrap(), 2);
    assert_eq!(test.select::<TimeTimes>().count().await.unwrap(), 2);

    // Rolled back: nothing stays.
    test.execute("TRUNCATE {{tables.lists}}", &[])
        .await
        .unwrap();
    let tx = test.transaction().await.unwrap();
    let (a, _) = Box::pin(async { lists_round_trip!(&tx) }).await;
    assert!(tx.find::<Lists>(&a.id).await.unwrap().is_some());
    tx.rollback().await.unwrap();
    assert!(test.find::<Lists>(&a.id).await.unwrap().is_none());
    assert_eq!(test.select::<Lists>().count().await.unwrap(), 0);

    // On an acquired connection too.
    let conn = test.acquire().await.unwrap();
    Box::pin(async { lists_round_trip!(&conn) }).await;
}

// ---------------------------------------------------------------------------
// timestamptz under a non-UTC session time zone

#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "events")]
struct Event {
    #[pgdbm(primary_key, generated)]
    id: i64,
    chrono_at: DateTime<Utc>,
    time_at: time::OffsetDateTime,
    chrono_opt: Option<DateTime<Utc>>,
}

#[tokio::test]
async fn timestamptz_keeps_the_instant_under_a_new_york_session() {
    let test = TestDatabase::with_config(|c| {
        c.with_schema("tz")
            .with_server_setting("TimeZone", "America/New_York")
    })
    .await
    .unwrap();
    let zone: String = test.fetch_value("SHOW TimeZone", &[]).await.unwrap();
    assert_eq!(zone, "America/New_York");
    test.execute(
        "CREATE TABLE {{tables.events}} (id bigserial PRIMARY KEY, chrono_at timestamptz NOT NULL,
                                          time_at timestamptz NOT NULL, chrono_opt timestamptz)",
        &[],
    )
    .await
    .unwrap();

    // Summer (EDT, -04) and winter (EST, -05).
    let summer = Utc.with_ymd_and_hms(2024, 7, 1, 12, 0, 0).unwrap();
    let winter_time = time::PrimitiveDateTime::new(
        time::Date::from_calendar_date(2024, time::Month::January, 15).unwrap(),
        time::Time::from_hms_micro(17, 30, 0, 250_000).unwrap(),
    )
    .assume_offset(time::UtcOffset::from_hms(1, 0, 0).unwrap()); // 16:30:00.25 UTC
    let row = Event {
        id: 0,
        chrono_at: summer,
        time_at: winter_time,
        chrono_opt: None,
    };

    let tx = test.transaction().await.unwrap();
    let inserted = tx.insert(&row).returning::<Event>().one().await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(inserted.chrono_at, summer);
    assert_eq!(inserted.time_at, winter_time);
    assert_eq!(inserted.chrono_opt, None);
    assert_eq!(
        inserted.time_at.unix_timestamp_nanos(),
        winter_time.unix_timestamp_nanos()
    );

    let read = test
        .select::<Event>()
        .filter(Event::CHRONO_AT.eq(summer))
        .one()
        .await
        .unwrap();
    assert_eq!(read, inserted);
    let read = test
        .select::<Event>()
        .filter(Event::TIME_AT.eq(winter_time.to_offset(time::UtcOffset::UTC)))
        .one()
        .await
        .unwrap();
    assert_eq!(read.chrono_at, summer);

    // The server shows the instants in New York time.
    let (chrono_text, time_text, utc_hour): (String, String, f64) = test
        .fetch_as(
            "SELECT chrono_at::text, time_at::text,
                    extract(hour FROM chrono_at AT TIME ZONE 'UTC')::float8
               FROM {{tables.events}} WHERE id = $1",
            &[&inserted.id],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(chrono_text, "2024-07-01 08:00:00-04");
    assert_eq!(time_text, "2024-01-15 11:30:00.25-05");
    assert_eq!(utc_hour, 12.0);

    // A NULL and then a value in the Option field, also in New York time.
    let later = summer + chrono::Duration::microseconds(1);
    let n = test
        .update::<Event>()
        .set(Event::CHRONO_OPT, Some(later))
        .filter(Event::ID.eq(inserted.id))
        .execute()
        .await
        .unwrap();
    assert_eq!(n, 1);
    let read = test.find::<Event>(&inserted.id).await.unwrap().unwrap();
    assert_eq!(read.chrono_opt, Some(later));
    let text: String = test
        .fetch_value(
            "SELECT chrono_opt::text FROM {{tables.events}} WHERE id = $1",
            &[&inserted.id],
        )
        .await
        .unwrap();
    assert_eq!(text, "2024-07-01 08:00:00.000001-04");
}

// ---------------------------------------------------------------------------
// A field narrower than its column

#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "counters")]
struct Counter {
    #[pgdbm(primary_key, generated)]
    id: i64,
    hits: i64,
}

/// The same table, with `hits` declared as `i32` while the column is bigint.
#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "counters")]
struct NarrowCounter {
    #[pgdbm(primary_key, generated)]
    id: i64,
    hits: i32,
}

/// The causes under an `Error::Parameter`'s driver error, joined.
fn parameter_causes(err: &Error) -> String {
    let Error::Parameter(driver) = err else {
        panic!("expected Error::Parameter, got {err:?}");
    };
    let mut causes = Vec::new();
    let mut next = std::error::Error::source(&**driver);
    while let Some(cause) = next {
        causes.push(cause.to_string());
        next = cause.source();
    }
    causes.join(": ")
}

#[tokio::test]
async fn an_i32_field_against_a_bigint_column_is_a_parameter_error() {
    let test = test_db().await;
    test.execute(
        "CREATE TABLE {{tables.counters}} (id bigserial PRIMARY KEY, hits bigint NOT NULL)",
        &[],
    )
    .await
    .unwrap();

    // On the manager: insert and filter.
    let err = test
        .insert(&NarrowCounter { id: 0, hits: 1 })
        .returning::<Counter>()
        .one()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Parameter(_)), "{err:?}");
    assert!(err.to_string().contains("parameter $1"), "{err}");
    let causes = parameter_causes(&err);
    assert!(
        causes.contains("`i32`") && causes.contains("`int8`"),
        "{causes}"
    );
    let err = test
        .select::<NarrowCounter>()
        .filter(NarrowCounter::HITS.eq(1))
        .all()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Parameter(_)), "{err:?}");
    // The manager is still usable, and nothing was written.
    let ok = test
        .insert(&Counter { id: 0, hits: 5 })
        .returning::<Counter>()
        .one()
        .await
        .unwrap();
    assert_eq!(ok.hits, 5);
    assert_eq!(test.select::<Counter>().count().await.unwrap(), 1);

    // In a transaction: the error is client-side, the transaction goes on.
    let tx = test.transaction().await.unwrap();
    let err = tx
        .insert(&NarrowCounter { id: 0, hits: 2 })
        .execute()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Parameter(_)), "{err:?}");
    tx.insert(&Counter { id: 0, hits: 6 })
        .execute()
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(test.select::<Counter>().count().await.unwrap(), 2);

    // On an acquired connection.
    let conn = test.acquire().await.unwrap();
    let err = conn
        .update::<NarrowCounter>()
        .set(NarrowCounter::HITS, 3)
        .execute()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Parameter(_)), "{err:?}");
    let hits: i64 = conn
        .fetch_value("SELECT sum(hits)::int8 FROM {{tables.counters}}", &[])
        .await
        .unwrap();
    assert_eq!(hits, 11);
}
