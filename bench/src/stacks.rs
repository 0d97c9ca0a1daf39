//! The client stacks and one operation of each workload through each.

use std::error::Error as StdError;
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use pgdbm::Database;
use sqlx::AssertSqlSafe;
use tokio_postgres::types::{ToSql, Type};

use crate::model::{self, Item, Order, OrderId, User};
use crate::rng::Rng;
use crate::workload::{StackId, Workload};

/// Any stack's error.
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// How many per-row INSERTs raw keeps in flight in W3a-pipe: the same depth
/// as pgdbm's `execute_many`.
const PIPELINE_DEPTH: usize = 256;

/// Statements as the raw stacks send them: pgdbm's own template expansion
/// of the same text, so every stack sends byte-identical SQL (the typed
/// builder renders its own).
#[derive(Debug)]
pub struct RawSql {
    /// W1.
    pub w1: Arc<str>,
    /// W2.
    pub w2: Arc<str>,
    /// W3 per-row INSERT.
    pub item_insert: Arc<str>,
    /// W3 multi-row INSERT of [`model::RAW_ROWS_PER_INSERT`] rows.
    pub item_insert_full: Arc<str>,
    /// W3 multi-row INSERT of the last, shorter chunk (empty if none).
    pub item_insert_tail: Arc<str>,
    /// The qualified `items` table.
    pub items_table: Arc<str>,
    /// W3b COPY.
    pub item_copy: Arc<str>,
    /// W4 INSERT.
    pub order_insert: Arc<str>,
    /// W4 UPDATE.
    pub order_update: Arc<str>,
}

impl RawSql {
    /// Renders every statement with `db`'s templates.
    pub fn new(db: &Database, bulk_rows: usize) -> pgdbm::Result<RawSql> {
        let r = |sql: &str| -> pgdbm::Result<Arc<str>> { Ok(db.render(sql)?.into()) };
        let items_table = r("{{tables.items}}")?;
        let tail = bulk_rows % model::RAW_ROWS_PER_INSERT;
        Ok(RawSql {
            w1: r(model::W1_SQL)?,
            w2: r(model::W2_SQL)?,
            item_insert: r(model::ITEM_INSERT_SQL)?,
            item_insert_full: model::multi_row_insert(&items_table, model::RAW_ROWS_PER_INSERT)
                .into(),
            item_insert_tail: if tail == 0 {
                "".into()
            } else {
                model::multi_row_insert(&items_table, tail).into()
            },
            items_table,
            item_copy: r(model::ITEM_COPY_SQL)?,
            order_insert: r(model::ORDER_INSERT_SQL)?,
            order_update: r(model::ORDER_UPDATE_SQL)?,
        })
    }
}

/// One bare client shared by raw-pipelined's tasks, with its statements
/// prepared once.
pub struct Pipelined {
    /// The client; its connection task runs on the runtime.
    pub client: tokio_postgres::Client,
    /// W1, W2 and W5, prepared on `client`.
    pub w1: tokio_postgres::Statement,
    /// W2.
    pub w2: tokio_postgres::Statement,
    /// W5.
    pub w5: tokio_postgres::Statement,
}

/// Every stack's pool, on the same database.
pub struct Stacks {
    /// tokio-postgres + deadpool-postgres.
    pub raw: deadpool_postgres::Pool,
    /// pgdbm with multiplexing off: one exclusive pooled connection per
    /// call, as raw (raw SQL and typed builder share it).
    pub db: Database,
    /// pgdbm with multiplexing on (its default), a pool of its own.
    pub db_mux: Database,
    /// Shared bare clients for raw-pipelined.
    pub pipelined: Vec<Pipelined>,
    /// Which shared client raw-pipelined uses next.
    pub next_pipelined: std::sync::atomic::AtomicUsize,
    /// sqlx, default pool options (ping on acquire).
    pub sqlx: sqlx::PgPool,
    /// sqlx with `test_before_acquire(false)`.
    pub sqlx_noping: sqlx::PgPool,
    /// Rendered statements for raw and sqlx.
    pub sql: RawSql,
    /// W3's rows.
    pub items: Vec<Item>,
    /// The server's postmaster process, when it runs on this machine.
    pub postmaster: Option<u32>,
}

impl std::fmt::Debug for Stacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stacks")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

/// Parameters of one small operation, drawn before it starts.
#[derive(Debug, Clone, Copy)]
struct Draw {
    id: i64,
    total: i64,
}

