//! Rust enums as PostgreSQL enum types (one per schema) or text columns.

use std::any::type_name;

use bytes::BytesMut;
use tokio_postgres::types::{IsNull, Kind, Type};

use crate::error::{Error, Result};
use crate::ident::{literal, qualified};

/// A fieldless Rust enum stored as a PostgreSQL enum type or as text.
/// Implemented by `#[derive(pgdbm::Enum)]`, which also implements
/// tokio-postgres' `ToSql` and `FromSql`, so the enum works as a
/// [`Table`](crate::Table) field, in filters, in COPY and as a raw SQL
/// parameter.
///
/// The type is created in the manager's schema
/// ([`Database::create_enum`](crate::Database::create_enum)), so each tenant
/// has its own `"tenant"."status"`. Values are accepted from and sent to
/// a column of an enum type with this [`TYPE_NAME`](Enum::TYPE_NAME) in any
/// schema, or of type `text`/`varchar`. A label the enum does not know,
/// read from the database, is [`Error::RowMapping`] naming the label.
///
/// ```
/// #[derive(pgdbm::Enum, Debug, Clone, Copy, PartialEq)]
/// #[pgdbm(type_name = "order_status", rename_all = "snake_case")]
/// enum Status {
///     Pending,
///     Paid,
///     #[pgdbm(rename = "refunded!")]
///     Refunded,
/// }
///
/// use pgdbm::Enum;
/// assert_eq!(Status::TYPE_NAME, "order_status");
/// assert_eq!(Status::LABELS, ["pending", "paid", "refunded!"]);
/// assert_eq!(Status::Paid.label(), "paid");
/// assert_eq!(Status::from_label("refunded!"), Some(Status::Refunded));
/// assert_eq!(
///     Status::create_type_sql(Some("shop")).unwrap(),
///     r#"CREATE TYPE "shop"."order_status" AS ENUM ('pending', 'paid', 'refunded!')"#
/// );
/// ```
///
/// Derive attributes: on the enum, `type_name = ".."` (default: the enum's
/// name in snake_case), `rename_all = ".."` (`lowercase`, `UPPERCASE`,
/// `PascalCase`, `camelCase`, `snake_case`, `SCREAMING_SNAKE_CASE`,
/// `kebab-case`, `SCREAMING-KEBAB-CASE`; default: the variant names as
/// written) and `text` (store the label in a text column, no type); on a
/// variant, `rename = ".."`.
pub trait Enum: Sized + Send + Sync + 'static {
    /// The PostgreSQL type's name, exactly as stored (unqualified: the
    /// schema is the manager's).
    const TYPE_NAME: &'static str;
    /// The labels, in variant order (PostgreSQL sorts enum values in this
    /// order).
    const LABELS: &'static [&'static str];
    /// Stored as text (`#[pgdbm(text)]`) rather than as an enum type.
    const TEXT: bool;

    /// This value's label.
    fn label(&self) -> &'static str;

    /// The value with this label, if any.
    fn from_label(label: &str) -> Option<Self>;

    /// The column type in `schema`: `"schema"."type_name"`, or `text`.
    ///
    /// ```
    /// # #[derive(pgdbm::Enum, Debug)] enum Status { Paid }
    /// use pgdbm::Enum;
    /// assert_eq!(Status::sql_type(Some("t1")), r#""t1"."status""#);
    /// ```
    fn sql_type(schema: Option<&str>) -> String {
        if Self::TEXT {
            "text".to_owned()
        } else {
            qualified(schema, Self::TYPE_NAME)
        }
    }

    /// `CREATE TYPE "schema"."name" AS ENUM (..)`, or `None` for a text
    /// enum, which needs no type.
    ///
    /// ```
    /// # #[derive(pgdbm::Enum, Debug)] #[pgdbm(text)] enum Kind { A }
    /// use pgdbm::Enum;
    /// assert_eq!(Kind::create_type_sql(Some("t1")), None);
    /// ```
    fn create_type_sql(schema: Option<&str>) -> Option<String> {
        if Self::TEXT {
            return None;
        }
        let labels: Vec<String> = Self::LABELS.iter().map(|l| literal(l)).collect();
        Some(format!(
            "CREATE TYPE {} AS ENUM ({})",
            qualified(schema, Self::TYPE_NAME),
            labels.join(", ")
        ))
    }
}

/// The dollar-quote tag of the `DO` block that creates a type.
const TAG: &str = "$pgdbm_enum$";

