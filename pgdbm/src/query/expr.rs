//! Conditions built from typed columns. A condition is a value-free tree (its
//! shape, used as a cache key) plus the values it binds, in tree order.

use tokio_postgres::types::ToSql;

use crate::table::{Column, Table};

/// `V: ColumnValue<X>`: a column holding `V` can be compared with a value of
/// type `X`, converted with [`From`] (so `User::EMAIL.eq("a@b")` takes a
/// `&str` for a `String` column). Implemented for every such pair. Its own
/// trait rather than `impl Into<V>`, so that a value of the wrong type is an
/// error naming the column's type, not a list of unrelated `From` impls.
///
/// ```compile_fail
/// # #[derive(pgdbm::Table)] struct Item { #[pgdbm(primary_key)] id: i64, qty: i32 }
/// // error: this column holds `i32`, and `i64` does not convert into it
/// let _ = Item::QTY.eq(5i64);
/// ```
///
/// ```
/// # #[derive(pgdbm::Table)] struct Item { #[pgdbm(primary_key)] id: i64, qty: i32, note: Option<String> }
/// let _ = Item::QTY.eq(5); // an `i32` literal
/// let _ = Item::QTY.eq(i32::try_from(5i64).unwrap()); // converted explicitly
/// let _ = Item::NOTE.is_null(); // not `.eq(None)`: `= NULL` matches no row
/// ```
#[diagnostic::on_unimplemented(
    message = "this column holds `{Self}`, and `{X}` does not convert into it",
    label = "expected `{Self}`, or a type that converts into `{Self}` with `From`",
    note = "convert the value to the column's type first (a number with `try_from`), or change the field's type",
    note = "for SQL NULL (`None`), use `.is_null()` or `.is_not_null()`: `= NULL` matches no row"
)]
pub trait ColumnValue<X> {
    /// The value, as the column's type.
    fn from_value(value: X) -> Self;
}

impl<V: From<X>, X> ColumnValue<X> for V {
    fn from_value(value: X) -> Self {
        V::from(value)
    }
}

/// A value bound to a placeholder, kept with its exact Rust type so that
/// tokio-postgres checks it against the server's type.
pub(crate) type BoxValue = Box<dyn ToSql + Sync + Send>;

/// A column of a table, by name.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ColRef {
    pub(crate) table: &'static str,
    pub(crate) column: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
}

/// The shape of a condition; values are counted, not held.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Node {
    /// `col op $n`
    Cmp(ColRef, CmpOp),
    /// `col op other_col`
    CmpCol(ColRef, CmpOp, ColRef),
    /// `col IS [NOT] NULL`
    IsNull(ColRef, bool),
    /// `col = ANY($n)` (`col <> ALL($n)` negated): the list bound as one
    /// array, so every length is one statement shape and one prepare.
    In(ColRef, bool),
    /// `col BETWEEN $n AND $m`
    Between(ColRef),
    /// `col [NOT] IN (SELECT sub_col FROM sub_table [WHERE filter])`
    InSelect(ColRef, ColRef, Option<Box<Node>>, bool),
    /// `count(*) op $n`, for HAVING
    CountCmp(CmpOp),
    /// `col = ANY($n)`, one array value (relation loading)
    AnyOf(ColRef),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
}

/// A condition for `filter`, `having` or a join, built from typed columns.
///
/// ```
/// # use pgdbm::Table;
/// # #[derive(Table)] struct User { #[pgdbm(primary_key)] id: i64, email: String, age: Option<i32> }
/// let cond = User::EMAIL.like("%@example.com")
///     .and(User::AGE.between(18, 65).or(User::AGE.is_null()))
///     .and(User::ID.is_in([1, 2, 3]).not());
/// ```
pub struct Expr {
    pub(crate) node: Node,
    pub(crate) values: Vec<BoxValue>,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expr")
            .field("node", &self.node)
            .field("values", &self.values.len())
            .finish()
    }
}

impl Expr {
    fn new(node: Node, values: Vec<BoxValue>) -> Self {
        Expr { node, values }
    }

    /// Both conditions hold.
    ///
    /// ```
    /// # use pgdbm::Table;
    /// # #[derive(Table)] struct User { #[pgdbm(primary_key)] id: i64, email: String }
    /// let c = User::ID.gt(10).and(User::EMAIL.ne("x"));
    /// ```
    pub fn and(mut self, other: Expr) -> Expr {
        self.values.extend(other.values);
        Expr::new(
            Node::And(Box::new(self.node), Box::new(other.node)),
            self.values,
        )
    }

