//! Spans and the slow-query log, seen by a capturing subscriber.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pgdbm::testing::TestDatabase;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// Fields as text, by name.
type Fields = HashMap<String, String>;

#[derive(Default)]
struct Seen {
    /// Spans in creation order, with every field recorded on them.
    spans: Vec<(Id, String, Fields)>,
    /// Events: level, target, fields.
    events: Vec<(Level, String, Fields)>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Seen>>);

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut fields = Fields::new();
        attrs.record(&mut Collect(&mut fields));
        let name = attrs.metadata().name().to_owned();
        self.0
            .lock()
            .unwrap()
            .spans
            .push((id.clone(), name, fields));
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut seen = self.0.lock().unwrap();
        if let Some((_, _, fields)) = seen.spans.iter_mut().find(|(i, ..)| i == id) {
            values.record(&mut Collect(fields));
        }
    }
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::new();
        event.record(&mut Collect(&mut fields));
        let meta = event.metadata();
        self.0
            .lock()
            .unwrap()
            .events
            .push((*meta.level(), meta.target().to_owned(), fields));
    }
}

impl Capture {
    /// Installs this capture for the current thread (the test's runtime
    /// is single-threaded, so every span of the test is seen).
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(tracing_subscriber::registry().with(self.clone()))
    }

    /// The statement spans whose SQL contains `needle`.
    fn queries(&self, needle: &str) -> Vec<Fields> {
        self.0
            .lock()
            .unwrap()
            .spans
            .iter()
            .filter(|(_, name, f)| {
                name == "db.query" && f.get("db.query.text").is_some_and(|t| t.contains(needle))
            })
            .map(|(_, _, f)| f.clone())
            .collect()
    }

    fn all_values(&self) -> Vec<String> {
        let seen = self.0.lock().unwrap();
        seen.spans
            .iter()
            .flat_map(|(_, _, f)| f.values().cloned())
            .chain(seen.events.iter().flat_map(|(_, _, f)| f.values().cloned()))
            .collect()
    }

    fn warnings(&self, target: &str) -> usize {
        let seen = self.0.lock().unwrap();
        seen.events
            .iter()
            .filter(|(level, t, _)| *level == Level::WARN && t == target)
            .count()
    }
}

fn one(spans: Vec<Fields>, what: &str) -> Fields {
    assert_eq!(spans.len(), 1, "{what}: {spans:#?}");
    spans.into_iter().next().unwrap()
}

#[tokio::test]
async fn a_raw_query_has_the_conventional_fields_and_no_parameter_values() {
    let test = TestDatabase::with_config(|c| c.with_schema("obs"))
        .await
        .unwrap();
    let capture = Capture::default();
    let _guard = capture.install();
    let v: i64 = test
        .fetch_value("SELECT $1::bigint AS marker", &[&987_654_321_123i64])
        .await
        .unwrap();
    assert_eq!(v, 987_654_321_123);
    let span = one(capture.queries("AS marker"), "the raw query");
    assert_eq!(span["db.system.name"], "postgresql");
    assert_eq!(span["db.query.text"], "SELECT $1::bigint AS marker");
    assert_eq!(span["db.operation.name"], "SELECT");
    assert_eq!(span["db.namespace"], format!("{}|obs", test.name()));
    assert_eq!(span["server.address"], test.config().host);
    assert_eq!(span["server.port"], test.config().port.to_string());
    assert_eq!(span["db.response.returned_rows"], "1");
    assert_eq!(span["pgdbm.multiplexed"], "true");
    assert!(!span.contains_key("db.response.status_code"), "{span:?}");
    assert!(
        capture
            .all_values()
            .iter()
            .all(|v| !v.contains("987654321123")),
        "a parameter value was recorded"
    );
}

#[derive(pgdbm::Table, Debug)]
#[pgdbm(table = "items")]
struct Item {
    #[pgdbm(primary_key)]
    id: i64,
    name: String,
}

