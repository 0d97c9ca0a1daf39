//! Hostile schema, table and column names against a real server: every
//! placeholder context, `table_exists`, COPY and the typed builder, with a
//! canary sequence that any name escaping into SQL would advance.

use std::collections::HashSet;

use pgdbm::testing::TestDatabase;
use pgdbm::{Database, Error, Table};

/// A typed table whose own names are hostile; the schema comes at run time.
#[derive(Table, Debug, Clone, PartialEq)]
#[pgdbm(table = "it's \"t\" */ -- $$ {{x}}")]
struct Hostile {
    #[pgdbm(primary_key, generated)]
    id: i64,
    #[pgdbm(column = "c'ol \"x\" /* $q$")]
    value: String,
}

/// Names picked by hand: each one breaks some naive way of writing it.
const PICKED: &[&str] = &[
    "o'Brien",
    "'",
    "''",
    "'''",
    "\"",
    "\"\"",
    "a\"b",
    "\"; DROP TABLE y; --",
    "x; DROP TABLE y",
    "x'||nextval('public.canary_seq')||'",
    "'||nextval('public.canary_seq')||'",
    "\"||nextval('public.canary_seq')||\"",
    "*/",
    "/*",
    "/* x */",
    "a */ SELECT nextval('public.canary_seq') /* b",
    "--",
    "-- x",
    "a\nSELECT nextval('public.canary_seq')",
    "$$",
    "$t$",
    "$q$",
    "$$; SELECT nextval('public.canary_seq'); $$",
    "a$t$b",
    "$1",
    "$",
    "?",
    "%s",
    "%",
    "{{",
    "}}",
    "{{schema}}",
    "{{tables.x}}",
    "\\",
    "\\\\",
    "\\'",
    "a\\'b",
    "\\x27",
    "tab\there",
    "new\nline",
    "cr\rreturn",
    "crlf\r\n",
    " ",
    "  leading",
    "trailing ",
    "é",
    "Ünïcödé",
    "日本語",
    "שלום",
    "مرحبا",
    "\u{202e}rtl override",
    "a\u{200b}b",
    "e\u{301}",
    "😀",
    "👨‍👩‍👧",
    "select",
    "SELECT",
    "user",
    "table",
    "from",
    "Order",
    "ALL",
    "null",
    "true",
    "begin",
    "commit",
    "U&",
    "E'",
    "e'x",
    "U&'x",
    ".",
    "a.b",
    ";",
    "(",
    ")",
    ",",
    "MixedCase",
    "UPPER",
    "0",
    "1st",
];

/// The pieces generated names are made of.
const PIECES: &[&str] = &[
    "'", "\"", "\\", "*/", "/*", "--", "$$", "$a$", "$", "\n", "\t", "\r", "{{", "}}", ";", " ",
    "é", "😀", "ש", "\u{202e}", "x", "DROP", "%s", "?", "$1", "''", "E'", "U&",
];

/// At most 63 bytes (what PostgreSQL keeps), cut at a character boundary.
fn fit(mut name: String) -> String {
    while name.len() > 63 {
        name.pop();
    }
    name
}

/// Hand-picked names, generated ones and the longest names that fit, none
/// twice, none the server reserves for itself.
fn corpus() -> Vec<String> {
    let mut names: Vec<String> = PICKED.iter().map(|s| s.to_string()).collect();
    names.push("x".repeat(63));
    names.push(format!("{}'", "y".repeat(62)));
    names.push(format!("{}x", "é".repeat(31)));
    names.push("😀".repeat(15));
    // Pairs of pieces around a letter, then triples, by fixed strides:
    // the same corpus on every run.
    let p = PIECES.len();
    for i in (0..p * p).step_by(7) {
        names.push(fit(format!("{}x{}", PIECES[i / p], PIECES[i % p])));
    }
    for i in 0..100 {
        let k = i * 37;
        names.push(fit(format!(
            "{}{}{}",
            PIECES[k % p],
            PIECES[(k / p) % p],
            PIECES[(k / 7) % p]
        )));
    }
    let mut seen = HashSet::new();
    names.retain(|n| {
        !n.is_empty() && !n.starts_with("pg_") && n != "public" && seen.insert(n.clone())
    });
    names
}

