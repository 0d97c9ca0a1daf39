//! `SELECT` for a [`Table`].

use std::marker::PhantomData;
use std::sync::Arc;

use futures_util::{Stream, StreamExt};
use sea_query::{JoinType, Order};
use tokio_postgres::types::FromSqlOwned;

use super::expr::{ColRef, Expr, Node, OrderBy, add_condition};
use super::page::{self, Cursor, Page, RawValue};
use super::render::{self, Built, Target, column, condition, table};
use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::table::{Column, FromRow, Param, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SelectKind {
    Rows,
    Count,
    Exists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum JoinKind {
    Inner,
    Left,
}

/// Everything about a SELECT but its values: the cache key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SelectShape {
    table: &'static str,
    columns: Vec<ColRef>,
    kind: SelectKind,
    joins: Vec<(JoinKind, &'static str, Node)>,
    filter: Option<Node>,
    group_by: Vec<ColRef>,
    having: Option<Node>,
    order: Vec<OrderBy>,
    /// Keyset pagination: `Some(before)` when a cursor is bound.
    keyset: Option<bool>,
    /// The terms the keyset compares when they are not `order` (a count
    /// keeps the keyset but drops ORDER BY).
    keyset_order: Vec<OrderBy>,
    /// The ordering columns again after the selected ones, for the cursors
    /// of a page.
    cursor_columns: bool,
    /// Columns read after the selected ones by pgdbm itself (the key a
    /// related row is grouped by).
    trailing: Vec<ColRef>,
    limit: bool,
    offset: bool,
}

/// A typed `SELECT` from table `T`, decoding rows into `R` (`T` itself, or a
/// tuple after [`columns`](Select::columns)).
///
/// Every table and column reference carries the schema of the manager the
/// builder came from.
///
/// ```no_run
/// # use pgdbm::Table;
/// # #[derive(Table, Debug)] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, active: bool }
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// let active: Vec<User> = db.select::<User>()
///     .filter(User::ACTIVE.eq(true).and(User::EMAIL.like("%@x.io")))
///     .order_by(User::ID.desc())
///     .limit(50)
///     .all()
///     .await?;
/// let emails: Vec<(i64, String)> = db.select::<User>().columns((User::ID, User::EMAIL)).all().await?;
/// let n = db.select::<User>().filter(User::ACTIVE.eq(false)).count().await?;
/// # Ok(()) }
/// ```
#[must_use = "a query does nothing until it is awaited with all(), one(), optional(), stream(), count() or exists()"]
pub struct Select<'e, T, R = T> {
    target: Target<'e>,
    shape: SelectShape,
    join_values: Vec<Param<'e>>,
    filter_values: Vec<Param<'e>>,
    having_values: Vec<Param<'e>>,
    cursor: Vec<RawValue>,
    limit: Option<i64>,
    offset: Option<i64>,
    _rows: PhantomData<fn() -> (T, R)>,
}

impl<T, R> std::fmt::Debug for Select<'_, T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Select")
            .field("shape", &self.shape)
            .finish_non_exhaustive()
    }
}

fn owned<'e>(values: Vec<super::expr::BoxValue>) -> impl Iterator<Item = Param<'e>> {
    values.into_iter().map(Param::Owned)
}

fn all_columns<T: Table>() -> Vec<ColRef> {
    T::COLUMN_DEFS
        .iter()
        .map(|c| ColRef {
            table: T::TABLE,
            column: c.name,
        })
        .collect()
}

impl<'e, T: Table> Select<'e, T, T> {
    pub(crate) fn new(target: Target<'e>) -> Self {
        Select {
            target,
            shape: SelectShape {
                table: T::TABLE,
                columns: all_columns::<T>(),
                kind: SelectKind::Rows,
                joins: Vec::new(),
                filter: None,
                group_by: Vec::new(),
                having: None,
                order: Vec::new(),
                keyset: None,
                keyset_order: Vec::new(),
                cursor_columns: false,
                trailing: Vec::new(),
                limit: false,
                offset: false,
            },
            join_values: Vec::new(),
            filter_values: Vec::new(),
            having_values: Vec::new(),
            cursor: Vec::new(),
            limit: None,
            offset: None,
            _rows: PhantomData,
        }
    }

    /// Also reads `col` after the selected columns (see [`keyed`](Select::keyed)).
    pub(crate) fn trailing(mut self, col: ColRef) -> Self {
        self.shape.trailing.push(col);
        self
    }

