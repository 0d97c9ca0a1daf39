//! `INSERT`, `UPDATE` and `DELETE` for a [`Table`].

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::StreamExt;
use sea_query::{Alias, ReturningClause};
use tokio_postgres::types::ToSql;

use super::expr::{Expr, Node, add_condition};
use super::render::{self, Built, Target, condition, marker, table};
use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::table::{Column, FromRow, Param, Table};

/// PostgreSQL's limit on parameters in one statement.
const MAX_PARAMS: usize = 65_535;
/// Rows per statement when an insert needs several (as `execute_many`).
const ROWS_PER_INSERT: usize = 100;
/// Statements of one insert in flight at once.
const INSERTS_IN_FLIGHT: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ConflictAction {
    Nothing,
    Update(Vec<&'static str>),
}

/// Everything about an INSERT, UPDATE or DELETE but its values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum WriteShape {
    Insert {
        table: &'static str,
        columns: Vec<&'static str>,
        rows: usize,
        conflict: Option<(Vec<&'static str>, ConflictAction)>,
        returning: Option<&'static [&'static str]>,
    },
    Update {
        table: &'static str,
        set: Vec<&'static str>,
        filter: Option<Node>,
        returning: Option<&'static [&'static str]>,
    },
    Delete {
        table: &'static str,
        filter: Option<Node>,
        returning: Option<&'static [&'static str]>,
    },
}

