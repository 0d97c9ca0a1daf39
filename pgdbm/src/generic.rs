//! One trait for "a `Database`, a `Conn` or a `Transaction`", so repository
//! functions are written once and called with any of them.

use std::future::Future;

use tokio_postgres::types::FromSqlOwned;

use crate::error::Result;
use crate::executor::{self, Params};
use crate::query::{self, Target};
use crate::{ColumnIndex, Delete, FromRow, Insert, Row, Select, Table, ToSql, Update};

mod sealed {
    /// Only pgdbm's executors implement [`Executor`](super::Executor): its
    /// methods may grow without breaking anyone.
    pub trait Sealed {}
    impl Sealed for crate::Database {}
    impl Sealed for crate::Conn {}
    impl Sealed for crate::Transaction<'_> {}
}

/// Where an executor runs its statements; opaque.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Handle<'e>(Target<'e>);

/// The query and builder methods of [`Database`](crate::Database),
/// [`Conn`](crate::Conn) and [`Transaction`](crate::Transaction), for code
/// that takes any of them. Each type also has these methods of its own, so
/// no import is needed to call them directly; import the trait to write a
/// function once for all three:
///
/// ```no_run
/// use pgdbm::Executor;
///
/// #[derive(pgdbm::Table, Debug)]
/// #[pgdbm(table = "users")]
/// struct User { #[pgdbm(primary_key, generated)] id: i64, email: String }
///
/// // A repository function: runs on the manager, a connection or inside a
/// // transaction, whichever the caller has.
/// async fn user_by_email(ex: &impl Executor, email: &str) -> pgdbm::Result<Option<User>> {
///     ex.select::<User>().filter(User::EMAIL.eq(email)).optional().await
/// }
///
/// async fn count_users(ex: &impl Executor) -> pgdbm::Result<i64> {
///     ex.fetch_value("SELECT count(*) FROM {{tables.users}}", &[]).await
/// }
///
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// user_by_email(&db, "a@b").await?;
/// let tx = db.transaction().await?;
/// user_by_email(&tx, "a@b").await?;
/// count_users(&tx).await?;
/// tx.commit().await?;
/// # Ok(()) }
/// ```
///
/// The trait is sealed: only pgdbm's three executors implement it. Every
/// future it returns is `Send`.
pub trait Executor: sealed::Sealed + Sync {
    #[doc(hidden)]
    fn __handle(&self) -> Handle<'_>;

    /// The schema templates expand to (`None`: no schema).
    ///
    /// ```no_run
    /// # fn f(ex: &impl pgdbm::Executor) { println!("{:?}", ex.schema()); }
    /// ```
    fn schema(&self) -> Option<&str> {
        use crate::executor::Executor as _;
        match self.__handle().0 {
            Target::Db(db) => db.schema(),
            Target::Conn(conn) => conn.schema(),
            Target::Tx(tx) => tx.templates().schema(),
            Target::Pinned(_, templates, ..) => templates.schema(),
        }
    }

    /// Runs a statement; returns the rows affected.
    ///
    /// ```no_run
    /// # async fn f(ex: &impl pgdbm::Executor) -> pgdbm::Result<()> {
    /// ex.execute("UPDATE {{tables.users}} SET active = $1", &[&true]).await?;
    /// # Ok(()) }
    /// ```
    fn execute(&self, sql: &str, params: Params<'_>) -> impl Future<Output = Result<u64>> + Send {
        let Handle(target) = self.__handle();
        async move { executor::execute(&target, sql, params).await }
    }