fn draw(rng: &mut Rng, workload: Workload) -> Draw {
    let id = match workload {
        // W2 reads ids (start, start + 1000].
        Workload::W2 => rng.below((model::USERS - model::W2_ROWS) as u64) as i64,
        _ => 1 + rng.below(model::USERS as u64) as i64,
    };
    Draw {
        id,
        total: rng.below(10_000) as i64,
    }
}

impl Stacks {
    fn sqlx_pool(&self, stack: StackId) -> &sqlx::PgPool {
        if stack == StackId::SqlxNoPing {
            &self.sqlx_noping
        } else {
            &self.sqlx
        }
    }

    /// One operation of a timed workload (W1, W2, W4, W5).
    pub async fn op(
        &self,
        stack: StackId,
        workload: Workload,
        rng: &mut Rng,
    ) -> Result<(), BoxError> {
        let d = draw(rng, workload);
        match stack {
            StackId::Raw => self.raw_op(workload, d).await,
            StackId::PgdbmRaw => pgdbm_raw_op(&self.db, workload, d).await,
            StackId::PgdbmMux => pgdbm_raw_op(&self.db_mux, workload, d).await,
            StackId::PgdbmTyped => self.pgdbm_typed_op(workload, d).await,
            StackId::RawPipelined => self.pipelined_op(workload, d).await,
            StackId::Sqlx | StackId::SqlxNoPing => {
                self.sqlx_op(self.sqlx_pool(stack), workload, d).await
            }
            StackId::Pgbench => Err("pgbench runs as its own process".into()),
        }
    }

    async fn raw_op(&self, workload: Workload, d: Draw) -> Result<(), BoxError> {
        match workload {
            Workload::W1 => {
                let client = self.raw.get().await?;
                let st = client.prepare_cached(&self.sql.w1).await?;
                let row = client.query_one(&st, &[&d.id]).await?;
                std::hint::black_box(User::from_raw(&row));
            }
            Workload::W2 => {
                let client = self.raw.get().await?;
                let st = client.prepare_cached(&self.sql.w2).await?;
                let rows = client.query(&st, &[&d.id, &model::W2_ROWS]).await?;
                let users: Vec<User> = rows.iter().map(User::from_raw).collect();
                check_w2(users.len())?;
                std::hint::black_box(users);
            }
            Workload::W4 => {
                let mut client = self.raw.get().await?;
                let tx = client.transaction().await?;
                let insert = tx.prepare_cached(&self.sql.order_insert).await?;
                let id: i64 = tx
                    .query_one(&insert, &[&d.id, &d.total, &"new"])
                    .await?
                    .get(0);
                let update = tx.prepare_cached(&self.sql.order_update).await?;
                tx.execute(&update, &[&"paid", &id]).await?;
                tx.commit().await?;
            }
            Workload::W5 => {
                let client = self.raw.get().await?;
                let st = client.prepare_cached(model::W5_SQL).await?;
                let one: i32 = client.query_one(&st, &[]).await?.get(0);
                std::hint::black_box(one);
            }
            other => return Err(format!("{other} is not a timed workload").into()),
        }
        Ok(())
    }

    async fn pipelined_op(&self, workload: Workload, d: Draw) -> Result<(), BoxError> {
        use std::sync::atomic::Ordering;
        let n = self.next_pipelined.fetch_add(1, Ordering::Relaxed);
        let p = &self.pipelined[n % self.pipelined.len()];
        match workload {
            Workload::W1 => {
                let row = p.client.query_one(&p.w1, &[&d.id]).await?;
                std::hint::black_box(User::from_raw(&row));
            }
            Workload::W2 => {
                let rows = p.client.query(&p.w2, &[&d.id, &model::W2_ROWS]).await?;
                let users: Vec<User> = rows.iter().map(User::from_raw).collect();
                check_w2(users.len())?;
                std::hint::black_box(users);
            }
            Workload::W5 => {
                let one: i32 = p.client.query_one(&p.w5, &[]).await?.get(0);
                std::hint::black_box(one);
            }
            other => return Err(format!("{other} is not run by raw-pipelined").into()),
        }
        Ok(())
    }