fn returning_clause(names: &[&'static str]) -> ReturningClause {
    ReturningClause::Columns(names.iter().map(|n| Alias::new(*n).into()).collect())
}

fn statement_for(shape: &WriteShape, schema: Option<&str>) -> Result<Built> {
    let mut next = 0;
    let mut take = || {
        let m = marker(next);
        next += 1;
        m
    };
    match shape {
        WriteShape::Insert {
            table: name,
            columns,
            rows,
            conflict,
            returning,
        } => {
            let mut q = sea_query::Query::insert();
            q.into_table(table(schema, name));
            q.columns(columns.iter().map(|c| Alias::new(*c)));
            if columns.is_empty() {
                q.or_default_values_many(*rows as u32);
            } else {
                for _ in 0..*rows {
                    let row: Vec<sea_query::Expr> = columns
                        .iter()
                        .map(|_| sea_query::Expr::val(take()))
                        .collect();
                    q.values_panic(row);
                }
            }
            if let Some((targets, action)) = conflict {
                let mut on = sea_query::OnConflict::columns(targets.iter().map(|c| Alias::new(*c)));
                match action {
                    ConflictAction::Nothing => on.do_nothing(),
                    ConflictAction::Update(cols) => {
                        on.update_columns(cols.iter().map(|c| Alias::new(*c)))
                    }
                };
                q.on_conflict(on);
            }
            if let Some(names) = returning {
                q.returning(returning_clause(names));
            }
            render::render(&q, schema)
        }
        WriteShape::Update {
            table: name,
            set,
            filter,
            returning,
        } => {
            let mut q = sea_query::Query::update();
            q.table(table(schema, name));
            for col in set {
                q.value(Alias::new(*col), sea_query::Expr::val(take()));
            }
            if let Some(filter) = filter {
                q.and_where(condition(filter, schema, &mut next));
            }
            if let Some(names) = returning {
                q.returning(returning_clause(names));
            }
            render::render(&q, schema)
        }
        WriteShape::Delete {
            table: name,
            filter,
            returning,
        } => {
            let mut q = sea_query::Query::delete();
            q.from_table(table(schema, name));
            if let Some(filter) = filter {
                q.and_where(condition(filter, schema, &mut next));
            }
            if let Some(names) = returning {
                q.returning(returning_clause(names));
            }
            render::render(&q, schema)
        }
    }
}

fn built(target: &Target<'_>, shape: &WriteShape) -> Result<Arc<Built>> {
    let schema = target.schema();
    target
        .templates()
        .shapes
        .writes
        .get_or_build(shape, || statement_for(shape, schema))
}

fn ordered<'a>(built: &Built, values: &'a [Param<'_>]) -> Vec<&'a (dyn ToSql + Sync)> {
    built.order.iter().map(|&i| values[i].as_sql()).collect()
}

fn returning_names<R: FromRow>() -> Result<&'static [&'static str]> {
    R::NAMES.ok_or_else(|| {
        Error::config(
            "returning",
            "RETURNING needs a type that reads columns by name (a #[derive(Table)] or #[derive(FromRow)] struct)",
        )
    })
}

type BoxFuture<'e, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'e>>;

/// Runs one built write and returns rows affected or decoded rows.
async fn run_write<R: FromRow>(
    target: &Target<'_>,
    shape: &WriteShape,
    values: &[Param<'_>],
    decode: bool,
) -> Result<(u64, Vec<R>)> {
    let built = built(target, shape)?;
    let params = ordered(&built, values);
    if decode {
        let (statement, rows) = render::query_rows(target, &built.sql, &params).await?;
        let decoded = render::decode_all(&statement, &rows, Some(&built.indices))?;
        Ok((rows.len() as u64, decoded))
    } else {
        Ok((
            render::execute(target, &built.sql, &params).await?,
            Vec::new(),
        ))
    }
}

/// A typed `INSERT` of one or more rows of `T`.
///
/// Generated columns are left out (the database fills them); `returning`
/// reads them back. Rows are sent in multi-row statements, chunked below
/// PostgreSQL's 65,535-parameter limit; several chunks run in one
/// transaction, so the insert applies all rows or none.
///
/// ```no_run
/// # use pgdbm::Table;
/// # #[derive(Table, Debug)] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// let alice = db.insert(&User { id: 0, email: "a@x.io".into() }).returning::<User>().one().await?;
/// let n = db.insert_many(&[User { id: 0, email: "b@x.io".into() }]).await?;
/// db.insert(&alice).on_conflict((User::EMAIL,)).do_nothing().await?;
/// # Ok(()) }
/// ```
#[must_use = "an insert does nothing until it is awaited"]
pub struct Insert<'e, T: Table> {
    target: Target<'e>,
    rows: &'e [T],
    conflict: Option<(Vec<&'static str>, ConflictAction)>,
}

impl<T: Table> std::fmt::Debug for Insert<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Insert")
            .field("table", &T::TABLE)
            .field("rows", &self.rows.len())
            .finish_non_exhaustive()
    }
}

impl<'e, T: Table> Insert<'e, T> {
    pub(crate) fn new(target: Target<'e>, rows: &'e [T]) -> Self {
        Insert {
            target,
            rows,
            conflict: None,
        }
    }