#[tokio::test]
async fn typed_selects_copies_and_transactions_have_spans() {
    let test = TestDatabase::with_config(|c| c.with_schema("obs"))
        .await
        .unwrap();
    test.execute(
        "CREATE TABLE {{tables.items}} (id bigint PRIMARY KEY, name text NOT NULL)",
        &[],
    )
    .await
    .unwrap();
    let capture = Capture::default();
    let _guard = capture.install();

    let rows = vec![(1i64, "a".to_owned()), (2, "b".to_owned())];
    test.copy_records_to_table("items", &["id", "name"], &rows)
        .await
        .unwrap();
    let copy = one(capture.queries("COPY \"obs\".\"items\""), "the COPY");
    assert_eq!(copy["db.operation.name"], "COPY");
    assert_eq!(copy["db.response.returned_rows"], "2");

    let found = test
        .select::<Item>()
        .filter(Item::ID.eq(2))
        .all()
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let select = one(
        capture.queries("FROM \"obs\".\"items\" WHERE"),
        "the typed select",
    );
    assert_eq!(select["db.operation.name"], "SELECT");
    assert_eq!(select["db.response.returned_rows"], "1");

    // The COPY ran in a transaction of its own: start afresh.
    capture.0.lock().unwrap().spans.clear();
    let tx = test.transaction().await.unwrap();
    tx.execute("UPDATE {{tables.items}} SET name = 'c' WHERE id = 1", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        one(capture.queries("BEGIN"), "BEGIN")["db.operation.name"],
        "BEGIN"
    );
    let update = one(capture.queries("SET name = 'c'"), "the update");
    assert_eq!(update["db.response.returned_rows"], "1");
    assert_eq!(update["pgdbm.multiplexed"], "false");
    assert_eq!(
        one(capture.queries("COMMIT"), "COMMIT")["db.operation.name"],
        "COMMIT"
    );
}

#[tokio::test]
async fn a_failed_query_records_its_sqlstate() {
    let test = TestDatabase::new().await.unwrap();
    let capture = Capture::default();
    let _guard = capture.install();
    test.fetch_value::<i32>("SELECT 1 / 0", &[])
        .await
        .unwrap_err();
    let span = one(capture.queries("SELECT 1 / 0"), "the failed query");
    assert_eq!(span["db.response.status_code"], "22012");
}

#[tokio::test]
async fn a_slow_query_is_logged_once() {
    let test = TestDatabase::with_config(|mut c| {
        c.slow_query_threshold = Some(Duration::from_millis(100));
        c
    })
    .await
    .unwrap();
    let capture = Capture::default();
    let _guard = capture.install();
    test.execute("SELECT 1", &[]).await.unwrap();
    test.execute("SELECT pg_sleep(0.2)", &[]).await.unwrap();
    assert_eq!(capture.warnings("pgdbm::slow_query"), 1);
    let seen = capture.0.lock().unwrap();
    let (_, _, fields) = seen
        .events
        .iter()
        .find(|(_, t, _)| t == "pgdbm::slow_query")
        .unwrap();
    assert_eq!(fields["sql"], "SELECT pg_sleep(0.2)");
    assert!(
        fields["duration_ms"].parse::<u64>().unwrap() >= 200,
        "{fields:?}"
    );
}