    /// The rows, each with the value of its first trailing column.
    pub(crate) async fn keyed<K: FromSqlOwned>(self) -> Result<Vec<(K, T)>> {
        let built = self.built(&self.shape)?;
        let params = self.params(&built);
        let (statement, rows) = render::query_rows(&self.target, &built.sql, &params).await?;
        let width = self.shape.columns.len();
        let columns = &statement.columns()[..width];
        let indices = match built.indices.get() {
            Some(indices) => indices.clone(),
            None => {
                let indices = crate::table::resolve::<T>(columns)?;
                T::check(columns, &indices)?;
                built.indices.get_or_init(|| indices).clone()
            }
        };
        rows.iter()
            .map(|row| {
                Ok((
                    crate::row::read_column::<K>(row, width)?,
                    T::decode(row, &indices)?,
                ))
            })
            .collect()
    }

    /// A filter built by pgdbm with values borrowed for the builder's life.
    pub(crate) fn filter_node(mut self, node: Node, values: Vec<Param<'e>>) -> Self {
        self.shape.filter = Some(node);
        self.filter_values = values;
        self
    }
}

impl<'e, T: Table, R: FromRow> Select<'e, T, R> {
    /// Adds a WHERE condition; several calls are joined with AND.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, active: bool }
    /// # async fn f(db: pgdbm::Database, domain: Option<&str>) -> pgdbm::Result<()> {
    /// let mut q = db.select::<User>().filter(User::ACTIVE.eq(true));
    /// if let Some(domain) = domain {
    ///     q = q.filter(User::EMAIL.like(format!("%@{domain}"))); // AND email LIKE $2
    /// }
    /// let users: Vec<User> = q.all().await?;
    /// # Ok(()) }
    /// ```
    pub fn filter(mut self, condition: Expr) -> Self {
        add_condition(&mut self.shape.filter, &mut self.filter_values, condition);
        self
    }

    /// Adds an ORDER BY term.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let users: Vec<User> = db.select::<User>().order_by(User::EMAIL.asc()).all().await?;
    /// # Ok(()) }
    /// ```
    pub fn order_by(mut self, order: OrderBy) -> Self {
        self.shape.order.push(order);
        self
    }

    /// At most `n` rows (bound as a parameter).
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let latest: Vec<User> = db.select::<User>().order_by(User::ID.desc()).limit(20).all().await?;
    /// # Ok(()) }
    /// ```
    pub fn limit(mut self, n: u64) -> Self {
        self.shape.limit = true;
        self.limit = Some(i64::try_from(n).unwrap_or(i64::MAX));
        self
    }