    /// `ON CONFLICT (columns)`, followed by
    /// [`do_nothing`](OnConflict::do_nothing) or
    /// [`do_update`](OnConflict::do_update).
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let alice = User { id: 0, email: "alice@x.io".into(), name: Some("Alice".into()), active: true };
    /// // Insert, or refresh the name of the existing row with this email.
    /// db.insert(&alice).on_conflict(User::EMAIL).do_update(User::NAME).await?;
    /// # Ok(()) }
    /// ```
    pub fn on_conflict<C: ColumnNames<T>>(self, columns: C) -> OnConflict<'e, T> {
        OnConflict {
            insert: self,
            targets: columns.names(),
        }
    }

    /// Reads the inserted rows back (`RETURNING`), generated columns
    /// included.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let alice = User { id: 0, email: "alice@x.io".into(), name: Some("Alice".into()), active: true };
    /// let saved: User = db.insert(&alice).returning::<User>().one().await?;
    /// assert!(saved.id > 0); // filled by the database
    /// # Ok(()) }
    /// ```
    pub fn returning<R: FromRow>(self) -> InsertReturning<'e, T, R> {
        InsertReturning {
            insert: self,
            _rows: PhantomData,
        }
    }

    fn insertable() -> Vec<usize> {
        T::COLUMN_DEFS
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.generated)
            .map(|(i, _)| i)
            .collect()
    }

    fn shape(&self, rows: usize, returning: Option<&'static [&'static str]>) -> WriteShape {
        WriteShape::Insert {
            table: T::TABLE,
            columns: Self::insertable()
                .into_iter()
                .map(|i| T::COLUMN_DEFS[i].name)
                .collect(),
            rows,
            conflict: self.conflict.clone(),
            returning,
        }
    }

    /// The SQL for one row, for the manager's schema.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, active: bool }
    /// # async fn f(db: pgdbm::Database, user: User) -> pgdbm::Result<()> {
    /// let app = db.with_schema("app")?;
    /// assert_eq!(
    ///     app.insert(&user).to_sql()?,
    ///     r#"INSERT INTO "app"."users" ("email", "name", "active") VALUES ($1, $2, $3)"#
    /// );
    /// # Ok(()) }
    /// ```
    pub fn to_sql(&self) -> Result<String> {
        Ok(built(&self.target, &self.shape(1, None))?.sql.clone())
    }

    async fn run<R: FromRow>(
        self,
        returning: Option<&'static [&'static str]>,
    ) -> Result<(u64, Vec<R>)> {
        let columns = Self::insertable();
        let per_statement = if columns.is_empty() {
            self.rows.len().max(1)
        } else {
            (MAX_PARAMS / columns.len()).max(1)
        };
        let decode = returning.is_some();
        if self.rows.is_empty() {
            // `INSERT .. VALUES` needs a row: nothing to send.
            return Ok((0, Vec::new()));
        }
        if self.rows.len() <= per_statement {
            let shape = self.shape(self.rows.len(), returning);
            return insert_chunk(&self.target, self.rows, &columns, shape, decode).await;
        }
        // Several statements: one connection, one transaction, and the
        // statement size that measured fastest (DESIGN §12), a few in
        // flight at once.
        let per_chunk = ROWS_PER_INSERT.min(per_statement);
        let timeout = self.target.call_timeout();
        let lease = self.target.lease_owned().await?;
        let pinned = Target::Pinned(
            &lease,
            self.target.templates(),
            timeout,
            self.target.session(),
        );
        // A window of statements in flight, without a closure per chunk:
        // a closure over borrowed chunks keeps the future from being Send.
        let work = async {
            let mut chunks = self.rows.chunks(per_chunk);
            let mut in_flight = futures_util::stream::FuturesOrdered::new();
            let (mut total, mut decoded) = (0, Vec::new());
            loop {
                while in_flight.len() < INSERTS_IN_FLIGHT {
                    let Some(chunk) = chunks.next() else { break };
                    let shape = self.shape(chunk.len(), returning);
                    in_flight.push_back(insert_chunk(&pinned, chunk, &columns, shape, decode));
                }
                let Some(done) = in_flight.next().await else {
                    break;
                };
                let (n, rows) = done?;
                total += n;
                decoded.extend(rows);
            }
            Ok((total, decoded))
        };
        crate::executor::atomically(&lease, timeout, work).await
    }

    /// Runs the insert; returns the rows inserted.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, active: bool }
    /// # async fn f(db: pgdbm::Database, users: Vec<User>) -> pgdbm::Result<()> {
    /// let n = db.insert_many(&users).execute().await?; // or just `.await`
    /// assert_eq!(n, users.len() as u64);
    /// # Ok(()) }
    /// ```
    pub async fn execute(self) -> Result<u64> {
        Ok(self.run::<()>(None).await?.0)
    }
}