#[tokio::test]
async fn metrics_count_exactly_what_ran() {
    let test = TestDatabase::with_config(|c| c.with_schema("counted"))
        .await
        .unwrap();
    test.execute("CREATE TABLE {{tables.t}} (id int PRIMARY KEY)", &[])
        .await
        .unwrap();
    test.reset_metrics();
    test.execute("INSERT INTO {{tables.t}} VALUES (1), (2), (3)", &[])
        .await
        .unwrap();
    let rows = test
        .fetch_all("SELECT id FROM {{tables.t}}", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    test.execute("INSERT INTO {{tables.t}} VALUES (1)", &[])
        .await
        .unwrap_err();
    test.with_timeout(Some(Duration::from_millis(50)))
        .execute("SELECT pg_sleep(1)", &[])
        .await
        .unwrap_err();
    let m = test.metrics();
    assert_eq!(m.statements, 4, "{m:?}");
    assert_eq!(m.rows, 6, "3 inserted and 3 read: {m:?}");
    assert_eq!(
        (m.database_errors, m.timeouts, m.errors()),
        (1, 1, 2),
        "{m:?}"
    );
    assert_eq!(
        m.multiplexed, 3,
        "all but the call with its own timeout: {m:?}"
    );
    assert!(m.max_time >= Duration::from_millis(50), "{m:?}");
    assert!(m.total_time >= m.max_time, "{m:?}");
    // Another schema on the same pool counts apart.
    let other = test.with_schema("elsewhere").unwrap();
    other.execute("SELECT 1", &[]).await.unwrap();
    assert_eq!(test.metrics().statements, 4);
    assert_eq!(other.metrics().statements, 1);
    test.reset_metrics();
    assert_eq!(test.metrics(), pgdbm::Metrics::default());
}

#[tokio::test]
async fn health_check_reports_the_server_and_fails_cleanly_when_it_is_gone() {
    let cluster = Arc::new(pgdbm::testing::TestCluster::start().unwrap());
    let db = pgdbm::Database::connect(cluster.config()).await.unwrap();
    let report = db.health_check(Duration::from_secs(5)).await.unwrap();
    assert!(
        report
            .server_version
            .starts_with(|c: char| c.is_ascii_digit())
    );
    assert!(!report.is_replica);
    assert!(report.database_size > 1_000_000, "{report:?}");
    assert!(report.latency < Duration::from_secs(5));
    assert!(report.pool.server_pid.is_some());

    let stopping = Arc::clone(&cluster);
    tokio::task::spawn_blocking(move || stopping.stop())
        .await
        .unwrap()
        .unwrap();
    let started = std::time::Instant::now();
    let e = db.health_check(Duration::from_secs(2)).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            e,
            pgdbm::Error::Timeout(_) | pgdbm::Error::Connect(_) | pgdbm::Error::ConnectionClosed(_)
        ),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_sees_tables_activity_blocking_and_plans() {
    let test = TestDatabase::with_config(|c| c.with_schema("inspected"))
        .await
        .unwrap();
    test.execute(
        "CREATE TABLE {{tables.big}} (id int PRIMARY KEY, pad text)",
        &[],
    )
    .await
    .unwrap();
    test.execute("CREATE TABLE {{tables.small}} (id int)", &[])
        .await
        .unwrap();
    test.execute(
        "INSERT INTO {{tables.big}} SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g",
        &[],
    )
    .await
    .unwrap();
    let tables = test.tables().await.unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["big", "small"], "largest first");
    assert!(tables.iter().all(|t| t.schema == "inspected"));
    assert!(
        tables[0].total_bytes > 400_000 && tables[0].index_bytes > 0,
        "{tables:?}"
    );

    // One transaction holds a row lock; another statement waits for it.
    let holder = test.transaction().await.unwrap();
    holder
        .execute("UPDATE {{tables.big}} SET pad = 'y' WHERE id = 1", &[])
        .await
        .unwrap();
    let holder_pid: i32 = holder
        .fetch_value("SELECT pg_backend_pid()", &[])
        .await
        .unwrap();
    let db = test.db().clone();
    let waiter = tokio::spawn(async move {
        db.with_timeout(Some(Duration::from_secs(10)))
            .execute("UPDATE {{tables.big}} SET pad = 'z' WHERE id = 1", &[])
            .await
    });
    let mut blocked = None;
    for _ in 0..100 {
        let activity = test.activity().await.unwrap();
        blocked = activity
            .into_iter()
            .find(|a| a.blocked_by.contains(&holder_pid));
        if blocked.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let blocked = blocked.expect("the waiting UPDATE shows as blocked by the holder");
    assert!(blocked.query.contains("SET pad = 'z'"), "{blocked:?}");
    assert_eq!(blocked.wait_event_type.as_deref(), Some("Lock"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let long = test.long_running(Duration::from_millis(50)).await.unwrap();
    assert!(long.iter().any(|a| a.pid == blocked.pid), "{long:?}");
    holder.rollback().await.unwrap();
    waiter.await.unwrap().unwrap();

    let plan = test
        .explain("SELECT * FROM {{tables.big}} WHERE id = $1", &[&7i32])
        .await
        .unwrap();
    let node = &plan[0]["Plan"];
    assert!(node["Node Type"].is_string(), "{plan}");
    assert_eq!(node["Relation Name"].as_str(), Some("big"), "{plan}");
    // Planned, not run: an explained UPDATE writes nothing.
    let plan = test
        .explain(
            "UPDATE {{tables.big}} SET pad = 'w' WHERE id = $1",
            &[&7i32],
        )
        .await
        .unwrap();
    assert_eq!(
        plan[0]["Plan"]["Node Type"].as_str(),
        Some("ModifyTable"),
        "{plan}"
    );
    let n: i64 = test
        .fetch_value("SELECT count(*) FROM {{tables.big}} WHERE pad = 'w'", &[])
        .await
        .unwrap();
    assert_eq!(n, 0);
}