    /// Skips `n` rows (bound as a parameter).
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let (page, per_page) = (3, 20);
    /// let users: Vec<User> = db.select::<User>()
    ///     .order_by(User::ID.asc())
    ///     .limit(per_page)
    ///     .offset((page - 1) * per_page)
    ///     .all()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn offset(mut self, n: u64) -> Self {
        self.shape.offset = true;
        self.offset = Some(i64::try_from(n).unwrap_or(i64::MAX));
        self
    }

    /// `INNER JOIN` table `U` (in the same schema) on `on`.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, active: bool }
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "posts")] struct Post { #[pgdbm(primary_key, generated)] id: i64, user_id: i64, title: String }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// // Posts whose author is active.
    /// let posts: Vec<Post> = db.select::<Post>()
    ///     .join::<User>(Post::USER_ID.eq_col(User::ID))
    ///     .filter(User::ACTIVE.eq(true))
    ///     .all()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn join<U: Table>(self, on: Expr) -> Self {
        self.add_join::<U>(JoinKind::Inner, on)
    }

    /// `LEFT JOIN` table `U` (in the same schema) on `on`.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, active: bool }
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "posts")] struct Post { #[pgdbm(primary_key, generated)] id: i64, user_id: i64, title: String }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// // Users without any post.
    /// let silent: Vec<User> = db.select::<User>()
    ///     .left_join::<Post>(Post::USER_ID.eq_col(User::ID))
    ///     .filter(Post::ID.is_null())
    ///     .all()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn left_join<U: Table>(self, on: Expr) -> Self {
        self.add_join::<U>(JoinKind::Left, on)
    }

    fn add_join<U: Table>(mut self, kind: JoinKind, on: Expr) -> Self {
        self.shape.joins.push((kind, U::TABLE, on.node));
        self.join_values.extend(owned(on.values));
        self
    }

    /// Adds a GROUP BY column.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "posts")] struct Post { #[pgdbm(primary_key, generated)] id: i64, user_id: i64, title: String }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// // One row per author: SELECT user_id .. GROUP BY user_id.
    /// let authors: Vec<(i64,)> = db.select::<Post>()
    ///     .columns(Post::USER_ID)
    ///     .group_by(Post::USER_ID)
    ///     .all()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn group_by<U: Table, V, F>(mut self, column: Column<U, V, F>) -> Self {
        self.shape.group_by.push(column.col_ref());
        self
    }

    /// Adds a HAVING condition (see [`count_all`](crate::count_all)).
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "posts")] struct Post { #[pgdbm(primary_key, generated)] id: i64, user_id: i64, title: String }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let prolific: Vec<(i64,)> = db.select::<Post>()
    ///     .columns(Post::USER_ID)
    ///     .group_by(Post::USER_ID)
    ///     .having(pgdbm::count_all().gt(10))
    ///     .all()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn having(mut self, condition: Expr) -> Self {
        add_condition(&mut self.shape.having, &mut self.having_values, condition);
        self
    }

    /// Selects only `columns` (one column or a tuple of them), decoded
    /// into a tuple of the fields' types.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let emails: Vec<(String,)> = db.select::<User>().columns(User::EMAIL).all().await?;
    /// let pairs: Vec<(i64, String)> = db.select::<User>().columns((User::ID, User::EMAIL)).all().await?;
    /// # Ok(()) }
    /// ```
    pub fn columns<C: Columns>(self, columns: C) -> Select<'e, T, C::Output> {
        let mut shape = self.shape;
        shape.columns = columns.refs();
        Select {
            target: self.target,
            shape,
            join_values: self.join_values,
            filter_values: self.filter_values,
            having_values: self.having_values,
            cursor: self.cursor,
            limit: self.limit,
            offset: self.offset,
            _rows: PhantomData,
        }
    }

    fn built(&self, shape: &SelectShape) -> Result<Arc<Built>> {
        let schema = self.target.schema();
        self.target
            .templates()
            .shapes
            .selects
            .get_or_build(shape, || render::render(&statement(shape, schema), schema))
    }

    fn params<'a>(&'a self, built: &Built) -> Vec<&'a (dyn tokio_postgres::types::ToSql + Sync)> {
        let mut values: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = self
            .join_values
            .iter()
            .chain(&self.filter_values)
            .map(Param::as_sql)
            .chain(self.cursor.iter().map(|v| v as _))
            .chain(self.having_values.iter().map(Param::as_sql))
            .collect();
        if let Some(limit) = &self.limit {
            values.push(limit);
        }
        if let Some(offset) = &self.offset {
            values.push(offset);
        }
        built.order.iter().map(|&i| values[i]).collect()
    }

    /// The SQL this builder runs, for the manager's schema, with `$n`
    /// placeholders.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let app = db.with_schema("app")?;
    /// let sql = app.select::<User>().filter(User::ID.eq(1)).to_sql()?;
    /// assert_eq!(
    ///     sql,
    ///     r#"SELECT "app"."users"."id", "app"."users"."email", "app"."users"."active" FROM "app"."users" WHERE "app"."users"."id" = $1"#
    /// );
    /// # Ok(()) }
    /// ```
    pub fn to_sql(&self) -> Result<String> {
        Ok(self.built(&self.shape)?.sql.clone())
    }

    /// Every matching row.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let active: Vec<User> = db.select::<User>().filter(User::ACTIVE.eq(true)).all().await?;
    /// # Ok(()) }
    /// ```
    pub async fn all(self) -> Result<Vec<R>> {
        Ok(self.rows().await?.1)
    }

    /// The rows, with the statement they came from (for error messages).
    async fn rows(self) -> Result<(Arc<Built>, Vec<R>)> {
        self.check_keyset()?;
        let built = self.built(&self.shape)?;
        let params = self.params(&built);
        let (statement, rows) = render::query_rows(&self.target, &built.sql, &params).await?;
        let mut decoded = render::decode_all(&statement, &rows, Some(&built.indices))?;
        if self.shape.keyset == Some(true) {
            // `before` reads backwards from the cursor; give the rows back in
            // the query's own order.
            decoded.reverse();
        }
        Ok((built, decoded))
    }

    fn check_keyset(&self) -> Result<()> {
        if self.shape.keyset.is_some() {
            page::check(&self.cursor, &self.shape.order)?;
        }
        Ok(())
    }

    /// Only the rows after `cursor` in this query's order (keyset
    /// pagination); see [`page`](Select::page). The `order_by` terms must
    /// be those of the query the cursor came from, and should end with a
    /// unique column (the primary key) so that the order is total.
    ///
    /// With every term in one direction this is a row-value comparison,
    /// `("s"."t"."a", "s"."t"."b") > ($1, $2)`, that a b-tree index on
    /// `(a, b)` answers with a range scan; with mixed directions, the
    /// expanded `a >= $1 AND (a > $1 OR (a = $1 AND b < $2))`.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, active: bool }
    /// # async fn f(db: pgdbm::Database, token: &str) -> pgdbm::Result<()> {
    /// let cursor = pgdbm::Cursor::from_token(token)?;
    /// let page = db.select::<User>()
    ///     .filter(User::ACTIVE.eq(true))
    ///     .order_by(User::EMAIL.asc())
    ///     .order_by(User::ID.asc())
    ///     .after(cursor)
    ///     .limit(50)
    ///     .page()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn after(mut self, cursor: Cursor) -> Self {
        self.shape.keyset = Some(false);
        self.cursor = cursor.values;
        self
    }

    /// Only the rows before `cursor` in this query's order: the page that
    /// precedes it (with `limit`, the `n` rows nearest the cursor), still
    /// returned in the query's order. See [`after`](Select::after).
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, active: bool }
    /// # async fn f(db: pgdbm::Database, page: pgdbm::Page<User>) -> pgdbm::Result<()> {
    /// if let Some(prev) = page.prev {
    ///     let previous = db.select::<User>().order_by(User::ID.asc()).before(prev).limit(50).page().await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn before(mut self, cursor: Cursor) -> Self {
        self.shape.keyset = Some(true);
        self.cursor = cursor.values;
        self
    }

    /// Runs the query as one page of keyset pagination: the rows, with
    /// cursors for the next and previous pages (see [`Page`]). Needs
    /// `order_by`; reads one row more than `limit` to know whether another
    /// page follows. The ordering columns must be NOT NULL (a NULL in a
    /// cursor is [`Error::Config`]).
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let page = db.select::<User>().order_by(User::ID.desc()).limit(20).page().await?;
    /// if let Some(next) = page.next {
    ///     let older = db.select::<User>().order_by(User::ID.desc()).after(next).limit(20).page().await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn page(mut self) -> Result<Page<R>> {
        if self.shape.order.is_empty() {
            return Err(Error::config(
                "page",
                "page() needs order_by: a cursor holds the ordering columns' values",
            ));
        }
        self.check_keyset()?;
        let mut shape = self.shape.clone();
        shape.cursor_columns = true;
        let wanted = self.limit;
        // One row more than asked tells whether another page follows.
        self.limit = wanted.map(|n| n.saturating_add(1));
        let built = self.built(&shape)?;
        let params = self.params(&built);
        let (statement, mut rows) = render::query_rows(&self.target, &built.sql, &params).await?;
        let width = shape.columns.len();
        let columns = &statement.columns()[..width];
        let indices = match built.indices.get() {
            Some(indices) => indices.clone(),
            None => {
                let indices = crate::table::resolve::<R>(columns)?;
                R::check(columns, &indices)?;
                built.indices.get_or_init(|| indices).clone()
            }
        };
        let more = wanted.is_some_and(|n| rows.len() as u64 > n as u64);
        if let Some(n) = wanted {
            rows.truncate(usize::try_from(n).unwrap_or(usize::MAX));
        }
        let before = shape.keyset == Some(true);
        if before {
            rows.reverse();
        }
        let count = shape.order.len();
        let cursor = |row: Option<&tokio_postgres::Row>| {
            row.map(|row| page::cursor_of(row, width, count))
                .transpose()
        };
        let (next, prev) = if before {
            (
                cursor(rows.last())?,
                if more { cursor(rows.first())? } else { None },
            )
        } else {
            let prev = if shape.keyset.is_some() {
                cursor(rows.first())?
            } else {
                None
            };
            (if more { cursor(rows.last())? } else { None }, prev)
        };
        let items = rows
            .iter()
            .map(|row| R::decode(row, &indices))
            .collect::<Result<Vec<R>>>()?;
        Ok(Page { items, next, prev })
    }

    /// Exactly one row: [`Error::NotFound`] for none,
    /// [`Error::TooManyRows`] for more.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let alice: User = db.select::<User>().filter(User::EMAIL.eq("alice@x.io")).one().await?;
    /// match db.select::<User>().filter(User::EMAIL.eq("nobody@x.io")).one().await {
    ///     Err(pgdbm::Error::NotFound(sql)) => eprintln!("no such user: {sql}"),
    ///     Ok(user) => println!("found #{}", user.id),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn one(self) -> Result<R> {
        let (built, mut rows) = self.rows().await?;
        match rows.len() {
            1 => Ok(rows.swap_remove(0)),
            0 => Err(Error::NotFound(built.sql.as_str().into())),
            _ => Err(Error::TooManyRows(built.sql.as_str().into())),
        }
    }

    /// Zero or one row; more is [`Error::TooManyRows`].
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// match db.select::<User>().filter(User::EMAIL.eq("alice@x.io")).optional().await? {
    ///     Some(user) => println!("found #{}", user.id),
    ///     None => println!("not registered"),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn optional(self) -> Result<Option<R>> {
        let (built, mut rows) = self.rows().await?;
        match rows.len() {
            0 => Ok(None),
            1 => Ok(Some(rows.swap_remove(0))),
            _ => Err(Error::TooManyRows(built.sql.as_str().into())),
        }
    }

    /// The number of matching rows (`SELECT count(*)`; order, limit and
    /// offset are ignored).
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let inactive: i64 = db.select::<User>().filter(User::ACTIVE.eq(false)).count().await?;
    /// # Ok(()) }
    /// ```
    pub async fn count(self) -> Result<i64> {
        self.scalar(SelectKind::Count, 0).await
    }

    /// Whether any row matches.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// if db.select::<User>().filter(User::EMAIL.eq("alice@x.io")).exists().await? {
    ///     println!("that email is taken");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn exists(self) -> Result<bool> {
        self.scalar(SelectKind::Exists, false).await
    }

    /// Runs the shape as a one-value query of `kind`, without ordering or
    /// paging; `empty` when no row comes back.
    async fn scalar<V: tokio_postgres::types::FromSqlOwned>(
        mut self,
        kind: SelectKind,
        empty: V,
    ) -> Result<V> {
        self.check_keyset()?;
        let mut shape = self.shape.clone();
        shape.kind = kind;
        if shape.keyset.is_some() {
            shape.keyset_order = std::mem::take(&mut shape.order);
        }
        shape.order.clear();
        shape.limit = false;
        shape.offset = false;
        self.limit = None;
        self.offset = None;
        let built = self.built(&shape)?;
        let params = self.params(&built);
        let (_, rows) = render::query_rows(&self.target, &built.sql, &params).await?;
        match rows.first() {
            Some(row) => crate::row::read_column::<V>(row, 0),
            None => Ok(empty),
        }
    }

    /// The matching rows as a stream, read from the server as consumed.
    /// (After [`before`](Select::before) the stream reads backwards from the
    /// cursor, nearest row first: it cannot reverse rows it has not read.)
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// use futures_util::TryStreamExt;
    /// let mut users = db.select::<User>().order_by(User::ID.asc()).stream().await?;
    /// while let Some(user) = users.try_next().await? {
    ///     println!("{}", user.email);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn stream(self) -> Result<impl Stream<Item = Result<R>> + Send + 'e>
    where
        R: 'e,
    {
        self.check_keyset()?;
        let built = self.built(&self.shape)?;
        let params = self.params(&built);
        let sql: Arc<str> = Arc::from(built.sql.as_str());
        let lease = self.target.lease_owned().await?;
        let inner =
            crate::executor::start_stream(&lease, self.target.stmt(&built.sql), &params).await?;
        let rows = crate::executor::RowStream::new(inner, lease, sql);
        let mut indices: Option<Vec<usize>> = built.indices.get().cloned();
        Ok(rows.map(move |row| {
            let row = row?;
            let raw = row.as_driver_row();
            let indices = match &indices {
                Some(indices) => indices,
                None => {
                    let resolved = crate::table::resolve::<R>(raw.columns())?;
                    R::check(raw.columns(), &resolved)?;
                    indices.insert(resolved)
                }
            };
            R::decode(raw, indices)
        }))
    }
}