/// Inserts one statement's worth of rows.
async fn insert_chunk<T: Table, R: FromRow>(
    target: &Target<'_>,
    chunk: &[T],
    columns: &[usize],
    shape: WriteShape,
    decode: bool,
) -> Result<(u64, Vec<R>)> {
    let mut values = Vec::with_capacity(chunk.len() * columns.len());
    for row in chunk {
        values.extend(columns.iter().map(|&i| row.value(i)));
    }
    run_write::<R>(target, &shape, &values, decode).await
}

/// `.await` on a write runs it and returns the rows affected.
macro_rules! awaitable {
    ($builder:ident) => {
        impl<'e, T: Table> IntoFuture for $builder<'e, T> {
            type Output = Result<u64>;
            type IntoFuture = BoxFuture<'e, u64>;
            fn into_future(self) -> Self::IntoFuture {
                Box::pin(self.execute())
            }
        }
    };
}

awaitable!(Insert);

/// An `INSERT .. ON CONFLICT` being built; see [`Insert::on_conflict`].
///
/// ```no_run
/// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, active: bool }
/// # async fn f(db: pgdbm::Database, users: Vec<User>) -> pgdbm::Result<()> {
/// // Rows whose email is already taken are skipped.
/// let inserted = db.insert_many(&users).on_conflict(User::EMAIL).do_nothing().await?;
/// # Ok(()) }
/// ```
#[must_use = "choose do_nothing() or do_update(..)"]
pub struct OnConflict<'e, T: Table> {
    insert: Insert<'e, T>,
    targets: Vec<&'static str>,
}

impl<T: Table> std::fmt::Debug for OnConflict<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnConflict")
            .field("targets", &self.targets)
            .finish_non_exhaustive()
    }
}

impl<'e, T: Table> OnConflict<'e, T> {
    /// `DO NOTHING`: conflicting rows are skipped.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, active: bool }
    /// # async fn f(db: pgdbm::Database, user: User) -> pgdbm::Result<()> {
    /// let inserted = db.insert(&user).on_conflict(User::EMAIL).do_nothing().await?;
    /// if inserted == 0 {
    ///     println!("{} is already registered", user.email);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn do_nothing(mut self) -> Insert<'e, T> {
        self.insert.conflict = Some((self.targets, ConflictAction::Nothing));
        self.insert
    }

    /// `DO UPDATE SET col = EXCLUDED.col` for `columns`.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, active: bool }
    /// # async fn f(db: pgdbm::Database, user: User) -> pgdbm::Result<()> {
    /// // Upsert: the existing row takes the new name and active flag.
    /// db.insert(&user).on_conflict(User::EMAIL).do_update((User::NAME, User::ACTIVE)).await?;
    /// # Ok(()) }
    /// ```
    pub fn do_update<C: ColumnNames<T>>(mut self, columns: C) -> Insert<'e, T> {
        self.insert.conflict = Some((self.targets, ConflictAction::Update(columns.names())));
        self.insert
    }
}

/// An insert that reads rows back; see [`Insert::returning`].
///
/// ```no_run
/// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, active: bool }
/// # async fn f(db: pgdbm::Database, users: Vec<User>) -> pgdbm::Result<()> {
/// let saved: Vec<User> = db.insert_many(&users).returning::<User>().all().await?;
/// let ids: Vec<i64> = saved.iter().map(|u| u.id).collect();
/// # Ok(()) }
/// ```
#[must_use = "an insert does nothing until it is awaited"]
pub struct InsertReturning<'e, T: Table, R> {
    insert: Insert<'e, T>,
    _rows: PhantomData<fn() -> R>,
}

impl<T: Table, R> std::fmt::Debug for InsertReturning<'_, T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.insert.fmt(f)
    }
}

