//! Qualifying, rendering, auditing and caching built statements, and running
//! them on whichever executor the builder came from.

use std::hash::Hash;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use sea_query::audit::AuditTrait;
use sea_query::{Alias, ExprTrait, QueryStatementWriter, Value};
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;

use super::expr::{BoxValue, CmpOp, ColRef, Node};
use crate::call::Session;
use crate::conn::{Conn, Lease};
use crate::database::Database;
use crate::error::{Error, Result};
use crate::executor::{Executor, execute_rendered, query_rendered};
use crate::table::FromRow;
use crate::template::TemplateCache;
use crate::transaction::Transaction;

/// Where a builder runs: the manager, an acquired connection or a
/// transaction. One type, so builders need no generic executor parameter.
#[derive(Clone, Copy)]
pub(crate) enum Target<'e> {
    Db(&'e Database),
    Conn(&'e Conn),
    Tx(&'e Transaction<'e>),
    /// One connection leased for several statements that must share it,
    /// with the rules of the executor it came from.
    Pinned(&'e Lease<'e>, &'e TemplateCache, Option<Duration>, Session),
}

impl<'e> From<&'e Database> for Target<'e> {
    fn from(db: &'e Database) -> Self {
        Target::Db(db)
    }
}
impl<'e> From<&'e Conn> for Target<'e> {
    fn from(conn: &'e Conn) -> Self {
        Target::Conn(conn)
    }
}
impl<'e, 't: 'e> From<&'e Transaction<'t>> for Target<'e> {
    fn from(tx: &'e Transaction<'t>) -> Self {
        Target::Tx(tx)
    }
}

impl<'e> Target<'e> {
    pub(crate) fn schema(&self) -> Option<&str> {
        self.templates().schema()
    }

    /// A connection for the builder's lifetime (streams outlive the call).
    pub(crate) async fn lease_owned(self) -> Result<Lease<'e>> {
        match self {
            Target::Db(db) => db.lease().await,
            Target::Conn(conn) => conn.lease().await,
            Target::Tx(tx) => tx.lease().await,
            Target::Pinned(lease, ..) => Ok(Lease::Borrowed(lease)),
        }
    }
}

impl Executor for Target<'_> {
    async fn lease(&self) -> Result<Lease<'_>> {
        (*self).lease_owned().await
    }

    async fn lease_shared(&self) -> Result<Lease<'_>> {
        match self {
            Target::Db(db) => db.lease_shared().await,
            other => other.lease().await,
        }
    }

    fn templates(&self) -> &TemplateCache {
        match self {
            Target::Db(db) => db.templates(),
            Target::Conn(conn) => conn.templates(),
            Target::Tx(tx) => tx.templates(),
            Target::Pinned(_, templates, ..) => templates,
        }
    }

    fn session(&self) -> Session {
        match self {
            Target::Db(db) => db.session(),
            Target::Conn(conn) => conn.session(),
            Target::Tx(tx) => tx.session(),
            Target::Pinned(.., session) => *session,
        }
    }

    fn call_timeout(&self) -> Option<Duration> {
        match self {
            Target::Db(db) => db.call_timeout(),
            Target::Conn(conn) => conn.call_timeout(),
            Target::Tx(tx) => tx.call_timeout(),
            Target::Pinned(_, _, timeout, _) => *timeout,
        }
    }
}

/// A statement rendered for one schema.
#[derive(Debug)]
pub(crate) struct Built {
    pub(crate) sql: String,
    /// For each placeholder `$i+1`, the index of the builder value it binds.
    pub(crate) order: Vec<usize>,
    /// Result columns resolved for the row type, once per statement shape.
    pub(crate) indices: OnceLock<Vec<usize>>,
}

/// How many shapes of each statement kind a schema keeps.
const MAX_SHAPES: usize = 4096;

struct ShapeMap<K> {
    map: RwLock<crate::fasthash::FastMap<K, Arc<Built>>>,
}

impl<K> Default for ShapeMap<K> {
    fn default() -> Self {
        ShapeMap {
            map: RwLock::new(crate::fasthash::FastMap::default()),
        }
    }
}

impl<K: Hash + Eq + Clone> ShapeMap<K> {
    fn get_or_build(&self, key: &K, build: impl FnOnce() -> Result<Built>) -> Result<Arc<Built>> {
        if let Some(built) = self.map.read().unwrap_or_else(|e| e.into_inner()).get(key) {
            return Ok(built.clone());
        }
        let built = Arc::new(build()?);
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() < MAX_SHAPES {
            map.insert(key.clone(), built.clone());
        }
        Ok(built)
    }
}