    async fn pgdbm_typed_op(&self, workload: Workload, d: Draw) -> Result<(), BoxError> {
        let db = &self.db;
        match workload {
            Workload::W1 => {
                let user = db.select::<User>().filter(User::ID.eq(d.id)).one().await?;
                std::hint::black_box(user);
            }
            Workload::W2 => {
                let users = db
                    .select::<User>()
                    .filter(User::ID.gt(d.id))
                    .order_by(User::ID.asc())
                    .limit(model::W2_ROWS as u64)
                    .all()
                    .await?;
                check_w2(users.len())?;
                std::hint::black_box(users);
            }
            Workload::W4 => {
                let tx = db.transaction().await?;
                let order = Order {
                    id: 0,
                    user_id: d.id,
                    total: d.total,
                    status: "new".to_owned(),
                };
                let OrderId { id } = tx.insert(&order).returning::<OrderId>().one().await?;
                tx.update::<Order>()
                    .set(Order::STATUS, "paid")
                    .filter(Order::ID.eq(id))
                    .await?;
                tx.commit().await?;
            }
            other => return Err(format!("{other}: no typed form").into()),
        }
        Ok(())
    }

    async fn sqlx_op(
        &self,
        pool: &sqlx::PgPool,
        workload: Workload,
        d: Draw,
    ) -> Result<(), BoxError> {
        match workload {
            Workload::W1 => {
                let user: User = sqlx::query_as(AssertSqlSafe(self.sql.w1.clone()))
                    .bind(d.id)
                    .fetch_one(pool)
                    .await?;
                std::hint::black_box(user);
            }
            Workload::W2 => {
                let users: Vec<User> = sqlx::query_as(AssertSqlSafe(self.sql.w2.clone()))
                    .bind(d.id)
                    .bind(model::W2_ROWS)
                    .fetch_all(pool)
                    .await?;
                check_w2(users.len())?;
                std::hint::black_box(users);
            }
            Workload::W4 => {
                let mut tx = pool.begin().await?;
                let id: i64 = sqlx::query_scalar(AssertSqlSafe(self.sql.order_insert.clone()))
                    .bind(d.id)
                    .bind(d.total)
                    .bind("new")
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query(AssertSqlSafe(self.sql.order_update.clone()))
                    .bind("paid")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            Workload::W5 => {
                let one: i32 = sqlx::query_scalar(model::W5_SQL).fetch_one(pool).await?;
                std::hint::black_box(one);
            }
            other => return Err(format!("{other} is not a timed workload").into()),
        }
        Ok(())
    }

    /// One bulk load (W3a-pipe, W3a-multi, W3b) of every item; returns the
    /// rows written. The caller empties the table before.
    pub async fn bulk(&self, stack: StackId, workload: Workload) -> Result<u64, BoxError> {
        let items = &self.items;
        let written = match (stack, workload) {
            (StackId::Raw, Workload::W3a) => {
                let mut client = self.raw.get().await?;
                let tx = client.transaction().await?;
                let st = tx.prepare_cached(&self.sql.item_insert).await?;
                let (tx_ref, st_ref) = (&tx, &st);
                let n = futures_util::stream::iter(items)
                    .map(|it| async move {
                        tx_ref
                            .execute(st_ref, &[&it.a, &it.b, &it.c, &it.d, &it.e])
                            .await
                    })
                    .buffered(PIPELINE_DEPTH)
                    .try_fold(0u64, |total, n| async move { Ok(total + n) })
                    .await?;
                tx.commit().await?;
                n
            }
            (StackId::Raw, Workload::W3aMulti) => {
                let mut client = self.raw.get().await?;
                let tx = client.transaction().await?;
                let full = tx.prepare_cached(&self.sql.item_insert_full).await?;
                let tail = if self.sql.item_insert_tail.is_empty() {
                    None
                } else {
                    Some(tx.prepare_cached(&self.sql.item_insert_tail).await?)
                };
                let (tx_ref, full_ref, tail_ref) = (&tx, &full, &tail);
                let n = futures_util::stream::iter(items.chunks(model::RAW_ROWS_PER_INSERT))
                    .map(|chunk| async move {
                        let st = match tail_ref {
                            Some(tail) if chunk.len() < model::RAW_ROWS_PER_INSERT => tail,
                            _ => full_ref,
                        };
                        let mut params: Vec<&(dyn ToSql + Sync)> =
                            Vec::with_capacity(chunk.len() * model::ITEM_COLUMNS);
                        for it in chunk {
                            params.extend::<[&(dyn ToSql + Sync); model::ITEM_COLUMNS]>([
                                &it.a, &it.b, &it.c, &it.d, &it.e,
                            ]);
                        }
                        tx_ref.execute(st, &params).await
                    })
                    .buffered(model::RAW_INSERTS_IN_FLIGHT)
                    .try_fold(0u64, |total, n| async move { Ok(total + n) })
                    .await?;
                tx.commit().await?;
                n
            }
            (StackId::Raw, Workload::W3b) => {
                let client = self.raw.get().await?;
                let sink = client.copy_in(&*self.sql.item_copy).await?;
                let writer = tokio_postgres::binary_copy::BinaryCopyInWriter::new(
                    sink,
                    &[Type::INT8, Type::INT4, Type::TEXT, Type::FLOAT8, Type::BOOL],
                );
                let mut writer = std::pin::pin!(writer);
                for it in items {
                    writer
                        .as_mut()
                        .write(&[&it.a, &it.b, &it.c, &it.d, &it.e])
                        .await?;
                }
                writer.finish().await?
            }
            (StackId::PgdbmRaw, Workload::W3a | Workload::W3aMulti) => {
                let rows: Vec<[&(dyn ToSql + Sync); model::ITEM_COLUMNS]> = items
                    .iter()
                    .map(|it| [&it.a as _, &it.b as _, &it.c as _, &it.d as _, &it.e as _])
                    .collect();
                self.db.execute_many(model::ITEM_INSERT_SQL, &rows).await?
            }
            (StackId::PgdbmRaw, Workload::W3b) => {
                let records =
                    items
                        .iter()
                        .map(|it| -> [&(dyn ToSql + Sync); model::ITEM_COLUMNS] {
                            [&it.a, &it.b, &it.c, &it.d, &it.e]
                        });
                self.db
                    .copy_records_to_table("items", &["a", "b", "c", "d", "e"], records)
                    .await?
            }
            (StackId::PgdbmTyped, Workload::W3a | Workload::W3aMulti) => {
                self.db.insert_many(items).await?
            }
            (StackId::PgdbmTyped, Workload::W3b) => self.db.copy_in(items).await?,
            (StackId::Sqlx, Workload::W3a) => {
                let mut tx = self.sqlx.begin().await?;
                let mut n = 0;
                for chunk in items.chunks(model::ROWS_PER_STATEMENT) {
                    let mut qb = sqlx::QueryBuilder::<sqlx::Postgres>::new(format!(
                        "INSERT INTO {} (a, b, c, d, e) ",
                        self.sql.items_table
                    ));
                    qb.push_values(chunk, |mut b, it| {
                        b.push_bind(it.a)
                            .push_bind(it.b)
                            .push_bind(it.c.as_str())
                            .push_bind(it.d)
                            .push_bind(it.e);
                    });
                    n += qb.build().execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
                n
            }
            (stack, workload) => return Err(format!("{stack} has no {workload}").into()),
        };
        Ok(written)
    }
}

/// One operation through pgdbm with raw templated SQL.
async fn pgdbm_raw_op(db: &Database, workload: Workload, d: Draw) -> Result<(), BoxError> {
    match workload {
        Workload::W1 => {
            let row = db.fetch_one(model::W1_SQL, &[&d.id]).await?;
            let row = row.ok_or("W1: no row")?;
            std::hint::black_box(User::from_pgdbm(&row));
        }
        Workload::W2 => {
            let users: Vec<User> = db
                .fetch_all_as(model::W2_SQL, &[&d.id, &model::W2_ROWS])
                .await?;
            check_w2(users.len())?;
            std::hint::black_box(users);
        }
        Workload::W4 => {
            let tx = db.transaction().await?;
            let id: i64 = tx
                .execute_returning_id(model::ORDER_INSERT_SQL, &[&d.id, &d.total, &"new"])
                .await?;
            tx.execute(model::ORDER_UPDATE_SQL, &[&"paid", &id]).await?;
            tx.commit().await?;
        }
        Workload::W5 => {
            let one: i32 = db.fetch_value(model::W5_SQL, &[]).await?;
            std::hint::black_box(one);
        }
        other => return Err(format!("{other} is not a timed workload").into()),
    }
    Ok(())
}

fn check_w2(n: usize) -> Result<(), BoxError> {
    if n as i64 == model::W2_ROWS {
        Ok(())
    } else {
        Err(format!("W2 read {n} rows, expected {}", model::W2_ROWS).into())
    }
}