impl<T: Table, R: FromRow> InsertReturning<'_, T, R> {
    /// Every inserted row (skipped conflicts return nothing).
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, active: bool }
    /// # async fn f(db: pgdbm::Database, users: Vec<User>) -> pgdbm::Result<()> {
    /// let new: Vec<User> = db
    ///     .insert_many(&users)
    ///     .on_conflict(User::EMAIL)
    ///     .do_nothing()
    ///     .returning::<User>()
    ///     .all()
    ///     .await?;
    /// println!("{} of {} were new", new.len(), users.len());
    /// # Ok(()) }
    /// ```
    pub async fn all(self) -> Result<Vec<R>> {
        let names = returning_names::<R>()?;
        Ok(self.insert.run::<R>(Some(names)).await?.1)
    }

    /// The one inserted row: [`Error::NotFound`] if a conflict skipped it.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, active: bool }
    /// # async fn f(db: pgdbm::Database, user: User) -> pgdbm::Result<()> {
    /// let saved = db.insert(&user).returning::<User>().one().await?;
    /// println!("{} is user #{}", saved.email, saved.id);
    /// # Ok(()) }
    /// ```
    pub async fn one(self) -> Result<R> {
        let sql = self.insert.to_sql()?;
        let mut rows = self.all().await?;
        match rows.len() {
            1 => Ok(rows.swap_remove(0)),
            0 => Err(Error::NotFound(sql.into())),
            _ => Err(Error::TooManyRows(sql.into())),
        }
    }
}

/// Column handles of table `T` naming conflict targets or updated columns:
/// one column or a tuple of them.
///
/// ```no_run
/// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, active: bool }
/// # async fn f(db: pgdbm::Database, user: User) -> pgdbm::Result<()> {
/// db.insert(&user)
///     .on_conflict(User::EMAIL) // one column
///     .do_update((User::NAME, User::ACTIVE)) // or a tuple
///     .await?;
/// # Ok(()) }
/// ```
pub trait ColumnNames<T> {
    #[doc(hidden)]
    fn names(self) -> Vec<&'static str>;
}

impl<T: Table, V, F> ColumnNames<T> for Column<T, V, F> {
    fn names(self) -> Vec<&'static str> {
        vec![self.name()]
    }
}

macro_rules! name_tuples {
    ($($v:ident $f:ident $i:tt),+) => {
        impl<T: Table, $($v, $f),+> ColumnNames<T> for ($(Column<T, $v, $f>,)+) {
            fn names(self) -> Vec<&'static str> {
                vec![$(self.$i.name()),+]
            }
        }
    };
}
name_tuples!(V1 F1 0);
name_tuples!(V1 F1 0, V2 F2 1);
name_tuples!(V1 F1 0, V2 F2 1, V3 F3 2);
name_tuples!(V1 F1 0, V2 F2 1, V3 F3 2, V4 F4 3);
name_tuples!(V1 F1 0, V2 F2 1, V3 F3 2, V4 F4 3, V5 F5 4);
name_tuples!(V1 F1 0, V2 F2 1, V3 F3 2, V4 F4 3, V5 F5 4, V6 F6 5);

/// A typed `UPDATE` of table `T`: [`set`](Update::set) columns, then
/// [`filter`](Update::filter) the rows (without a filter every row is
/// updated).
///
/// ```no_run
/// # use pgdbm::Table;
/// # #[derive(Table, Debug)] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, active: bool }
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// let n = db.update::<User>().set(User::ACTIVE, false).filter(User::EMAIL.like("%@old.io")).await?;
/// # Ok(()) }
/// ```
#[must_use = "an update does nothing until it is awaited"]
pub struct Update<'e, T: Table> {
    target: Target<'e>,
    set: Vec<&'static str>,
    set_values: Vec<Param<'e>>,
    filter: Option<Node>,
    filter_values: Vec<Param<'e>>,
    _table: PhantomData<fn() -> T>,
}

impl<T: Table> std::fmt::Debug for Update<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Update")
            .field("table", &T::TABLE)
            .field("set", &self.set)
            .finish_non_exhaustive()
    }
}

