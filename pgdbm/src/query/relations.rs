//! Loading related rows without N+1: one query per relation, `= ANY($1)`
//! over the parents' keys, grouped back by key.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use tokio_postgres::types::{FromSqlOwned, ToSql};

use super::expr::{ColRef, Node, OrderBy};
use super::render::Target;
use super::select::Select;
use crate::error::{Error, Result};
use crate::table::{Column, Param, Table};

/// A key related rows are matched on: a primary key or a foreign key
/// value, sent as one array parameter and read back from each row.
/// Implemented for every type that can be.
///
/// ```
/// fn takes_key<K: pgdbm::RelationKey>() {}
/// takes_key::<i64>();
/// takes_key::<String>();
/// ```
pub trait RelationKey: ToSql + FromSqlOwned + Eq + Hash + Clone + Send + Sync + 'static {}

impl<K: ToSql + FromSqlOwned + Eq + Hash + Clone + Send + Sync + 'static> RelationKey for K {}

/// A table whose rows point at a row of `C`: implemented by
/// `#[pgdbm(belongs_to = C)]` on the foreign key field, for
/// [`Database::load_belongs_to`](crate::Database::load_belongs_to).
///
/// ```
/// use pgdbm::{BelongsTo, Table};
/// #[derive(Table)]
/// #[pgdbm(table = "customers")]
/// struct Customer { #[pgdbm(primary_key)] id: i64, name: String }
///
/// #[derive(Table)]
/// #[pgdbm(table = "invoices")]
/// struct Invoice {
///     #[pgdbm(primary_key)]
///     id: i64,
///     #[pgdbm(belongs_to = Customer)]
///     customer_id: Option<i64>,
/// }
///
/// assert_eq!(<Invoice as BelongsTo<Customer>>::FOREIGN_KEY, "customer_id");
/// let invoice = Invoice { id: 1, customer_id: Some(7) };
/// assert_eq!(BelongsTo::<Customer>::foreign_key(&invoice), Some(7));
/// ```
pub trait BelongsTo<C: Table>: Table {
    /// The foreign key column, in this table.
    const FOREIGN_KEY: &'static str;
    /// The parent's key this row points at (`None` for a NULL foreign key).
    fn foreign_key(&self) -> Option<C::Key>;
}

/// The distinct keys of `parents`, in first-seen order.
pub(crate) fn keys_of<P, K: RelationKey>(parents: &[P], key: impl Fn(&P) -> K) -> Vec<K> {
    let mut seen = HashSet::with_capacity(parents.len());
    parents
        .iter()
        .map(key)
        .filter(|k| seen.insert(k.clone()))
        .collect()
}

/// The distinct parent keys `children` point at through `BelongsTo<C>`.
pub(crate) fn foreign_keys_of<P, C>(children: &[P]) -> Vec<C::Key>
where
    C: Table,
    P: BelongsTo<C>,
    C::Key: RelationKey,
{
    let mut seen = HashSet::with_capacity(children.len());
    children
        .iter()
        .filter_map(BelongsTo::<C>::foreign_key)
        .filter(|k| seen.insert(k.clone()))
        .collect()
}

/// The rows of `C` whose `column` is one of `keys`, each with that value,
/// in `C`'s primary key order.
async fn rows_by<C: Table, K: RelationKey>(
    target: Target<'_>,
    column: ColRef,
    keys: Vec<K>,
) -> Result<Vec<(K, C)>> {
    if keys.is_empty() {
        // Nothing to match: nothing is sent.
        return Ok(Vec::new());
    }
    let mut select = Select::<C>::new(target)
        .filter_node(Node::AnyOf(column), vec![Param::Owned(Box::new(keys))])
        .trailing(column);
    for def in C::COLUMN_DEFS.iter().filter(|c| c.primary_key) {
        select = select.order_by(OrderBy {
            column: ColRef {
                table: C::TABLE,
                column: def.name,
            },
            descending: false,
        });
    }
    select.keyed::<K>().await
}

/// belongs_to: the rows of `C` whose primary key is one of `keys`.
pub(crate) async fn load_related<C, K>(target: Target<'_>, keys: Vec<K>) -> Result<HashMap<K, C>>
where
    C: Table<Key = K>,
    K: RelationKey,
{
    let mut key_columns = C::COLUMN_DEFS.iter().filter(|c| c.primary_key);
    let (Some(key), None) = (key_columns.next(), key_columns.next()) else {
        return Err(Error::config(
            C::TABLE,
            "load_related matches one primary key column; this table has none or a composite \
             key (use load_many with the column instead)",
        ));
    };
    let column = ColRef {
        table: C::TABLE,
        column: key.name,
    };
    Ok(rows_by::<C, K>(target, column, keys)
        .await?
        .into_iter()
        .collect())
}

/// has_many: the rows of `C` whose `column` is one of `keys`, grouped by it.
pub(crate) async fn load_many<C, K, F>(
    target: Target<'_>,
    keys: Vec<K>,
    column: Column<C, K, F>,
) -> Result<HashMap<K, Vec<C>>>
where
    C: Table,
    K: RelationKey,
{
    let mut grouped: HashMap<K, Vec<C>> = HashMap::new();
    for (key, row) in rows_by::<C, K>(target, column.col_ref(), keys).await? {
        grouped.entry(key).or_default().push(row);
    }
    Ok(grouped)
}