    /// Either condition holds.
    ///
    /// ```
    /// # use pgdbm::Table;
    /// # #[derive(Table)] struct User { #[pgdbm(primary_key)] id: i64, email: String }
    /// let c = User::ID.eq(1).or(User::ID.eq(2));
    /// ```
    pub fn or(mut self, other: Expr) -> Expr {
        self.values.extend(other.values);
        Expr::new(
            Node::Or(Box::new(self.node), Box::new(other.node)),
            self.values,
        )
    }

    /// The condition does not hold.
    ///
    /// ```
    /// # use pgdbm::Table;
    /// # #[derive(Table)] struct User { #[pgdbm(primary_key)] id: i64 }
    /// let c = User::ID.eq(1).not();
    /// ```
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Expr {
        Expr::new(Node::Not(Box::new(self.node)), self.values)
    }
}

/// ANDs `condition` onto a clause (WHERE or HAVING) and its values, for
/// `filter` and `having` called several times.
pub(crate) fn add_condition<'e>(
    clause: &mut Option<Node>,
    values: &mut Vec<crate::table::Param<'e>>,
    condition: Expr,
) {
    *clause = Some(match clause.take() {
        Some(prev) => Node::And(Box::new(prev), Box::new(condition.node)),
        None => condition.node,
    });
    values.extend(condition.values.into_iter().map(crate::table::Param::Owned));
}

/// `count(*)`, for `having`.
///
/// ```
/// let busy = pgdbm::count_all().gt(10);
/// ```
pub fn count_all() -> CountAll {
    CountAll(())
}

/// `count(*)` in a HAVING condition; see [`count_all`].
///
/// ```no_run
/// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "posts")] struct Post { #[pgdbm(primary_key, generated)] id: i64, user_id: i64, title: String }
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// // Authors of at least three posts.
/// let prolific: Vec<(i64,)> = db.select::<Post>()
///     .columns(Post::USER_ID)
///     .group_by(Post::USER_ID)
///     .having(pgdbm::count_all().ge(3))
///     .all()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CountAll(());

impl CountAll {
    fn cmp(self, op: CmpOp, value: i64) -> Expr {
        Expr::new(Node::CountCmp(op), vec![Box::new(value)])
    }
    /// `count(*) = n`
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "posts")] struct Post { #[pgdbm(primary_key, generated)] id: i64, user_id: i64, title: String }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// // Authors of exactly one post.
    /// let authors: Vec<(i64,)> = db.select::<Post>()
    ///     .columns(Post::USER_ID)
    ///     .group_by(Post::USER_ID)
    ///     .having(pgdbm::count_all().eq(1))
    ///     .all()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn eq(self, n: i64) -> Expr {
        self.cmp(CmpOp::Eq, n)
    }
    /// `count(*) > n`
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "posts")] struct Post { #[pgdbm(primary_key, generated)] id: i64, user_id: i64, title: String }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// // Authors of more than ten posts.
    /// let authors: Vec<(i64,)> = db.select::<Post>()
    ///     .columns(Post::USER_ID)
    ///     .group_by(Post::USER_ID)
    ///     .having(pgdbm::count_all().gt(10))
    ///     .all()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn gt(self, n: i64) -> Expr {
        self.cmp(CmpOp::Gt, n)
    }
    /// `count(*) >= n`
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "posts")] struct Post { #[pgdbm(primary_key, generated)] id: i64, user_id: i64, title: String }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// // Authors of at least three posts.
    /// let authors: Vec<(i64,)> = db.select::<Post>()
    ///     .columns(Post::USER_ID)
    ///     .group_by(Post::USER_ID)
    ///     .having(pgdbm::count_all().ge(3))
    ///     .all()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn ge(self, n: i64) -> Expr {
        self.cmp(CmpOp::Ge, n)
    }
    /// `count(*) < n`
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "posts")] struct Post { #[pgdbm(primary_key, generated)] id: i64, user_id: i64, title: String }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// // Authors of fewer than five posts.
    /// let authors: Vec<(i64,)> = db.select::<Post>()
    ///     .columns(Post::USER_ID)
    ///     .group_by(Post::USER_ID)
    ///     .having(pgdbm::count_all().lt(5))
    ///     .all()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn lt(self, n: i64) -> Expr {
        self.cmp(CmpOp::Lt, n)
    }
    /// `count(*) <= n`
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "posts")] struct Post { #[pgdbm(primary_key, generated)] id: i64, user_id: i64, title: String }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// // Authors of at most two posts.
    /// let authors: Vec<(i64,)> = db.select::<Post>()
    ///     .columns(Post::USER_ID)
    ///     .group_by(Post::USER_ID)
    ///     .having(pgdbm::count_all().le(2))
    ///     .all()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn le(self, n: i64) -> Expr {
        self.cmp(CmpOp::Le, n)
    }
}