/// Creates `E`'s type in the executor's schema unless a type of that name
/// is already there (an existing type is left as it is, labels included).
pub(crate) async fn create_enum<E: Enum>(target: crate::query::Target<'_>) -> Result<()> {
    use crate::executor::Executor as _;
    let Some(create) = E::create_type_sql(target.templates().schema()) else {
        return Ok(());
    };
    if create.contains(TAG) {
        return Err(Error::config(
            E::TYPE_NAME,
            format!("an enum type name or label may not contain {TAG}"),
        ));
    }
    // PostgreSQL has no CREATE TYPE IF NOT EXISTS; catching the duplicate
    // inside a DO block keeps a surrounding transaction usable and is safe
    // when two services start at once.
    let sql =
        format!("DO {TAG} BEGIN {create}; EXCEPTION WHEN duplicate_object THEN NULL; END {TAG}");
    crate::executor::execute_rendered(&target, &sql, &[]).await?;
    Ok(())
}

/// Whether a value of `E` can go to or come from a column of type `ty`.
#[doc(hidden)]
pub fn accepts<E: Enum>(ty: &Type) -> bool {
    match ty.kind() {
        Kind::Enum(_) => ty.name() == E::TYPE_NAME,
        _ => matches!(*ty, Type::TEXT | Type::VARCHAR | Type::NAME),
    }
}

/// The boxed error tokio-postgres' traits return.
#[doc(hidden)]
pub type BoxError = Box<dyn std::error::Error + Sync + Send>;

/// `ToSql::to_sql` for a derived enum: the label is the wire format of
/// both an enum and a text value.
#[doc(hidden)]
pub fn to_sql<E: Enum>(
    value: &E,
    _: &Type,
    out: &mut BytesMut,
) -> std::result::Result<IsNull, BoxError> {
    out.extend_from_slice(value.label().as_bytes());
    Ok(IsNull::No)
}

/// `ToSql::to_sql_checked` for a derived enum.
#[doc(hidden)]
pub fn to_sql_checked<E: Enum>(
    value: &E,
    ty: &Type,
    out: &mut BytesMut,
) -> std::result::Result<IsNull, BoxError> {
    if !accepts::<E>(ty) {
        return Err(format!(
            "{} is sent as the enum type `{}` or as text, not as {ty}",
            type_name::<E>(),
            E::TYPE_NAME
        )
        .into());
    }
    to_sql(value, ty, out)
}

/// `FromSql::from_sql` for a derived enum; an unknown label is an error
/// naming it.
#[doc(hidden)]
pub fn from_sql<E: Enum>(ty: &Type, raw: &[u8]) -> std::result::Result<E, BoxError> {
    let label = std::str::from_utf8(raw)?;
    E::from_label(label).ok_or_else(|| {
        format!(
            "unknown label {} for {} (from {ty}); it knows {}",
            literal(label),
            type_name::<E>(),
            E::LABELS
                .iter()
                .map(|l| literal(l))
                .collect::<Vec<_>>()
                .join(", ")
        )
        .into()
    })
}

/// Picks, in generated code, the DDL type of a `Table` field by whether its
/// type is an [`Enum`] ("autoref specialisation"):
/// `(&&EnumProbe::<T>::NEW).__pgdbm_sql_type(schema)` resolves to
/// [`ViaEnum`] when `T: Enum` and to [`ViaOther`] (`None`) otherwise.
#[doc(hidden)]
pub struct EnumProbe<T: ?Sized>(std::marker::PhantomData<fn() -> *const T>);

impl<T: ?Sized> EnumProbe<T> {
    /// The probe.
    pub const NEW: Self = EnumProbe(std::marker::PhantomData);
}

/// See [`EnumProbe`].
#[doc(hidden)]
pub trait ViaEnum {
    fn __pgdbm_sql_type(&self, schema: Option<&str>) -> Option<String>;
}

impl<T: Enum> ViaEnum for &EnumProbe<T> {
    fn __pgdbm_sql_type(&self, schema: Option<&str>) -> Option<String> {
        Some(T::sql_type(schema))
    }
}

/// See [`EnumProbe`].
#[doc(hidden)]
pub trait ViaOther {
    fn __pgdbm_sql_type(&self, schema: Option<&str>) -> Option<String> {
        let _ = schema;
        None
    }
}

impl<T: ?Sized> ViaOther for EnumProbe<T> {}
