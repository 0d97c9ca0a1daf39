//! Conditions built from typed columns. A condition is a value-free tree (its
//! shape, used as a cache key) plus the values it binds, in tree order.

use tokio_postgres::types::ToSql;

use crate::table::{Column, Table};

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
    /// `col [NOT] IN ($n, ..)` with this many values
    In(ColRef, usize, bool),
    /// `col BETWEEN $n AND $m`
    Between(ColRef),
    /// `col [NOT] IN (SELECT sub_col FROM sub_table [WHERE filter])`
    InSelect(ColRef, ColRef, Option<Box<Node>>, bool),
    /// `count(*) op $n`, for HAVING
    CountCmp(CmpOp),
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
#[derive(Debug, Clone, Copy)]
pub struct CountAll(());

impl CountAll {
    fn cmp(self, op: CmpOp, value: i64) -> Expr {
        Expr::new(Node::CountCmp(op), vec![Box::new(value)])
    }
    /// `count(*) = n`
    pub fn eq(self, n: i64) -> Expr {
        self.cmp(CmpOp::Eq, n)
    }
    /// `count(*) > n`
    pub fn gt(self, n: i64) -> Expr {
        self.cmp(CmpOp::Gt, n)
    }
    /// `count(*) >= n`
    pub fn ge(self, n: i64) -> Expr {
        self.cmp(CmpOp::Ge, n)
    }
    /// `count(*) < n`
    pub fn lt(self, n: i64) -> Expr {
        self.cmp(CmpOp::Lt, n)
    }
    /// `count(*) <= n`
    pub fn le(self, n: i64) -> Expr {
        self.cmp(CmpOp::Le, n)
    }
}

/// One ORDER BY term, from [`Column::asc`] or [`Column::desc`].
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
    pub fn is_null(self) -> Expr {
        Expr::new(Node::IsNull(self.col_ref(), false), Vec::new())
    }

    /// `column IS NOT NULL`
    pub fn is_not_null(self) -> Expr {
        Expr::new(Node::IsNull(self.col_ref(), true), Vec::new())
    }

    /// Ascending order.
    pub fn asc(self) -> OrderBy {
        OrderBy {
            column: self.col_ref(),
            descending: false,
        }
    }

    /// Descending order.
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
                pub fn $name(self, value: impl Into<V>) -> Expr {
                    Expr::new(Node::Cmp(self.col_ref(), CmpOp::$op), vec![Box::new(value.into())])
                }
            )*

            /// `column IN (..)`; an empty list matches nothing.
            pub fn is_in<I>(self, values: I) -> Expr
            where
                I: IntoIterator,
                I::Item: Into<V>,
            {
                self.in_list(values, false)
            }

            /// `column NOT IN (..)`; an empty list matches everything.
            pub fn not_in<I>(self, values: I) -> Expr
            where
                I: IntoIterator,
                I::Item: Into<V>,
            {
                self.in_list(values, true)
            }

            fn in_list<I>(self, values: I, negated: bool) -> Expr
            where
                I: IntoIterator,
                I::Item: Into<V>,
            {
                let values: Vec<BoxValue> = values
                    .into_iter()
                    .map(|v| Box::new(v.into()) as BoxValue)
                    .collect();
                Expr::new(Node::In(self.col_ref(), values.len(), negated), values)
            }

            /// `column BETWEEN low AND high`
            pub fn between(self, low: impl Into<V>, high: impl Into<V>) -> Expr {
                Expr::new(
                    Node::Between(self.col_ref()),
                    vec![Box::new(low.into()), Box::new(high.into())],
                )
            }
        }
    };
}

comparisons! {
    /// `column = value`
    eq => Eq,
    /// `column <> value`
    ne => Ne,
    /// `column < value`
    lt => Lt,
    /// `column <= value`
    le => Le,
    /// `column > value`
    gt => Gt,
    /// `column >= value`
    ge => Ge,
}

impl<T: Table, F> Column<T, String, F> {
    /// `column LIKE pattern`
    pub fn like(self, pattern: impl Into<String>) -> Expr {
        Expr::new(
            Node::Cmp(self.col_ref(), CmpOp::Like),
            vec![Box::new(pattern.into())],
        )
    }

    /// `column ILIKE pattern` (case-insensitive)
    pub fn ilike(self, pattern: impl Into<String>) -> Expr {
        Expr::new(
            Node::Cmp(self.col_ref(), CmpOp::ILike),
            vec![Box::new(pattern.into())],
        )
    }
}