/// `name` as a quoted identifier.
fn q(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn is_template_error(e: &Error) -> bool {
    matches!(e, Error::Template(_))
}

/// `sql` either gives `want` or, when `refused`, a template error, never a
/// server error.
async fn text_or_refused(db: &Database, sql: &str, want: &str, refused: bool) {
    match db.fetch_value::<String>(sql, &[]).await {
        Ok(got) => {
            assert!(!refused, "{sql:?} in {:?} should be refused", db.schema());
            assert_eq!(got, want, "{sql:?} in {:?}", db.schema());
        }
        Err(e) => assert!(
            refused && is_template_error(&e),
            "{sql:?} in {:?}: {e}",
            db.schema()
        ),
    }
}

async fn check_schema(db: &Database, schema: &str, table: &str, column: &str, typed: bool) {
    let s = db.with_schema(schema).unwrap();
    let t = format!("{{{{tables.{}}}}}", q(table));
    let qualified = format!("{}.{}", q(schema), q(table));

    s.execute("CREATE SCHEMA {{schema}}", &[]).await.unwrap();
    s.execute(&format!("CREATE TABLE {t} ({} text)", q(column)), &[])
        .await
        .unwrap();
    let insert = format!("INSERT INTO {t} ({}) VALUES ($1)", q(column));
    assert_eq!(s.execute(&insert, &[&schema]).await.unwrap(), 1);
    let back: String = s
        .fetch_value(&format!("SELECT {} FROM {t}", q(column)), &[])
        .await
        .unwrap();
    assert_eq!(back, schema);

    // In string literals: exactly the quoted names, as text.
    text_or_refused(&s, "SELECT '{{schema}}'::text", &q(schema), false).await;
    text_or_refused(&s, "SELECT E'{{schema}}'::text", &q(schema), false).await;
    text_or_refused(&s, &format!("SELECT '{t}'::text"), &qualified, false).await;
    let found: bool = s
        .fetch_value(&format!("SELECT to_regclass('{t}') IS NOT NULL"), &[])
        .await
        .unwrap();
    assert!(found, "to_regclass for {qualified}");
    let found: bool = s
        .fetch_value(&format!("SELECT to_regclass(E'{t}') IS NOT NULL"), &[])
        .await
        .unwrap();
    assert!(found, "to_regclass(E'') for {qualified}");

    // In comments and dollar-quoted bodies: the name, or a refusal when it
    // would end them.
    let block = schema.contains("*/") || schema.contains("/*");
    text_or_refused(&s, "SELECT 'ok' /* {{schema}} */", "ok", block).await;
    let line = schema.contains(['\n', '\r']);
    text_or_refused(&s, "SELECT 'ok' -- {{schema}}\n", "ok", line).await;
    text_or_refused(
        &s,
        "SELECT $$ {{schema}} $$",
        &format!(" {} ", q(schema)),
        q(schema).contains("$$"),
    )
    .await;
    text_or_refused(
        &s,
        "SELECT $a$'{{schema}}'$a$",
        &format!("'{}'", q(schema).replace('\'', "''")),
        q(schema).contains("$a$"),
    )
    .await;
    // Inside a quoted identifier: always refused.
    let e = s
        .fetch_value::<i32>("SELECT 1 AS \"{{schema}}\"", &[])
        .await
        .unwrap_err();
    assert!(is_template_error(&e), "{e}");

    assert!(s.table_exists(&q(table)).await.unwrap(), "{qualified}");
    assert!(db.table_exists(&qualified).await.unwrap(), "{qualified}");

    let copied = s
        .copy_records_to_table(&q(table), &[column], [("a",), ("b",)])
        .await
        .unwrap();
    assert_eq!(copied, 2);
    let n: i64 = s
        .fetch_value(&format!("SELECT count(*) FROM {t}"), &[])
        .await
        .unwrap();
    assert_eq!(n, 3, "{qualified}");

    if typed {
        let create = format!(
            "CREATE TABLE {{{{tables.{}}}}} (id bigserial PRIMARY KEY, {} text NOT NULL)",
            q(Hostile::TABLE),
            q("c'ol \"x\" /* $q$")
        );
        s.execute(&create, &[]).await.unwrap();
        let row = Hostile {
            id: 0,
            value: schema.to_owned(),
        };
        let back = s.insert(&row).returning::<Hostile>().one().await.unwrap();
        assert_eq!(back.value, schema);
        let same = s
            .select::<Hostile>()
            .filter(Hostile::VALUE.eq(schema))
            .count()
            .await
            .unwrap();
        assert_eq!(same, 1);
    }
}

async fn canary(db: &Database) -> (i64, bool) {
    let row = db
        .fetch_one("SELECT last_value, is_called FROM public.canary_seq", &[])
        .await
        .unwrap()
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_stay_names_in_every_context() {
    let test = TestDatabase::new().await.unwrap();
    let db: &Database = &test;
    db.execute("CREATE SEQUENCE public.canary_seq", &[])
        .await
        .unwrap();
    let before = canary(db).await;

    let names = corpus();
    assert!(names.len() >= 200, "{}", names.len());
    for (i, schema) in names.iter().enumerate() {
        let table = &names[(i * 7 + 3) % names.len()];
        // A column is written into the query text itself, where `{{` would
        // start a placeholder: such names go through COPY's column list only.
        let column = (i * 13 + 5..)
            .map(|k| &names[k % names.len()])
            .find(|c| !c.contains("{{"))
            .unwrap();
        // The typed table on every fourth schema keeps the test short.
        check_schema(db, schema, table, column, i % 4 == 0).await;
    }
    assert_eq!(canary(db).await, before, "a name ran nextval");
}

#[tokio::test]
async fn names_postgres_would_truncate_or_misread_are_refused() {
    let test = TestDatabase::new().await.unwrap();
    let db: &Database = &test;
    for long in [
        "x".repeat(64),
        "é".repeat(32),
        format!("{}😀", "a".repeat(60)),
    ] {
        assert!(long.len() > 63);
        let e = db.with_schema(&long).unwrap_err();
        assert!(matches!(e, Error::InvalidIdentifier(_)), "{e}");
        let e = db
            .execute(&format!("CREATE TABLE {{{{tables.{}}}}} ()", q(&long)), &[])
            .await
            .unwrap_err();
        assert!(is_template_error(&e), "{e}");
        let e = db.table_exists(&q(&long)).await.unwrap_err();
        assert!(matches!(e, Error::InvalidIdentifier(_)), "{e}");
    }
    // 63 bytes is kept whole by the server: the name we asked for is the
    // name it has.
    let longest = format!("{}x", "é".repeat(31));
    assert_eq!(longest.len(), 63);
    let s = db.with_schema(&longest).unwrap();
    s.execute("CREATE SCHEMA {{schema}}", &[]).await.unwrap();
    let got: String = s
        .fetch_value(
            "SELECT nspname::text FROM pg_namespace WHERE nspname = $1",
            &[&longest],
        )
        .await
        .unwrap();
    assert_eq!(got, longest);
    // search_path would read `$user` as the role's schema.
    let e = db.with_schema("$user").unwrap_err();
    assert!(matches!(e, Error::InvalidIdentifier(_)), "{e}");
}