/// One ORDER BY term, from [`Column::asc`] or [`Column::desc`].
///
/// ```no_run
/// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, age: Option<i32>, active: bool }
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// let oldest_first: Vec<User> = db.select::<User>()
///     .order_by(User::AGE.desc())
///     .order_by(User::ID.asc())
///     .all()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrderBy {
    pub(crate) column: ColRef,
    pub(crate) descending: bool,
}

impl<T: Table, V, F> Column<T, V, F> {
    pub(crate) fn col_ref(&self) -> ColRef {
        ColRef {
            table: T::TABLE,
            column: self.name(),
        }
    }

    /// `column IS NULL`
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, age: Option<i32>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let unnamed = db.select::<User>().filter(User::NAME.is_null()).count().await?;
    /// # Ok(()) }
    /// ```
    pub fn is_null(self) -> Expr {
        Expr::new(Node::IsNull(self.col_ref(), false), Vec::new())
    }

    /// `column IS NOT NULL`
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, age: Option<i32>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let named: Vec<User> = db.select::<User>().filter(User::NAME.is_not_null()).all().await?;
    /// # Ok(()) }
    /// ```
    pub fn is_not_null(self) -> Expr {
        Expr::new(Node::IsNull(self.col_ref(), true), Vec::new())
    }

    /// Ascending order.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, age: Option<i32>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let oldest_account: Option<User> = db.select::<User>().order_by(User::ID.asc()).limit(1).optional().await?;
    /// # Ok(()) }
    /// ```
    pub fn asc(self) -> OrderBy {
        OrderBy {
            column: self.col_ref(),
            descending: false,
        }
    }

    /// Descending order.
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, age: Option<i32>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let latest: Vec<User> = db.select::<User>().order_by(User::ID.desc()).limit(10).all().await?;
    /// # Ok(()) }
    /// ```
    pub fn desc(self) -> OrderBy {
        OrderBy {
            column: self.col_ref(),
            descending: true,
        }
    }

    /// `column IN (SELECT other FROM other's table WHERE filter)`: a
    /// subquery, its table qualified with the same schema as the outer
    /// statement. `filter` may be `None` for every row.
    ///
    /// ```
    /// # use pgdbm::Table;
    /// # #[derive(Table)] struct User { #[pgdbm(primary_key)] id: i64 }
    /// # #[derive(Table)] struct Post { #[pgdbm(primary_key)] id: i64, user_id: i64, title: String }
    /// let posted_about_rust = User::ID.in_subquery(Post::USER_ID, Some(Post::TITLE.like("%rust%")));
    /// ```
    pub fn in_subquery<U: Table, G>(self, selected: Column<U, V, G>, filter: Option<Expr>) -> Expr {
        self.subquery(selected, filter, false)
    }

    /// `column NOT IN (SELECT ..)`; see [`in_subquery`](Self::in_subquery).
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, age: Option<i32>, active: bool }
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "posts")] struct Post { #[pgdbm(primary_key, generated)] id: i64, user_id: i64, title: String }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// // Users who never posted.
    /// let silent: Vec<User> = db.select::<User>()
    ///     .filter(User::ID.not_in_subquery(Post::USER_ID, None))
    ///     .all()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn not_in_subquery<U: Table, G>(
        self,
        selected: Column<U, V, G>,
        filter: Option<Expr>,
    ) -> Expr {
        self.subquery(selected, filter, true)
    }

    fn subquery<U: Table, G>(
        self,
        selected: Column<U, V, G>,
        filter: Option<Expr>,
        negated: bool,
    ) -> Expr {
        let (node, values) = match filter {
            Some(f) => (Some(Box::new(f.node)), f.values),
            None => (None, Vec::new()),
        };
        Expr::new(
            Node::InSelect(self.col_ref(), selected.col_ref(), node, negated),
            values,
        )
    }

    /// `column = other_column`, for joins (both hold the same Rust type).
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, age: Option<i32>, active: bool }
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "posts")] struct Post { #[pgdbm(primary_key, generated)] id: i64, user_id: i64, title: String }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let by_active_users: Vec<Post> = db.select::<Post>()
    ///     .join::<User>(Post::USER_ID.eq_col(User::ID))
    ///     .filter(User::ACTIVE.eq(true))
    ///     .all()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn eq_col<U: Table, G>(self, other: Column<U, V, G>) -> Expr {
        Expr::new(
            Node::CmpCol(self.col_ref(), CmpOp::Eq, other.col_ref()),
            Vec::new(),
        )
    }
}

