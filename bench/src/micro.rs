//! CPU-only micro-benchmarks (no server round trip in the timed loop):
//! building and rendering a typed select, template expansion, and decoding
//! rows into a struct.

use std::hint::black_box;
use std::time::{Duration, Instant};

use pgdbm::sea_query::{self, ExprTrait as _};
use sqlx::FromRow as _;

use crate::model::{self, User};
use crate::rng::Rng;
use crate::stacks::{BoxError, Stacks};

/// One micro-benchmark's result.
#[derive(Debug, Clone)]
pub struct Micro {
    /// What was timed.
    pub name: String,
    /// Median ns per call (or per row) over the rounds.
    pub ns: f64,
    /// What one call is.
    pub unit: &'static str,
}

/// Median ns per call of `f`, each round running for about `budget`.
fn time_it(rounds: usize, budget: Duration, per_call: u64, mut f: impl FnMut()) -> f64 {
    // Warm caches (template and shape caches, branch predictors).
    for _ in 0..100 {
        f();
    }
    let mut results: Vec<f64> = (0..rounds.max(1))
        .map(|_| {
            let start = Instant::now();
            let mut calls = 0u64;
            while start.elapsed() < budget {
                for _ in 0..64 {
                    f();
                }
                calls += 64;
            }
            start.elapsed().as_nanos() as f64 / (calls * per_call) as f64
        })
        .collect();
    results.sort_by(f64::total_cmp);
    results[results.len() / 2]
}

/// The select the typed builder renders, built with sea-query directly and
/// rendered from scratch every call (what a builder without pgdbm's shape
/// cache pays).
fn sea_query_select(id: i64) -> (String, sea_query::Values) {
    use sea_query::{Alias, Expr, Order, PostgresQueryBuilder, Query};
    let table = (Alias::new(crate::setup::SCHEMA), Alias::new("users"));
    let col = |c: &str| {
        Expr::col((
            Alias::new(crate::setup::SCHEMA),
            Alias::new("users"),
            Alias::new(c),
        ))
    };
    let mut q = Query::select();
    for c in ["id", "email", "name", "age", "active"] {
        q.expr(col(c));
    }
    q.from(table)
        .and_where(col("id").eq(id))
        .order_by_expr(col("id"), Order::Asc)
        .limit(10);
    q.build(PostgresQueryBuilder)
}

/// Runs every micro-benchmark. `quick` shortens them.
pub async fn run(stacks: &Stacks, quick: bool) -> Result<Vec<Micro>, BoxError> {
    let (rounds, budget) = if quick {
        (1, Duration::from_millis(50))
    } else {
        (3, Duration::from_millis(300))
    };
    let db = &stacks.db;
    let mut out = Vec::new();
    let mut push = |name: &str, unit: &'static str, ns: f64| {
        eprintln!("micro: {name}: {ns:.0} ns/{unit}");
        out.push(Micro {
            name: name.to_owned(),
            ns,
            unit,
        });
    };

    let mut rng = Rng::new(7);
    let ns = time_it(rounds, budget, 1, || {
        let id = rng.below(10_000) as i64;
        let sql = db
            .select::<User>()
            .filter(User::ID.eq(id))
            .order_by(User::ID.asc())
            .limit(10)
            .to_sql();
        black_box(sql.ok());
    });
    push(
        "typed select: build + to_sql() (filter, order_by, limit; shape cached)",
        "call",
        ns,
    );

    let ns = time_it(rounds, budget, 1, || {
        black_box(sea_query_select(black_box(5)));
    });
    push(
        "reference: the same select with sea-query, built + rendered from scratch",
        "call",
        ns,
    );

    let ns = time_it(rounds, budget, 1, || {
        black_box(db.render(black_box(model::W1_SQL)).ok());
    });
    push(
        "template: db.render(W1's SQL with {{tables.users}}) (cached)",
        "call",
        ns,
    );

    let ns = time_it(rounds, budget, 1, || {
        black_box(db.render(black_box(model::W5_SQL)).ok());
    });
    push(
        "template: db.render(\"SELECT 1\") (no placeholder)",
        "call",
        ns,
    );

    // Decoding W2's 1,000 rows, fetched once.
    let client = stacks.raw.get().await?;
    let st = client.prepare_cached(&stacks.sql.w2).await?;
    let raw_rows = client.query(&st, &[&0i64, &model::W2_ROWS]).await?;
    drop(client);
    let pg_rows = db
        .fetch_all(model::W2_SQL, &[&0i64, &model::W2_ROWS])
        .await?;
    let sqlx_rows = sqlx::query(sqlx::AssertSqlSafe(stacks.sql.w2.clone()))
        .bind(0i64)
        .bind(model::W2_ROWS)
        .fetch_all(&stacks.sqlx_noping)
        .await?;
    let n = raw_rows.len() as u64;

    let ns = time_it(rounds, budget, n, || {
        for row in &raw_rows {
            black_box(User::from_raw(row));
        }
    });
    push(
        "decode: tokio_postgres::Row -> User by index (raw)",
        "row",
        ns,
    );

    let ns = time_it(rounds, budget, n, || {
        for row in &pg_rows {
            black_box(User::from_pgdbm(row));
        }
    });
    push("decode: pgdbm::Row -> User, row.get(index)", "row", ns);

    let ns = time_it(rounds, budget, n, || {
        for row in &pg_rows {
            black_box(User::from_pgdbm_by_name(row));
        }
    });
    push("decode: pgdbm::Row -> User, row.get(\"name\")", "row", ns);

    let indices = [0usize, 1, 2, 3, 4];
    let ns = time_it(rounds, budget, n, || {
        for row in &raw_rows {
            black_box(<User as pgdbm::FromRow>::decode(row, &indices).ok());
        }
    });
    push(
        "decode: derived pgdbm::FromRow::decode (indices resolved once)",
        "row",
        ns,
    );

    let ns = time_it(rounds, budget, n, || {
        for row in &sqlx_rows {
            black_box(User::from_row(row).ok());
        }
    });
    push("decode: derived sqlx::FromRow (by name)", "row", ns);

    Ok(out)
}