    /// Runs a statement and returns its `id` column.
    ///
    /// ```no_run
    /// # async fn f(ex: &impl pgdbm::Executor) -> pgdbm::Result<()> {
    /// let id: i64 = ex.execute_returning_id("INSERT INTO {{tables.users}} (email) VALUES ($1)", &[&"a@b"]).await?;
    /// # Ok(()) }
    /// ```
    fn execute_returning_id<T: FromSqlOwned>(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<T>> + Send {
        let Handle(target) = self.__handle();
        async move { executor::execute_returning_id(&target, sql, params).await }
    }

    /// The first column of the first row.
    ///
    /// ```no_run
    /// # async fn f(ex: &impl pgdbm::Executor) -> pgdbm::Result<()> {
    /// let n: i64 = ex.fetch_value("SELECT count(*) FROM {{tables.users}}", &[]).await?;
    /// # Ok(()) }
    /// ```
    fn fetch_value<T: FromSqlOwned>(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<T>> + Send {
        let Handle(target) = self.__handle();
        async move { executor::fetch_value_at(&target, sql, params, 0usize).await }
    }

    /// One column of the first row, by index or name.
    ///
    /// ```no_run
    /// # async fn f(ex: &impl pgdbm::Executor) -> pgdbm::Result<()> {
    /// let email: String = ex.fetch_value_at("SELECT id, email FROM {{tables.users}}", &[], "email").await?;
    /// # Ok(()) }
    /// ```
    fn fetch_value_at<T: FromSqlOwned>(
        &self,
        sql: &str,
        params: Params<'_>,
        column: impl ColumnIndex,
    ) -> impl Future<Output = Result<T>> + Send {
        let Handle(target) = self.__handle();
        async move { executor::fetch_value_at(&target, sql, params, column).await }
    }

    /// The first row, or `None`.
    ///
    /// ```no_run
    /// # async fn f(ex: &impl pgdbm::Executor) -> pgdbm::Result<()> {
    /// let row = ex.fetch_one("SELECT * FROM {{tables.users}} WHERE id = $1", &[&1i64]).await?;
    /// # Ok(()) }
    /// ```
    fn fetch_one(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Option<Row>>> + Send {
        let Handle(target) = self.__handle();
        async move { executor::fetch_one(&target, sql, params).await }
    }

    /// Every row of the result.
    ///
    /// ```no_run
    /// # async fn f(ex: &impl pgdbm::Executor) -> pgdbm::Result<()> {
    /// let rows = ex.fetch_all("SELECT * FROM {{tables.users}}", &[]).await?;
    /// # Ok(()) }
    /// ```
    fn fetch_all(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Vec<Row>>> + Send {
        let Handle(target) = self.__handle();
        async move { executor::fetch_all(&target, sql, params).await }
    }

    /// The first row of a raw templated query as `R`, or `None`.
    ///
    /// ```no_run
    /// # async fn f(ex: &impl pgdbm::Executor) -> pgdbm::Result<()> {
    /// let pair: Option<(i64, String)> = ex.fetch_as("SELECT id, email FROM {{tables.users}}", &[]).await?;
    /// # Ok(()) }
    /// ```
    fn fetch_as<R: FromRow>(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Option<R>>> + Send {
        let Handle(target) = self.__handle();
        async move { query::fetch_as(target, sql, params).await }
    }

    /// Every row of a raw templated query as `R`.
    ///
    /// ```no_run
    /// # async fn f(ex: &impl pgdbm::Executor) -> pgdbm::Result<()> {
    /// let pairs: Vec<(i64, String)> = ex.fetch_all_as("SELECT id, email FROM {{tables.users}}", &[]).await?;
    /// # Ok(()) }
    /// ```
    fn fetch_all_as<R: FromRow>(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Vec<R>>> + Send {
        let Handle(target) = self.__handle();
        async move { query::fetch_all_as(target, sql, params).await }
    }

    /// Runs one statement for each parameter row: prepared once, all or
    /// nothing.
    ///
    /// ```no_run
    /// # async fn f(ex: &impl pgdbm::Executor) -> pgdbm::Result<()> {
    /// let rows: Vec<[&(dyn pgdbm::ToSql + Sync); 1]> = vec![[&"a@b"], [&"c@d"]];
    /// ex.execute_many("INSERT INTO {{tables.users}} (email) VALUES ($1)", &rows).await?;
    /// # Ok(()) }
    /// ```
    fn execute_many<'p, P>(
        &self,
        sql: &str,
        rows: &'p [P],
    ) -> impl Future<Output = Result<u64>> + Send
    where
        P: AsRef<[&'p (dyn ToSql + Sync)]> + Sync,
    {
        let Handle(target) = self.__handle();
        async move { executor::execute_many_dyn(&target, sql, rows.iter().map(|r| r.as_ref())).await }
    }

    /// Whether a table exists in the executor's schema.
    ///
    /// ```no_run
    /// # async fn f(ex: &impl pgdbm::Executor) -> pgdbm::Result<()> {
    /// assert!(ex.table_exists("users").await?);
    /// # Ok(()) }
    /// ```
    fn table_exists(&self, name: &str) -> impl Future<Output = Result<bool>> + Send {
        let Handle(target) = self.__handle();
        async move { executor::table_exists(&target, name).await }
    }

    /// A typed `SELECT` of `T`'s table.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key)] id: i64, email: String }
    /// # async fn f(ex: &impl pgdbm::Executor) -> pgdbm::Result<()> {
    /// let users: Vec<User> = ex.select::<User>().all().await?;
    /// # Ok(()) }
    /// ```
    fn select<T: Table>(&self) -> Select<'_, T> {
        Select::new(self.__handle().0)
    }

    /// The row of `T` with this primary key, or `None`.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key)] id: i64, email: String }
    /// # async fn f(ex: &impl pgdbm::Executor) -> pgdbm::Result<()> {
    /// let user: Option<User> = ex.find::<User>(&7).await?;
    /// # Ok(()) }
    /// ```
    fn find<T: Table>(&self, key: &T::Key) -> impl Future<Output = Result<Option<T>>> + Send
    where
        T::Key: Sync,
    {
        let Handle(target) = self.__handle();
        async move { query::find::<T>(target, key).await }
    }

    /// A typed `INSERT` of one row.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key)] id: i64, email: String }
    /// # async fn f(ex: &impl pgdbm::Executor) -> pgdbm::Result<()> {
    /// ex.insert(&User { id: 1, email: "a@b".into() }).execute().await?;
    /// # Ok(()) }
    /// ```
    fn insert<'e, T: Table>(&'e self, row: &'e T) -> Insert<'e, T> {
        Insert::new(self.__handle().0, std::slice::from_ref(row))
    }

    /// A typed `INSERT` of many rows.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key)] id: i64, email: String }
    /// # async fn f(ex: &impl pgdbm::Executor, users: Vec<User>) -> pgdbm::Result<()> {
    /// ex.insert_many(&users).execute().await?;
    /// # Ok(()) }
    /// ```
    fn insert_many<'e, T: Table>(&'e self, rows: &'e [T]) -> Insert<'e, T> {
        Insert::new(self.__handle().0, rows)
    }

    /// A typed `UPDATE` of `T`'s table.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key)] id: i64, email: String }
    /// # async fn f(ex: &impl pgdbm::Executor) -> pgdbm::Result<()> {
    /// ex.update::<User>().set(User::EMAIL, "new@b").filter(User::ID.eq(1)).execute().await?;
    /// # Ok(()) }
    /// ```
    fn update<T: Table>(&self) -> Update<'_, T> {
        Update::new(self.__handle().0)
    }

    /// Writes every column of `row` to the row with its primary key.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key)] id: i64, email: String }
    /// # async fn f(ex: &impl pgdbm::Executor, user: User) -> pgdbm::Result<()> {
    /// ex.update_row(&user).await?;
    /// # Ok(()) }
    /// ```
    fn update_row<T: Table>(&self, row: &T) -> impl Future<Output = Result<u64>> + Send {
        let Handle(target) = self.__handle();
        async move { query::update_row(target, row).await }
    }

    /// A typed `DELETE` from `T`'s table.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key)] id: i64, email: String }
    /// # async fn f(ex: &impl pgdbm::Executor) -> pgdbm::Result<()> {
    /// ex.delete::<User>().filter(User::ID.eq(1)).execute().await?;
    /// # Ok(()) }
    /// ```
    fn delete<T: Table>(&self) -> Delete<'_, T> {
        Delete::new(self.__handle().0)
    }

    /// Deletes the row with `row`'s primary key.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key)] id: i64, email: String }
    /// # async fn f(ex: &impl pgdbm::Executor, user: User) -> pgdbm::Result<()> {
    /// ex.delete_row(&user).await?;
    /// # Ok(()) }
    /// ```
    fn delete_row<T: Table>(&self, row: &T) -> impl Future<Output = Result<u64>> + Send {
        let Handle(target) = self.__handle();
        async move { query::delete_row(target, row).await }
    }

    /// Creates `T`'s table in the executor's schema if it does not exist;
    /// see [`create_table_sql`](crate::create_table_sql).
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key)] id: i64, email: String }
    /// # async fn f(ex: &impl pgdbm::Executor) -> pgdbm::Result<()> {
    /// ex.create_table::<User>().await?;
    /// # Ok(()) }
    /// ```
    fn create_table<T: Table>(&self) -> impl Future<Output = Result<()>> + Send {
        let Handle(target) = self.__handle();
        async move { crate::ddl::create_table::<T>(target).await }
    }