/// Builds the sea-query statement for a shape, numbering values in the
/// canonical order: joins, filter, keyset cursor, having, limit, offset.
fn statement(shape: &SelectShape, schema: Option<&str>) -> sea_query::SelectStatement {
    let mut next = 0;
    let mut q = sea_query::Query::select();
    match shape.kind {
        SelectKind::Rows => {
            for col in &shape.columns {
                q.expr(column(schema, *col));
            }
            if shape.cursor_columns {
                for order in &shape.order {
                    q.expr(column(schema, order.column));
                }
            }
            for col in &shape.trailing {
                q.expr(column(schema, *col));
            }
        }
        SelectKind::Count => {
            q.expr(sea_query::Expr::cust("count(*)"));
        }
        SelectKind::Exists => {
            q.expr(sea_query::Expr::cust("true"));
        }
    }
    q.from(table(schema, shape.table));
    for (kind, joined, on) in &shape.joins {
        let kind = match kind {
            JoinKind::Inner => JoinType::InnerJoin,
            JoinKind::Left => JoinType::LeftJoin,
        };
        q.join(
            kind,
            table(schema, joined),
            condition(on, schema, &mut next),
        );
    }
    if let Some(filter) = &shape.filter {
        q.and_where(condition(filter, schema, &mut next));
    }
    if let Some(before) = shape.keyset {
        let terms = if shape.keyset_order.is_empty() {
            &shape.order
        } else {
            &shape.keyset_order
        };
        q.and_where(page::condition(terms, before, schema, &mut next));
    }
    for col in &shape.group_by {
        q.add_group_by([column(schema, *col)]);
    }
    if let Some(having) = &shape.having {
        q.and_having(condition(having, schema, &mut next));
    }
    for order in &shape.order {
        // `before` walks back from the cursor: the reversed order, whose
        // rows the caller reverses again.
        let direction = if order.descending != (shape.keyset == Some(true)) {
            Order::Desc
        } else {
            Order::Asc
        };
        q.order_by_expr(column(schema, order.column), direction);
    }
    if shape.kind == SelectKind::Exists {
        // EXISTS stops at the first row by itself; a LIMIT would add a
        // literal that is not one of the builder's values.
        let mut outer = sea_query::Query::select();
        outer.expr(sea_query::Expr::exists(q));
        return outer;
    }
    // sea-query takes LIMIT and OFFSET as numbers; the marker numbers name
    // the builder values they bind, like every other placeholder.
    if shape.limit {
        q.limit(next as u64);
        next += 1;
    }
    if shape.offset {
        q.offset(next as u64);
    }
    q
}