/// Rendered statements of one schema, per statement kind.
#[derive(Default)]
pub(crate) struct ShapeCache {
    pub(super) selects: ShapeMapOf<super::select::SelectShape>,
    pub(super) writes: ShapeMapOf<super::write::WriteShape>,
}

pub(crate) struct ShapeMapOf<K>(ShapeMap<K>);

impl<K> Default for ShapeMapOf<K> {
    fn default() -> Self {
        ShapeMapOf(ShapeMap::default())
    }
}

impl<K: Hash + Eq + Clone> ShapeMapOf<K> {
    pub(super) fn get_or_build(
        &self,
        key: &K,
        build: impl FnOnce() -> Result<Built>,
    ) -> Result<Arc<Built>> {
        self.0.get_or_build(key, build)
    }
}

impl std::fmt::Debug for ShapeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShapeCache")
    }
}

/// Renders `statement`, checks it with the audit and maps its markers.
pub(super) fn render<S>(statement: &S, schema: Option<&str>) -> Result<Built>
where
    S: QueryStatementWriter + AuditTrait,
{
    check_audit(statement, schema)?;
    let (sql, values) = statement.build(sea_query::PostgresQueryBuilder);
    let order = values
        .into_iter()
        .map(|value| match value {
            Value::BigInt(Some(marker)) => Ok(marker as usize),
            Value::BigUnsigned(Some(marker)) => Ok(marker as usize),
            other => Err(Error::config(
                "query",
                format!("internal: unexpected literal {other:?} in a built statement"),
            )),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Built {
        sql,
        order,
        indices: OnceLock::new(),
    })
}

/// The second line of schema isolation: every table the statement names
/// must carry the manager's schema. (The audit does not see JOIN ON,
/// GROUP BY, HAVING, ORDER BY, WHERE of UPDATE and DELETE, or column
/// qualifiers; the builders qualify those by construction.)
pub(crate) fn check_audit<S: AuditTrait>(statement: &S, schema: Option<&str>) -> Result<()> {
    let Some(schema) = schema else {
        return Ok(());
    };
    let audit = statement
        .audit()
        .map_err(|e| Error::config("query", format!("the statement cannot be audited: {e}")))?;
    for request in &audit.requests {
        let sea_query::TableName(schema_name, table) = &request.schema_table;
        let qualified = schema_name
            .as_ref()
            .is_some_and(|sea_query::SchemaName(_, s)| s.to_string() == schema);
        if !qualified {
            return Err(Error::UnqualifiedTable(Box::new(
                crate::error::UnqualifiedTableError {
                    table: table.to_string(),
                    schema: schema.to_owned(),
                },
            )));
        }
    }
    Ok(())
}

fn alias(name: &str) -> Alias {
    Alias::new(name)
}

/// `"schema"."table"` (or `"table"` without a schema) as a sea-query table.
pub(crate) fn table(schema: Option<&str>, table: &str) -> sea_query::TableRef {
    match schema {
        Some(schema) => (alias(schema), alias(table)).into(),
        None => alias(table).into(),
    }
}

/// A fully qualified column: `"schema"."table"."column"`.
pub(super) fn column(schema: Option<&str>, col: ColRef) -> sea_query::Expr {
    match schema {
        Some(schema) => sea_query::Expr::col((alias(schema), alias(col.table), alias(col.column))),
        None => sea_query::Expr::col((alias(col.table), alias(col.column))),
    }
}

/// A placeholder that binds builder value `index`.
pub(super) fn marker(index: usize) -> Value {
    Value::BigInt(Some(index as i64))
}

/// A condition tree as sea-query, numbering its values from `next`.
pub(super) fn condition(node: &Node, schema: Option<&str>, next: &mut usize) -> sea_query::Expr {
    let mut take = || {
        let value = marker(*next);
        *next += 1;
        value
    };
    match node {
        Node::Cmp(col, op) => compare(column(schema, *col), *op, sea_query::Expr::val(take())),
        Node::CmpCol(left, op, right) => {
            compare(column(schema, *left), *op, column(schema, *right))
        }
        Node::IsNull(col, negated) => {
            let col = column(schema, *col);
            if *negated {
                col.is_not_null()
            } else {
                col.is_null()
            }
        }
        Node::In(col, negated) => {
            // An empty array matches nothing (`= ANY`) or everything
            // (`<> ALL`), as an empty IN list would.
            let list = sea_query::Expr::val(take());
            let col = column(schema, *col);
            if *negated {
                col.ne(sea_query::extension::postgres::PgFunc::all(list))
            } else {
                col.eq(sea_query::extension::postgres::PgFunc::any(list))
            }
        }
        Node::Between(col) => {
            let (low, high) = (take(), take());
            column(schema, *col).between(low, high)
        }
        Node::InSelect(col, selected, filter, negated) => {
            let mut sub = sea_query::Query::select();
            sub.expr(column(schema, *selected))
                .from(table(schema, selected.table));
            if let Some(filter) = filter {
                sub.and_where(condition(filter, schema, next));
            }
            let col = column(schema, *col);
            if *negated {
                col.not_in_subquery(sub)
            } else {
                col.in_subquery(sub)
            }
        }
        Node::CountCmp(op) => compare(
            sea_query::Func::count(sea_query::Expr::cust("*")).into(),
            *op,
            sea_query::Expr::val(take()),
        ),
        Node::AnyOf(col) => sea_query::Expr::cust_with_exprs(
            "$1 = ANY($2)",
            [column(schema, *col), sea_query::Expr::val(take())],
        ),
        Node::And(left, right) => {
            let left = condition(left, schema, next);
            left.and(condition(right, schema, next))
        }
        Node::Or(left, right) => {
            let left = condition(left, schema, next);
            left.or(condition(right, schema, next))
        }
        Node::Not(inner) => condition(inner, schema, next).not(),
    }
}

fn compare(left: sea_query::Expr, op: CmpOp, right: sea_query::Expr) -> sea_query::Expr {
    match op {
        CmpOp::Eq => left.eq(right),
        CmpOp::Ne => left.ne(right),
        CmpOp::Lt => left.lt(right),
        CmpOp::Le => left.lte(right),
        CmpOp::Gt => left.gt(right),
        CmpOp::Ge => left.gte(right),
        CmpOp::Like => left.binary(sea_query::BinOper::Like, right),
        CmpOp::ILike => left.binary(sea_query::extension::postgres::PgBinOper::ILike, right),
    }
}

/// Runs a rendered statement and returns its rows with the statement.
pub(super) async fn query_rows(
    target: &Target<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<(Statement, Vec<tokio_postgres::Row>)> {
    // Built statements are never blank.
    query_rendered(target, sql, params)
        .await?
        .ok_or_else(|| Error::NotFound(sql.into()))
}

/// Runs a rendered statement and returns the rows it affected.
pub(super) async fn execute(
    target: &Target<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64> {
    execute_rendered(target, sql, params).await
}

/// Decodes rows into `R`, resolving and checking columns once (per statement
/// shape when `cached` is given, else per call).
pub(super) fn decode_all<R: FromRow>(
    statement: &Statement,
    rows: &[tokio_postgres::Row],
    cached: Option<&OnceLock<Vec<usize>>>,
) -> Result<Vec<R>> {
    let resolve = || -> Result<Vec<usize>> {
        let indices = crate::table::resolve::<R>(statement.columns())?;
        R::check(statement.columns(), &indices)?;
        Ok(indices)
    };
    let owned;
    let indices: &[usize] = match cached {
        Some(cell) => match cell.get() {
            Some(indices) => indices,
            None => {
                let indices = resolve()?;
                cell.get_or_init(|| indices)
            }
        },
        None => {
            owned = resolve()?;
            &owned
        }
    };
    rows.iter().map(|row| R::decode(row, indices)).collect()
}

/// sea-query values of a hand-built statement, as parameters. Each keeps
/// its exact Rust type, so tokio-postgres checks it against the column.
pub(super) fn values_to_params(values: sea_query::Values) -> Result<Vec<BoxValue>> {
    values
        .into_iter()
        .map(|value| -> Result<BoxValue> {
            Ok(match value {
                Value::Bool(v) => Box::new(v),
                Value::TinyInt(v) => Box::new(v.map(i16::from)),
                Value::SmallInt(v) => Box::new(v),
                Value::Int(v) => Box::new(v),
                Value::BigInt(v) => Box::new(v),
                Value::TinyUnsigned(v) => Box::new(v.map(i16::from)),
                Value::SmallUnsigned(v) => Box::new(v.map(i32::from)),
                Value::Unsigned(v) => Box::new(v.map(i64::from)),
                Value::BigUnsigned(v) => Box::new(
                    v.map(i64::try_from)
                        .transpose()
                        .map_err(|_| Error::config("query", "u64 value out of range for bigint"))?,
                ),
                Value::Float(v) => Box::new(v),
                Value::Double(v) => Box::new(v),
                Value::String(v) => Box::new(v),
                Value::Char(v) => Box::new(v.map(String::from)),
                Value::Bytes(v) => Box::new(v),
                other => {
                    return Err(Error::config(
                        "query",
                        format!(
                            "sea-query value {other:?} is not supported by db.run; bind it with raw SQL"
                        ),
                    ));
                }
            })
        })
        .collect()
}