    /// Creates enum `E`'s type in the executor's schema unless it exists.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Enum, Debug)] enum Status { Pending, Paid }
    /// # async fn f(ex: &impl pgdbm::Executor) -> pgdbm::Result<()> {
    /// ex.create_enum::<Status>().await?;
    /// # Ok(()) }
    /// ```
    fn create_enum<E: crate::Enum>(&self) -> impl Future<Output = Result<()>> + Send {
        let Handle(target) = self.__handle();
        async move { crate::enums::create_enum::<E>(target).await }
    }

    /// belongs_to in one query: the `C` rows whose primary key is
    /// `key(parent)`, by key; see `Database::load_related`.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] struct Customer { #[pgdbm(primary_key)] id: i64, name: String }
    /// # #[derive(pgdbm::Table, Debug)] struct Invoice { #[pgdbm(primary_key)] id: i64, customer_id: i64 }
    /// # async fn f(ex: &impl pgdbm::Executor, invoices: Vec<Invoice>) -> pgdbm::Result<()> {
    /// let customers = ex.load_related::<Customer, _, _>(&invoices, |i| i.customer_id).await?;
    /// # Ok(()) }
    /// ```
    fn load_related<C, P, K>(
        &self,
        parents: &[P],
        key: impl Fn(&P) -> K,
    ) -> impl Future<Output = Result<std::collections::HashMap<K, C>>> + Send
    where
        C: Table<Key = K>,
        K: crate::RelationKey,
    {
        // Keys are taken now, so the future holds neither the parents nor
        // the closure.
        let keys = query::keys_of(parents, key);
        let Handle(target) = self.__handle();
        async move { query::load_related::<C, K>(target, keys).await }
    }

