//! Keyset pagination: cursors taken from the boundary rows of a page, and the
//! row-value comparison that continues from one.
//!
//! A cursor holds the ordering columns' values exactly as the server sent
//! them (binary format, with their type's OID), so it works for every column
//! type, a user's enums included, and binds back as the very same type.

use std::fmt::Write as _;

use bytes::BytesMut;
use sea_query::ExprTrait;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

use super::expr::OrderBy;
use super::render::{column, marker};
use crate::error::{Error, Result};

/// One column value as the server encoded it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct RawValue {
    oid: u32,
    bytes: Option<Vec<u8>>,
}

impl<'a> FromSql<'a> for RawValue {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawValue {
            oid: ty.oid(),
            bytes: Some(raw.to_vec()),
        })
    }

    fn from_sql_null(
        ty: &Type,
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawValue {
            oid: ty.oid(),
            bytes: None,
        })
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

impl ToSql for RawValue {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        // The comparison makes the server infer each placeholder's type from
        // its column; a value of another type (a cursor from another query,
        // or a forged token) must not be reinterpreted as this one.
        if ty.oid() != self.oid {
            return Err(format!(
                "the cursor holds a value of type OID {}, but the column is {ty} (OID {}); \
                 a cursor only continues the query it came from",
                self.oid,
                ty.oid()
            )
            .into());
        }
        match &self.bytes {
            Some(bytes) => {
                out.extend_from_slice(bytes);
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Where a page ends: the values of its ordering columns in its first or
/// last row. Pass it to [`Select::after`](crate::Select::after) or
/// [`Select::before`](crate::Select::before) of the same query (same
/// `order_by` terms) for the neighbouring page.
///
/// A cursor travels through a client as a token
/// ([`to_token`](Cursor::to_token), [`from_token`](Cursor::from_token)).
/// The token is the values in PostgreSQL's binary format, readable by
/// whoever holds it and not signed: sign or encrypt it if clients must not
/// see or forge the values. A forged token can only move the query to other
/// rows it could select anyway, in the same schema, and a value of the wrong
/// type is refused before anything is sent.
///
/// ```no_run
/// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// let first = db.select::<User>().order_by(User::ID.asc()).limit(20).page().await?;
/// if let Some(next) = &first.next {
///     let token = next.to_token(); // e.g. in a JSON response
///     let cursor = pgdbm::Cursor::from_token(&token)?;
///     let second = db.select::<User>().order_by(User::ID.asc()).after(cursor).limit(20).page().await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub(crate) values: Vec<RawValue>,
}

impl Cursor {
    /// The cursor as a URL-safe string: `oid:hex` per value (`oid:-` for
    /// NULL), joined with `.`.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let page = db.select::<User>().order_by(User::ID.asc()).limit(2).page().await?;
    /// let token = page.next.map(|c| c.to_token()); // Some("20:000000000000002a") after id 42
    /// # Ok(()) }
    /// ```
    pub fn to_token(&self) -> String {
        let mut out = String::new();
        for (i, value) in self.values.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            let _ = write!(out, "{}:", value.oid);
            match &value.bytes {
                Some(bytes) => bytes.iter().for_each(|b| {
                    let _ = write!(out, "{b:02x}");
                }),
                None => out.push('-'),
            }
        }
        out
    }

    /// Reads a token made by [`to_token`](Cursor::to_token); anything else
    /// is [`Error::Config`].
    ///
    /// ```
    /// let cursor = pgdbm::Cursor::from_token("20:000000000000002a")?;
    /// assert_eq!(cursor.to_token(), "20:000000000000002a");
    /// assert!(pgdbm::Cursor::from_token("not a cursor").is_err());
    /// # Ok::<(), pgdbm::Error>(())
    /// ```
    pub fn from_token(token: &str) -> Result<Cursor> {
        let bad = || Error::config("cursor", "not a cursor token made by Cursor::to_token");
        let values = token
            .split('.')
            .map(|part| {
                let (oid, hex) = part.split_once(':').ok_or_else(bad)?;
                let oid: u32 = oid.parse().map_err(|_| bad())?;
                let bytes = if hex == "-" {
                    None
                } else {
                    if hex.len() % 2 != 0 || !hex.is_ascii() {
                        return Err(bad());
                    }
                    let bytes = (0..hex.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad()))
                        .collect::<Result<Vec<u8>>>()?;
                    Some(bytes)
                };
                Ok(RawValue { oid, bytes })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Cursor { values })
    }

    /// How many ordering columns the cursor has values for.
    ///
    /// ```
    /// assert_eq!(pgdbm::Cursor::from_token("23:0000002a.25:6162")?.len(), 2);
    /// # Ok::<(), pgdbm::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether it has no values (never, for a cursor from a page).
    ///
    /// ```
    /// assert!(!pgdbm::Cursor::from_token("23:0000002a")?.is_empty());
    /// # Ok::<(), pgdbm::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// One page of a keyset-paginated query, from
/// [`Select::page`](crate::Select::page).
///
/// `next` continues after the last item and is `Some` only when more rows
/// follow; `prev` goes back before the first item (with
/// [`Select::before`](crate::Select::before)) and is `Some` when the page
/// did not start at the beginning. Both come from the rows themselves, so a
/// row inserted or deleted elsewhere never shifts a page, as an `OFFSET`
/// would: pages neither repeat nor skip the rows that were there.
///
/// ```no_run
/// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// // Every user, 100 at a time.
/// let mut cursor = None;
/// loop {
///     let mut q = db.select::<User>().order_by(User::ID.asc()).limit(100);
///     if let Some(c) = cursor.take() {
///         q = q.after(c);
///     }
///     let page = q.page().await?;
///     for user in &page.items { println!("{}", user.email); }
///     match page.next { Some(next) => cursor = Some(next), None => break }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Page<R> {
    /// The rows, in the query's order (also after `before`).
    pub items: Vec<R>,
    /// After the last item, when more rows follow.
    pub next: Option<Cursor>,
    /// Before the first item, when rows precede it.
    pub prev: Option<Cursor>,
}

/// Whether column `i` of the keyset moves forward with `>`.
fn ascending(order: &OrderBy, before: bool) -> bool {
    order.descending == before
}

/// The condition for the rows after (or before) the cursor in `order`,
/// its values numbered from `next`.
///
/// When every term has the same direction this is one row-value comparison,
/// `(a, b) > ($1, $2)`, which a b-tree index on `(a, b)` answers with a
/// range scan (backwards for DESC). PostgreSQL has no row comparison with
/// mixed directions, so those get the expanded form
/// `a >= $1 AND (a > $1 OR (a = $1 AND b < $2))`, whose leading `a >= $1`
/// still lets an index on `a` start at the cursor.
pub(super) fn condition(
    order: &[OrderBy],
    before: bool,
    schema: Option<&str>,
    next: &mut usize,
) -> sea_query::Expr {
    let base = *next;
    *next += order.len();
    let value = |i: usize| sea_query::Expr::val(marker(base + i));
    let col = |i: usize| column(schema, order[i].column);
    let forward = |i: usize, left: sea_query::Expr, right: sea_query::Expr| {
        if ascending(&order[i], before) {
            left.gt(right)
        } else {
            left.lt(right)
        }
    };
    let same = order
        .iter()
        .all(|o| ascending(o, before) == ascending(&order[0], before));
    if order.len() == 1 {
        return forward(0, col(0), value(0));
    }
    if same {
        return forward(
            0,
            sea_query::Expr::tuple((0..order.len()).map(col)),
            sea_query::Expr::tuple((0..order.len()).map(value)),
        );
    }
    let expanded = (0..order.len())
        .map(|i| {
            (0..i)
                .map(|j| col(j).eq(value(j)))
                .fold(None::<sea_query::Expr>, |acc, e| {
                    Some(match acc {
                        Some(acc) => acc.and(e),
                        None => e,
                    })
                })
                .map_or_else(
                    || forward(i, col(i), value(i)),
                    |eqs| eqs.and(forward(i, col(i), value(i))),
                )
        })
        .reduce(|a, b| a.or(b))
        .expect("at least two terms");
    let lead = if ascending(&order[0], before) {
        col(0).gte(value(0))
    } else {
        col(0).lte(value(0))
    };
    lead.and(expanded)
}

/// The cursor of a result row whose ordering columns start at `first`.
pub(super) fn cursor_of(row: &tokio_postgres::Row, first: usize, count: usize) -> Result<Cursor> {
    let values = (first..first + count)
        .map(|i| crate::row::read_column::<RawValue>(row, i))
        .collect::<Result<Vec<_>>>()?;
    Ok(Cursor { values })
}

/// The checks a cursor needs before it is sent.
pub(super) fn check(cursor: &[RawValue], order: &[OrderBy]) -> Result<()> {
    if order.is_empty() {
        return Err(Error::config(
            "after/before",
            "keyset pagination needs order_by: the cursor holds the ordering columns' values",
        ));
    }
    if cursor.len() != order.len() {
        return Err(Error::config(
            "after/before",
            format!(
                "the cursor has {} values but the query orders by {} columns; \
                 a cursor only continues the query it came from",
                cursor.len(),
                order.len()
            ),
        ));
    }
    if cursor.iter().any(|v| v.bytes.is_none()) {
        return Err(Error::config(
            "after/before",
            "the cursor holds a NULL, and a comparison with NULL matches no row; \
             order pages by NOT NULL columns",
        ));
    }
    Ok(())
}