/// One column or a tuple of columns to select, read into the fields' types.
///
/// ```no_run
/// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String> }
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// let ids: Vec<(i64,)> = db.select::<User>().columns(User::ID).all().await?;
/// // A nullable column reads as its field type, `Option<String>`.
/// let names: Vec<(String, Option<String>)> = db.select::<User>().columns((User::EMAIL, User::NAME)).all().await?;
/// # Ok(()) }
/// ```
pub trait Columns {
    /// What a row decodes into.
    type Output: FromRow;
    #[doc(hidden)]
    fn refs(self) -> Vec<ColRef>;
}

impl<T: Table, V, F: FromSqlOwned + Send> Columns for Column<T, V, F> {
    type Output = (F,);
    fn refs(self) -> Vec<ColRef> {
        vec![self.col_ref()]
    }
}

macro_rules! column_tuples {
    ($($t:ident $v:ident $f:ident $i:tt),+) => {
        impl<$($t: Table, $v, $f: FromSqlOwned + Send),+> Columns for ($(Column<$t, $v, $f>,)+) {
            type Output = ($($f,)+);
            fn refs(self) -> Vec<ColRef> {
                vec![$(self.$i.col_ref()),+]
            }
        }
    };
}

column_tuples!(T1 V1 F1 0);
column_tuples!(T1 V1 F1 0, T2 V2 F2 1);
column_tuples!(T1 V1 F1 0, T2 V2 F2 1, T3 V3 F3 2);
column_tuples!(T1 V1 F1 0, T2 V2 F2 1, T3 V3 F3 2, T4 V4 F4 3);
column_tuples!(T1 V1 F1 0, T2 V2 F2 1, T3 V3 F3 2, T4 V4 F4 3, T5 V5 F5 4);
column_tuples!(T1 V1 F1 0, T2 V2 F2 1, T3 V3 F3 2, T4 V4 F4 3, T5 V5 F5 4, T6 V6 F6 5);