    /// belongs_to through a `#[pgdbm(belongs_to = C)]` field, in one query;
    /// see `Database::load_belongs_to`.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] struct Customer { #[pgdbm(primary_key)] id: i64, name: String }
    /// # #[derive(pgdbm::Table, Debug)] struct Invoice { #[pgdbm(primary_key)] id: i64, #[pgdbm(belongs_to = Customer)] customer_id: i64 }
    /// # async fn f(ex: &impl pgdbm::Executor, invoices: Vec<Invoice>) -> pgdbm::Result<()> {
    /// let customers = ex.load_belongs_to::<Customer, _>(&invoices).await?;
    /// # Ok(()) }
    /// ```
    fn load_belongs_to<C, P>(
        &self,
        children: &[P],
    ) -> impl Future<Output = Result<std::collections::HashMap<C::Key, C>>> + Send
    where
        C: Table,
        C::Key: crate::RelationKey,
        P: crate::BelongsTo<C>,
    {
        let keys = query::foreign_keys_of::<P, C>(children);
        let Handle(target) = self.__handle();
        async move { query::load_related::<C, C::Key>(target, keys).await }
    }

    /// has_many in one query: the `C` rows whose `column` is
    /// `key(parent)`, grouped by it; see `Database::load_many`.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] struct Customer { #[pgdbm(primary_key)] id: i64, name: String }
    /// # #[derive(pgdbm::Table, Debug)] struct Invoice { #[pgdbm(primary_key)] id: i64, customer_id: i64 }
    /// # async fn f(ex: &impl pgdbm::Executor, customers: Vec<Customer>) -> pgdbm::Result<()> {
    /// let invoices = ex.load_many(&customers, |c| c.id, Invoice::CUSTOMER_ID).await?;
    /// # Ok(()) }
    /// ```
    fn load_many<C, P, K, F>(
        &self,
        parents: &[P],
        key: impl Fn(&P) -> K,
        column: crate::Column<C, K, F>,
    ) -> impl Future<Output = Result<std::collections::HashMap<K, Vec<C>>>> + Send
    where
        C: Table,
        K: crate::RelationKey,
    {
        let keys = query::keys_of(parents, key);
        let Handle(target) = self.__handle();
        async move { query::load_many(target, keys, column).await }
    }

    /// The SQL a template expands to here.
    ///
    /// ```no_run
    /// # fn f(ex: &impl pgdbm::Executor) -> pgdbm::Result<()> {
    /// println!("{}", ex.render("SELECT * FROM {{tables.users}}")?);
    /// # Ok(()) }
    /// ```
    fn render(&self, sql: &str) -> Result<String> {
        use crate::executor::Executor as _;
        Ok(self.__handle().0.templates().render(sql)?.to_string())
    }
}

macro_rules! executor_for {
    ($($ty:ty),*) => {$(
        impl Executor for $ty {
            fn __handle(&self) -> Handle<'_> {
                Handle(Target::from(self))
            }
        }
    )*};
}

executor_for!(crate::Database, crate::Conn, crate::Transaction<'_>);