macro_rules! comparisons {
    ($($(#[$doc:meta])* $name:ident => $op:ident),* $(,)?) => {
        impl<T: Table, V: ToSql + Sync + Send + 'static, F> Column<T, V, F> {
            $(
                $(#[$doc])*
                pub fn $name<X>(self, value: X) -> Expr
                where
                    V: ColumnValue<X>,
                {
                    let value: BoxValue = Box::new(V::from_value(value));
                    Expr::new(Node::Cmp(self.col_ref(), CmpOp::$op), vec![value])
                }
            )*

            /// `column IN (..)`; an empty list matches nothing.
            ///
            /// ```no_run
            /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, age: Option<i32>, active: bool }
            /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
            /// let some: Vec<User> = db.select::<User>().filter(User::ID.is_in([1, 2, 3])).all().await?;
            /// # Ok(()) }
            /// ```
            pub fn is_in<I>(self, values: I) -> Expr
            where
                I: IntoIterator,
                V: ColumnValue<I::Item>,
            {
                self.in_list(values, false)
            }

            /// `column NOT IN (..)`; an empty list matches everything.
            ///
            /// ```no_run
            /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, age: Option<i32>, active: bool }
            /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
            /// // Deactivate everyone but the admins.
            /// let admins = ["root@x.io", "ops@x.io"];
            /// let n = db.update::<User>().set(User::ACTIVE, false).filter(User::EMAIL.not_in(admins)).await?;
            /// # Ok(()) }
            /// ```
            pub fn not_in<I>(self, values: I) -> Expr
            where
                I: IntoIterator,
                V: ColumnValue<I::Item>,
            {
                self.in_list(values, true)
            }

            fn in_list<I>(self, values: I, negated: bool) -> Expr
            where
                I: IntoIterator,
                V: ColumnValue<I::Item>,
            {
                let values: Vec<V> = values.into_iter().map(V::from_value).collect();
                Expr::new(Node::In(self.col_ref(), negated), vec![Box::new(values)])
            }

            /// `column BETWEEN low AND high`
            ///
            /// ```no_run
            /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, age: Option<i32>, active: bool }
            /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
            /// let adults = db.select::<User>().filter(User::AGE.between(18, 65)).count().await?;
            /// # Ok(()) }
            /// ```
            pub fn between<X, Y>(self, low: X, high: Y) -> Expr
            where
                V: ColumnValue<X> + ColumnValue<Y>,
            {
                Expr::new(
                    Node::Between(self.col_ref()),
                    vec![Box::new(V::from_value(low)), Box::new(V::from_value(high))],
                )
            }
        }
    };
}

comparisons! {
    /// `column = value`
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, age: Option<i32>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let alice: Option<User> = db.select::<User>().filter(User::EMAIL.eq("alice@x.io")).optional().await?;
    /// # Ok(()) }
    /// ```
    eq => Eq,
    /// `column <> value`
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, age: Option<i32>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let others: Vec<User> = db.select::<User>().filter(User::EMAIL.ne("admin@x.io")).all().await?;
    /// # Ok(()) }
    /// ```
    ne => Ne,
    /// `column < value`
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, age: Option<i32>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let minors = db.select::<User>().filter(User::AGE.lt(18)).count().await?;
    /// # Ok(()) }
    /// ```
    lt => Lt,
    /// `column <= value`
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, age: Option<i32>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let n = db.delete::<User>().filter(User::ID.le(1_000)).await?;
    /// # Ok(()) }
    /// ```
    le => Le,
    /// `column > value`
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, age: Option<i32>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let page: Vec<User> = db.select::<User>().filter(User::ID.gt(500)).order_by(User::ID.asc()).limit(50).all().await?;
    /// # Ok(()) }
    /// ```
    gt => Gt,
    /// `column >= value`
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, age: Option<i32>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let n = db.update::<User>().set(User::ACTIVE, true).filter(User::AGE.ge(18)).await?;
    /// # Ok(()) }
    /// ```
    ge => Ge,
}

impl<T: Table, F> Column<T, String, F> {
    /// `column LIKE pattern`
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, age: Option<i32>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let staff: Vec<User> = db.select::<User>().filter(User::EMAIL.like("%@example.com")).all().await?;
    /// # Ok(()) }
    /// ```
    pub fn like(self, pattern: impl Into<String>) -> Expr {
        Expr::new(
            Node::Cmp(self.col_ref(), CmpOp::Like),
            vec![Box::new(pattern.into())],
        )
    }

    /// `column ILIKE pattern` (case-insensitive)
    ///
    /// ```no_run
    /// # #[derive(pgdbm::Table, Debug)] #[pgdbm(table = "users")] struct User { #[pgdbm(primary_key, generated)] id: i64, email: String, name: Option<String>, age: Option<i32>, active: bool }
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let anns: Vec<User> = db.select::<User>().filter(User::NAME.ilike("ann%")).all().await?;
    /// # Ok(()) }
    /// ```
    pub fn ilike(self, pattern: impl Into<String>) -> Expr {
        Expr::new(
            Node::Cmp(self.col_ref(), CmpOp::ILike),
            vec![Box::new(pattern.into())],
        )
    }
}
