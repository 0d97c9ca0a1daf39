//! The typed query builder on sea-query.
//!
//! Builders keep a value-free shape (tables, columns, condition trees) and
//! the values separately. A shape is rendered with sea-query once per schema
//! and cached: every table reference is built as `"schema"."table"` from the
//! manager the builder came from, and sea-query's audit checks the result
//! once. Values never go through sea-query's own value conversion (which
//! skips tokio-postgres' type check); each placeholder is rendered from a
//! marker naming the builder value it binds, and the values are sent with
//! their exact Rust types.

mod expr;
mod page;
mod relations;
mod render;
mod select;
mod write;

pub use expr::{ColumnValue, CountAll, Expr, OrderBy, count_all};
pub use page::{Cursor, Page};
pub use relations::{BelongsTo, RelationKey};
pub(crate) use relations::{foreign_keys_of, keys_of, load_many, load_related};
pub(crate) use render::{ShapeCache, Target};
pub use select::{Columns, Select};
pub use write::{ColumnNames, Delete, Insert, InsertReturning, OnConflict, Update};
pub(crate) use write::{delete_row, update_row};

use tokio_postgres::types::ToSql;

use crate::error::{Error, Result};
use crate::table::{FromRow, Table};

/// Runs a hand-built sea-query statement: the rendered SQL and sea-query's
/// own values (converted by pgdbm, checked by tokio-postgres).
pub(crate) async fn run_statement<S>(target: Target<'_>, statement: &S) -> Result<u64>
where
    S: sea_query::QueryStatementWriter + sea_query::audit::AuditTrait,
{
    render::check_audit(statement, target.schema())?;
    let (sql, values) = statement.build(sea_query::PostgresQueryBuilder);
    let owned = render::values_to_params(values)?;
    let params: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|v| &**v as _).collect();
    crate::executor::execute(&target, &sql, &params).await
}

/// A sea-query table reference to `T` in the manager's schema.
pub(crate) fn table_ref<T: Table>(schema: Option<&str>) -> sea_query::TableRef {
    render::table(schema, T::TABLE)
}

/// Rows of a raw templated statement decoded into `R`.
pub(crate) async fn fetch_all_as<R: FromRow>(
    target: Target<'_>,
    sql: &str,
    params: crate::Params<'_>,
) -> Result<Vec<R>> {
    let rendered = crate::executor::Executor::templates(&target).render(sql)?;
    let (statement, rows) = render::query_rows(&target, &rendered, params).await?;
    render::decode_all(&statement, &rows, None)
}

/// The first row of a raw templated statement decoded into `R`.
pub(crate) async fn fetch_as<R: FromRow>(
    target: Target<'_>,
    sql: &str,
    params: crate::Params<'_>,
) -> Result<Option<R>> {
    let mut rows = fetch_all_as::<R>(target, sql, params).await?;
    Ok(if rows.is_empty() {
        None
    } else {
        Some(rows.swap_remove(0))
    })
}

/// `SELECT .. WHERE key = $1` for `T`.
pub(crate) async fn find<T: Table>(target: Target<'_>, key: &T::Key) -> Result<Option<T>> {
    let (filter, _) = key_filter::<T>()?;
    let mut values = Vec::new();
    T::key_values(key, &mut values);
    select::Select::<T>::new(target)
        .filter_node(filter, values)
        .optional()
        .await
}

/// `key_a = $ AND key_b = $ ..` over `T`'s primary key, with the key
/// columns' indices in `T::COLUMN_DEFS`.
fn key_filter<T: Table>() -> Result<(expr::Node, Vec<usize>)> {
    let keys: Vec<usize> = T::COLUMN_DEFS
        .iter()
        .enumerate()
        .filter(|(_, c)| c.primary_key)
        .map(|(i, _)| i)
        .collect();
    let node = keys
        .iter()
        .map(|&i| {
            expr::Node::Cmp(
                expr::ColRef {
                    table: T::TABLE,
                    column: T::COLUMN_DEFS[i].name,
                },
                expr::CmpOp::Eq,
            )
        })
        .reduce(|left, right| expr::Node::And(Box::new(left), Box::new(right)))
        .ok_or_else(no_primary_key::<T>)?;
    Ok((node, keys))
}

pub(crate) fn no_primary_key<T: Table>() -> Error {
    Error::config(
        T::TABLE,
        "the table has no #[pgdbm(primary_key)] field; find, update_row and delete_row need one",
    )
}