impl<'e, T: Table> Update<'e, T> {
    pub(crate) fn new(target: Target<'e>) -> Self {
        Update {
            target,
            set: Vec::new(),
            set_values: Vec::new(),
            filter: None,
            filter_values: Vec::new(),
            _table: PhantomData,
        }
    }

    /// `SET column = value`, the value bound as exactly the column's type.
    ///
    /// A nullable column takes its field type, so `None` sets NULL.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let n = db.update::<User>()
    ///     .set(User::ACTIVE, false)
    ///     .set(User::NAME, None) // NULL
    ///     .filter(User::ID.eq(7))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn set<V, F: ToSql + Sync + Send + 'static>(
        mut self,
        column: Column<T, V, F>,
        value: impl Into<F>,
    ) -> Self {
        self.set.push(column.name());
        self.set_values.push(Param::Owned(Box::new(value.into())));
        self
    }

    /// Adds a WHERE condition; several calls are joined with AND.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let n = db.update::<User>()
    ///     .set(User::ACTIVE, false)
    ///     .filter(User::EMAIL.like("%@old.io"))
    ///     .filter(User::ACTIVE.eq(true)) // AND
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn filter(mut self, condition: Expr) -> Self {
        add_condition(&mut self.filter, &mut self.filter_values, condition);
        self
    }

    fn shape(&self, returning: Option<&'static [&'static str]>) -> WriteShape {
        WriteShape::Update {
            table: T::TABLE,
            set: self.set.clone(),
            filter: self.filter.clone(),
            returning,
        }
    }

    fn values(&self) -> Vec<Param<'_>> {
        self.set_values
            .iter()
            .chain(&self.filter_values)
            .map(|p| Param::Ref(p.as_sql()))
            .collect()
    }

    /// The SQL, for the manager's schema.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let app = db.with_schema("app")?;
    /// let update = app.update::<User>().set(User::ACTIVE, false).filter(User::ID.gt(5));
    /// assert_eq!(
    ///     update.to_sql()?,
    ///     r#"UPDATE "app"."users" SET "active" = $1 WHERE "app"."users"."id" > $2"#
    /// );
    /// # Ok(()) }
    /// ```
    pub fn to_sql(&self) -> Result<String> {
        Ok(built(&self.target, &self.shape(None))?.sql.clone())
    }

    /// Runs the update; returns the rows updated.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let n = db.update::<User>().set(User::ACTIVE, true).filter(User::ID.eq(7)).execute().await?;
    /// if n == 0 {
    ///     println!("no user #7");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn execute(self) -> Result<u64> {
        if self.set.is_empty() {
            return Err(Error::config(
                "update",
                "nothing to set: call .set(column, value)",
            ));
        }
        let values = self.values();
        Ok(
            run_write::<()>(&self.target, &self.shape(None), &values, false)
                .await?
                .0,
        )
    }

    /// Runs the update and reads the updated rows back.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let deactivated: Vec<User> = db.update::<User>()
    ///     .set(User::ACTIVE, false)
    ///     .filter(User::EMAIL.like("%@old.io"))
    ///     .returning::<User>()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn returning<R: FromRow>(self) -> Result<Vec<R>> {
        let names = returning_names::<R>()?;
        let values = self.values();
        Ok(
            run_write::<R>(&self.target, &self.shape(Some(names)), &values, true)
                .await?
                .1,
        )
    }
}

awaitable!(Update);

/// A typed `DELETE` from table `T` (without a filter every row is deleted).
///
/// ```no_run
/// # use pgdbm::Table;
/// # #[derive(Table, Debug)] struct User { #[pgdbm(primary_key, generated)] id: i64, active: bool }
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// let n = db.delete::<User>().filter(User::ACTIVE.eq(false)).await?;
/// # Ok(()) }
/// ```
#[must_use = "a delete does nothing until it is awaited"]
pub struct Delete<'e, T: Table> {
    target: Target<'e>,
    filter: Option<Node>,
    filter_values: Vec<Param<'e>>,
    _table: PhantomData<fn() -> T>,
}

impl<T: Table> std::fmt::Debug for Delete<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delete")
            .field("table", &T::TABLE)
            .finish_non_exhaustive()
    }
}

impl<'e, T: Table> Delete<'e, T> {
    pub(crate) fn new(target: Target<'e>) -> Self {
        Delete {
            target,
            filter: None,
            filter_values: Vec::new(),
            _table: PhantomData,
        }
    }

    /// Adds a WHERE condition; several calls are joined with AND.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let n = db.delete::<User>()
    ///     .filter(User::ACTIVE.eq(false))
    ///     .filter(User::NAME.is_null()) // AND
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn filter(mut self, condition: Expr) -> Self {
        add_condition(&mut self.filter, &mut self.filter_values, condition);
        self
    }

    fn shape(&self, returning: Option<&'static [&'static str]>) -> WriteShape {
        WriteShape::Delete {
            table: T::TABLE,
            filter: self.filter.clone(),
            returning,
        }
    }

    /// The SQL, for the manager's schema.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let app = db.with_schema("app")?;
    /// let delete = app.delete::<User>().filter(User::EMAIL.ilike("%OLD%"));
    /// assert_eq!(
    ///     delete.to_sql()?,
    ///     r#"DELETE FROM "app"."users" WHERE "app"."users"."email" ILIKE $1"#
    /// );
    /// # Ok(()) }
    /// ```
    pub fn to_sql(&self) -> Result<String> {
        Ok(built(&self.target, &self.shape(None))?.sql.clone())
    }

    /// Runs the delete; returns the rows deleted.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let n = db.delete::<User>().filter(User::ID.eq(7)).execute().await?; // or just `.await`
    /// assert!(n <= 1);
    /// # Ok(()) }
    /// ```
    pub async fn execute(self) -> Result<u64> {
        Ok(
            run_write::<()>(&self.target, &self.shape(None), &self.filter_values, false)
                .await?
                .0,
        )
    }

    /// Runs the delete and reads the deleted rows back.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let removed: Vec<User> = db.delete::<User>().filter(User::ACTIVE.eq(false)).returning::<User>().await?;
    /// for user in &removed {
    ///     println!("goodbye {}", user.email);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn returning<R: FromRow>(self) -> Result<Vec<R>> {
        let names = returning_names::<R>()?;
        Ok(run_write::<R>(
            &self.target,
            &self.shape(Some(names)),
            &self.filter_values,
            true,
        )
        .await?
        .1)
    }
}

awaitable!(Delete);

/// `update_row(&row)`: every non-key, non-generated column set from `row`,
/// matched by its primary key.
pub(crate) async fn update_row<T: Table>(target: Target<'_>, row: &T) -> Result<u64> {
    let set: Vec<usize> = T::COLUMN_DEFS
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.primary_key && !c.generated)
        .map(|(i, _)| i)
        .collect();
    let (filter, keys) = super::key_filter::<T>()?;
    let shape = WriteShape::Update {
        table: T::TABLE,
        set: set.iter().map(|&i| T::COLUMN_DEFS[i].name).collect(),
        filter: Some(filter),
        returning: None,
    };
    let values: Vec<Param<'_>> = set.iter().chain(&keys).map(|&i| row.value(i)).collect();
    Ok(run_write::<()>(&target, &shape, &values, false).await?.0)
}

/// `delete_row(&row)`: deletes the row with `row`'s primary key.
pub(crate) async fn delete_row<T: Table>(target: Target<'_>, row: &T) -> Result<u64> {
    let (filter, keys) = super::key_filter::<T>()?;
    let shape = WriteShape::Delete {
        table: T::TABLE,
        filter: Some(filter),
        returning: None,
    };
    let values: Vec<Param<'_>> = keys.iter().map(|&i| row.value(i)).collect();
    Ok(run_write::<()>(&target, &shape, &values, false).await?.0)
}
