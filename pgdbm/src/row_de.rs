//! Rows read through serde: a [`serde::Deserializer`] over one query row,
//! [`Row::deserialize`], and the [`Serde`] wrapper that makes any
//! `serde::Deserialize` type a [`FromRow`](crate::FromRow).
//!
//! The type mapping is documented on [`Serde`].

use std::any::type_name;
use std::fmt::{self, Write as _};
use std::ops::{Deref, DerefMut};

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, Visitor,
};
use tokio_postgres::types::{FromSql, Kind, Type};

use crate::error::{Error, Result};
use crate::row::Row;
use crate::table::{FromRow, RowSource};

impl Row {
    /// Deserializes the row into any [`serde::Deserialize`] type: a struct
    /// (fields matched to columns by name, `Option` fields `None` for NULL
    /// or a missing column), a map such as `HashMap<String, serde_json::Value>`,
    /// a `serde_json::Value`, or a tuple read by position.
    ///
    /// A column that cannot be read into its field is an
    /// [`Error::RowMapping`] naming the column and its SQL type. How each
    /// SQL type is read is listed on [`Serde`], the wrapper that decodes
    /// whole results with [`fetch_all_as`](crate::Database::fetch_all_as).
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// #[derive(serde::Deserialize)]
    /// struct Profile {
    ///     id: i64,
    ///     nickname: Option<String>,
    ///     settings: serde_json::Value,
    /// }
    /// let row = db
    ///     .fetch_one("SELECT 7::int8 AS id, NULL::text AS nickname, '{\"dark\": true}'::jsonb AS settings", &[])
    ///     .await?
    ///     .expect("one row");
    /// let profile: Profile = row.deserialize()?;
    /// assert_eq!(profile.nickname, None);
    /// let map: std::collections::HashMap<String, serde_json::Value> = row.deserialize()?;
    /// assert_eq!(map["id"], 7);
    /// # Ok(()) }
    /// ```
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T> {
        deserialize_row(self.as_driver_row())
    }
}

/// Decodes `row` into `T` through serde.
pub(crate) fn deserialize_row<T: DeserializeOwned>(row: &tokio_postgres::Row) -> Result<T> {
    T::deserialize(RowDeserializer { row }).map_err(DeError::into_error::<T>)
}

/// A [`FromRow`](crate::FromRow) for any [`serde::Deserialize`] type: rows
/// are decoded as [`Row::deserialize`] does.
///
/// ```no_run
/// use pgdbm::Serde;
///
/// #[derive(serde::Deserialize, Debug)]
/// struct Order {
///     id: i64,
///     note: Option<String>,
///     items: Vec<String>,
///     shipping: Address, // a jsonb column
/// }
/// #[derive(serde::Deserialize, Debug)]
/// struct Address {
///     city: String,
/// }
///
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// let orders: Vec<Serde<Order>> = db
///     .fetch_all_as("SELECT id, note, items, shipping FROM {{tables.orders}}", &[])
///     .await?;
/// for order in &orders {
///     println!("{} to {}", order.id, order.shipping.city); // through Deref
/// }
/// let orders: Vec<Order> = orders.into_iter().map(Serde::into_inner).collect();
/// # Ok(()) }
/// ```
///
/// It decodes query rows only: COPY rows carry no column names, so
/// `copy_out_query::<Serde<T>>` fails with [`Error::RowMapping`].
///
/// # Type mapping
///
/// A row is presented as a map from column name to value (or, to a tuple or
/// a `Vec`, as the sequence of its values). Each value is read by its
/// column's SQL type, from the binary format tokio-postgres receives:
///
/// | SQL type | serde |
/// |---|---|
/// | `NULL` of any type | `none` (an `Option` field is `None`) |
/// | `bool` | `bool` |
/// | `"char"`, `int2`, `int4`, `int8`, `oid` | `i8`, `i16`, `i32`, `i64`, `u32` |
/// | `float4`, `float8` | `f32`, `f64` |
/// | `text`, `varchar`, `bpchar`, `name`, `citext`, enums | string |
/// | `bytea` | bytes (a sequence of `u8` for a `Vec<u8>`) |
/// | `json`, `jsonb` | the document itself, so nested structs and enums work |
/// | `numeric` | its exact decimal text; a number when the field is a float or an integer |
/// | `uuid` | its hyphenated lower-case text |
/// | `date`, `time`, `timetz`, `timestamp`, `timestamptz` | ISO 8601 text (`2024-05-06`, `07:08:09.500`, `2024-05-06T07:08:09`, RFC 3339 in UTC: `2024-05-06T07:08:09Z`), `infinity`/`-infinity` as PostgreSQL writes them |
/// | arrays of the above | sequences (nested for several dimensions) |
/// | `void` | unit |
///
/// These never need the crate's `chrono`/`time`/`uuid`/`decimal` features.
/// Other types (`interval`, `inet`, ranges, composites...) are an
/// [`Error::RowMapping`] naming the column; cast them in SQL (`::text`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Serde<T>(pub T);

impl<T> Serde<T> {
    /// The decoded value.
    ///
    /// ```
    /// assert_eq!(pgdbm::Serde(5).into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Serde<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Serde<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> From<T> for Serde<T> {
    fn from(value: T) -> Self {
        Serde(value)
    }
}

impl<T: DeserializeOwned + Send> FromRow for Serde<T> {
    const NAMES: Option<&'static [&'static str]> = None;

    fn check(_: &[tokio_postgres::Column], _: &[usize]) -> Result<()> {
        Ok(())
    }

    fn decode<R: RowSource>(row: &R, _: &[usize]) -> Result<Self> {
        match row.as_query_row() {
            Some(row) => deserialize_row(row).map(Serde),
            None => Err(Error::row_mapping(
                "(row)",
                type_name::<T>(),
                "a COPY row: serde decoding needs a query row (column names and types)",
            )),
        }
    }
}

// ---------------------------------------------------------------------------
// Errors

/// The error type of the deserializers; becomes an [`Error::RowMapping`].
#[derive(Debug)]
pub(crate) struct DeError {
    message: String,
    kind: DeErrorKind,
    /// The column and what was found there, once known.
    located: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeErrorKind {
    Other,
    /// A NULL reached a field that is not an `Option`.
    Null,
    /// The SQL type has no serde mapping.
    Unsupported,
    /// A struct field with no column of its name.
    MissingField(&'static str),
}

impl DeError {
    fn unsupported() -> Self {
        DeError {
            message: "unsupported SQL type".to_owned(),
            kind: DeErrorKind::Unsupported,
            located: None,
        }
    }

    fn decode(e: impl fmt::Display) -> Self {
        de::Error::custom(format_args!("could not decode the value: {e}"))
    }

    fn json(e: serde_json::Error) -> Self {
        de::Error::custom(e)
    }

    fn located(column: impl Into<String>, found: impl Into<String>) -> Self {
        let (column, found) = (column.into(), found.into());
        DeError {
            message: format!("column {column:?}: {found}"),
            kind: DeErrorKind::Other,
            located: Some((column, found)),
        }
    }

    /// Ties an error raised while reading a column's value to that column.
    fn locate(mut self, column: &str, ty: &Type) -> Self {
        if self.located.is_none() {
            let found = match self.kind {
                DeErrorKind::Null => "NULL (use Option<T> for nullable columns)".to_owned(),
                DeErrorKind::Unsupported => format!(
                    "SQL type {ty}, which serde row decoding does not read (cast it in SQL, e.g. `::text`)"
                ),
                DeErrorKind::Other | DeErrorKind::MissingField(_) => {
                    format!("SQL type {ty}: {}", self.message)
                }
            };
            self.located = Some((column.to_owned(), found));
        }
        self
    }

    fn into_error<T>(self) -> Error {
        let expected = type_name::<T>();
        match (self.located, self.kind) {
            (Some((column, found)), _) => Error::row_mapping(column, expected, found),
            (None, DeErrorKind::MissingField(field)) => {
                Error::row_mapping(field, expected, "no such column in the result")
            }
            (None, _) => Error::row_mapping("(row)", expected, self.message),
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<M: fmt::Display>(message: M) -> Self {
        DeError {
            message: message.to_string(),
            kind: DeErrorKind::Other,
            located: None,
        }
    }

    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        let mut e = Self::custom(format_args!(
            "invalid type: {unexpected}, expected {expected}"
        ));
        if unexpected == Unexpected::Option {
            e.kind = DeErrorKind::Null;
        }
        e
    }

    fn missing_field(field: &'static str) -> Self {
        let mut e = Self::custom(format_args!("missing field `{field}`"));
        e.kind = DeErrorKind::MissingField(field);
        e
    }
}

// ---------------------------------------------------------------------------
// The row

/// A row as a map from column name to value, or as a sequence of values.
struct RowDeserializer<'r> {
    row: &'r tokio_postgres::Row,
}

impl<'de> Deserializer<'de> for RowDeserializer<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(RowMap {
            row: self.row,
            next: 0,
        })
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let mut seq = RowSeq {
            row: self.row,
            next: 0,
        };
        let value = visitor.visit_seq(&mut seq)?;
        if seq.next < self.row.len() {
            return Err(DeError::located(
                format!("#{}", seq.next),
                format!(
                    "{} columns in the result, more than the {} read",
                    self.row.len(),
                    seq.next
                ),
            ));
        }
        Ok(value)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct map struct enum identifier
    }
}

struct RowMap<'r> {
    row: &'r tokio_postgres::Row,
    next: usize,
}

impl<'de> MapAccess<'de> for RowMap<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.row.columns().get(self.next) {
            // A key refused by the visitor (`deny_unknown_fields`) names its column.
            Some(column) => seed
                .deserialize(de::value::StrDeserializer::<DeError>::new(column.name()))
                .map(Some)
                .map_err(|e| match e.located {
                    Some(_) => e,
                    None => DeError::located(column.name(), e.message),
                }),
            None => Ok(None),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, DeError> {
        let index = self.next;
        self.next += 1;
        read_column_seed(self.row, index, seed)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.row.len() - self.next)
    }
}

struct RowSeq<'r> {
    row: &'r tokio_postgres::Row,
    next: usize,
}

impl<'de> SeqAccess<'de> for RowSeq<'_> {
    type Error = DeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, DeError> {
        if self.next >= self.row.len() {
            return Ok(None);
        }
        let index = self.next;
        self.next += 1;
        read_column_seed(self.row, index, seed).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.row.len() - self.next)
    }
}

fn read_column_seed<'de, S: DeserializeSeed<'de>>(
    row: &tokio_postgres::Row,
    index: usize,
    seed: S,
) -> Result<S::Value, DeError> {
    let column = &row.columns()[index];
    seed.deserialize(ValueDeserializer {
        source: Source::Column(row, index),
    })
    .map_err(|e| e.locate(column.name(), column.type_()))
}

// ---------------------------------------------------------------------------
// Values

/// A column value, decoded by its SQL type.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Unit,
    Bool(bool),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    U32(u32),
    F32(f32),
    F64(f64),
    String(String),
    /// A `numeric`, as its exact decimal text.
    Numeric(String),
    Bytes(Vec<u8>),
    Json(serde_json::Value),
    Array(Vec<Value>),
}

/// The raw bytes of any column, NULL included.
struct Raw<'a>(Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(Some(raw)))
    }

    fn from_sql_null(
        _: &Type,
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

fn read<'a, T: FromSql<'a>>(ty: &Type, raw: &'a [u8]) -> Result<T, DeError> {
    T::from_sql(ty, raw).map_err(DeError::decode)
}

/// Decodes one value of type `ty` from the binary format.
fn decode(ty: &Type, raw: Option<&[u8]>) -> Result<Value, DeError> {
    let Some(raw) = raw else {
        return Ok(Value::Null);
    };
    match ty.kind() {
        Kind::Array(element) => return decode_array(element, raw),
        Kind::Domain(base) => return decode(base, Some(raw)),
        Kind::Enum(_) => {
            return std::str::from_utf8(raw)
                .map(|s| Value::String(s.to_owned()))
                .map_err(DeError::decode);
        }
        _ => {}
    }
    Ok(match *ty {
        Type::BOOL => Value::Bool(read(ty, raw)?),
        Type::CHAR => Value::I8(read(ty, raw)?),
        Type::INT2 => Value::I16(read(ty, raw)?),
        Type::INT4 => Value::I32(read(ty, raw)?),
        Type::INT8 => Value::I64(read(ty, raw)?),
        Type::OID => Value::U32(read(ty, raw)?),
        Type::FLOAT4 => Value::F32(read(ty, raw)?),
        Type::FLOAT8 => Value::F64(read(ty, raw)?),
        Type::BYTEA => Value::Bytes(raw.to_vec()),
        Type::JSON | Type::JSONB => Value::Json(read(ty, raw)?),
        Type::NUMERIC => Value::Numeric(numeric_text(raw)?),
        Type::UUID => Value::String(uuid_text(raw)?),
        Type::DATE => Value::String(date_text(read(ty, raw)?)),
        Type::TIME => Value::String(time_text(read_i64(raw)?)),
        Type::TIMETZ => Value::String(timetz_text(raw)?),
        Type::TIMESTAMP => Value::String(timestamp_text(read_i64(raw)?, "")),
        Type::TIMESTAMPTZ => Value::String(timestamp_text(read_i64(raw)?, "Z")),
        Type::VOID => Value::Unit,
        _ if <String as FromSql>::accepts(ty) => Value::String(read(ty, raw)?),
        _ => return Err(DeError::unsupported()),
    })
}

fn read_i64(raw: &[u8]) -> Result<i64, DeError> {
    let bytes: [u8; 8] = raw
        .try_into()
        .map_err(|_| DeError::decode(format_args!("{} bytes, expected 8", raw.len())))?;
    Ok(i64::from_be_bytes(bytes))
}

/// Reads `N` big-endian bytes from the front of `raw`.
fn take<const N: usize>(raw: &mut &[u8]) -> Result<[u8; N], DeError> {
    if raw.len() < N {
        return Err(DeError::decode("the value is truncated"));
    }
    let (head, rest) = raw.split_at(N);
    *raw = rest;
    Ok(head.try_into().expect("N bytes"))
}

/// An array in the binary format: dimensions, then every element (NULL or
/// its bytes) in row-major order. Several dimensions nest.
fn decode_array(element: &Type, mut raw: &[u8]) -> Result<Value, DeError> {
    let raw = &mut raw;
    let ndim = i32::from_be_bytes(take(raw)?);
    let _has_nulls = take::<4>(raw)?;
    let _element_oid = take::<4>(raw)?;
    if !(0..=6).contains(&ndim) {
        return Err(DeError::decode(format_args!("{ndim} array dimensions")));
    }
    let mut dims = Vec::with_capacity(ndim as usize);
    for _ in 0..ndim {
        let len = i32::from_be_bytes(take(raw)?);
        let _lower_bound = take::<4>(raw)?;
        dims.push(usize::try_from(len).map_err(DeError::decode)?);
    }
    if dims.is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    let total = dims.iter().try_fold(1usize, |n, d| n.checked_mul(*d));
    let total = total.ok_or_else(|| DeError::decode("array too large"))?;
    let mut values = Vec::with_capacity(total.min(raw.len() / 4));
    for _ in 0..total {
        let len = i32::from_be_bytes(take(raw)?);
        let value = if len < 0 {
            None
        } else {
            let len = len as usize;
            if raw.len() < len {
                return Err(DeError::decode("the array is truncated"));
            }
            let (bytes, rest) = raw.split_at(len);
            *raw = rest;
            Some(bytes)
        };
        values.push(decode(element, value)?);
    }
    // Fold the innermost dimensions into nested arrays.
    for &len in dims[1..].iter().rev() {
        let mut outer = Vec::with_capacity(values.len() / len.max(1));
        let mut items = values.into_iter();
        while items.len() > 0 {
            outer.push(Value::Array(items.by_ref().take(len).collect()));
        }
        values = outer;
    }
    Ok(Value::Array(values))
}

/// The exact text of a `numeric`, as PostgreSQL writes it: base-10000
/// digits with a weight (the power of the first digit) and a display scale.
fn numeric_text(mut raw: &[u8]) -> Result<String, DeError> {
    let raw = &mut raw;
    let ndigits = i16::from_be_bytes(take(raw)?);
    let weight = i16::from_be_bytes(take(raw)?);
    let sign = u16::from_be_bytes(take(raw)?);
    let dscale = u16::from_be_bytes(take(raw)?);
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Ok("NaN".to_owned()),
        0xD000 => return Ok("Infinity".to_owned()),
        0xF000 => return Ok("-Infinity".to_owned()),
        other => return Err(DeError::decode(format_args!("numeric sign {other:#x}"))),
    }
    if ndigits < 0 || raw.len() != 2 * ndigits as usize {
        return Err(DeError::decode("numeric digits do not match their count"));
    }
    let digits: Vec<i16> = raw
        .chunks_exact(2)
        .map(|d| i16::from_be_bytes([d[0], d[1]]))
        .collect();
    if digits.iter().any(|d| !(0..10_000).contains(d)) {
        return Err(DeError::decode("numeric digit out of range"));
    }
    let digit = |i: i32| -> i16 {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let (weight, dscale) = (i32::from(weight), usize::from(dscale));
    let mut text = String::new();
    if sign == 0x4000 {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        for i in 0..=weight {
            if i == 0 {
                write!(text, "{}", digit(i)).expect("writing to a String");
            } else {
                write!(text, "{:04}", digit(i)).expect("writing to a String");
            }
        }
    }
    if dscale > 0 {
        text.push('.');
        let start = text.len();
        let mut i = weight + 1;
        while text.len() - start < dscale {
            write!(text, "{:04}", digit(i)).expect("writing to a String");
            i += 1;
        }
        text.truncate(start + dscale);
    }
    Ok(text)
}

fn uuid_text(raw: &[u8]) -> Result<String, DeError> {
    if raw.len() != 16 {
        return Err(DeError::decode(format_args!(
            "{} bytes, expected 16",
            raw.len()
        )));
    }
    let mut text = String::with_capacity(36);
    for (i, byte) in raw.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        write!(text, "{byte:02x}").expect("writing to a String");
    }
    Ok(text)
}

/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The proleptic Gregorian date `days` after 1970-01-01 (H. Hinnant's
/// `civil_from_days`), as (year, month, day); year 0 is 1 BC.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// ISO 8601 with astronomical years, as chrono writes them: four digits
/// for years 0 to 9999, a sign and at least four digits otherwise.
fn write_date(text: &mut String, days_since_2000: i64) {
    let (year, month, day) = civil_from_days(days_since_2000 + PG_EPOCH_DAYS);
    if (0..=9999).contains(&year) {
        write!(text, "{year:04}-{month:02}-{day:02}")
    } else {
        write!(text, "{year:+05}-{month:02}-{day:02}")
    }
    .expect("writing to a String");
}

/// `HH:MM:SS` with the fraction in 3 or 6 digits when there is one.
fn write_time(text: &mut String, micros: i64) {
    let (seconds, fraction) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    write!(text, "{h:02}:{m:02}:{s:02}").expect("writing to a String");
    if fraction % 1000 == 0 && fraction != 0 {
        write!(text, ".{:03}", fraction / 1000).expect("writing to a String");
    } else if fraction != 0 {
        write!(text, ".{fraction:06}").expect("writing to a String");
    }
}

fn date_text(days: i32) -> String {
    match days {
        i32::MAX => "infinity".to_owned(),
        i32::MIN => "-infinity".to_owned(),
        days => {
            let mut text = String::with_capacity(10);
            write_date(&mut text, i64::from(days));
            text
        }
    }
}

fn time_text(micros: i64) -> String {
    let mut text = String::with_capacity(15);
    write_time(&mut text, micros);
    text
}

/// `time with time zone`: microseconds, then the zone in seconds west of UTC.
fn timetz_text(raw: &[u8]) -> Result<String, DeError> {
    if raw.len() != 12 {
        return Err(DeError::decode(format_args!(
            "{} bytes, expected 12",
            raw.len()
        )));
    }
    let micros = read_i64(&raw[..8])?;
    let east = -i32::from_be_bytes(raw[8..].try_into().expect("4 bytes"));
    let mut text = time_text(micros);
    let (sign, east) = if east < 0 { ('-', -east) } else { ('+', east) };
    write!(text, "{sign}{:02}:{:02}", east / 3600, east / 60 % 60).expect("writing to a String");
    if east % 60 != 0 {
        write!(text, ":{:02}", east % 60).expect("writing to a String");
    }
    Ok(text)
}

fn timestamp_text(micros: i64, suffix: &str) -> String {
    match micros {
        i64::MAX => "infinity".to_owned(),
        i64::MIN => "-infinity".to_owned(),
        micros => {
            let mut text = String::with_capacity(27);
            write_date(&mut text, micros.div_euclid(MICROS_PER_DAY));
            text.push('T');
            write_time(&mut text, micros.rem_euclid(MICROS_PER_DAY));
            text.push_str(suffix);
            text
        }
    }
}

impl Value {
    /// Hands the value to `visitor` without a type hint.
    fn visit<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self {
            Value::Null => visitor.visit_none(),
            Value::Unit => visitor.visit_unit(),
            Value::Bool(v) => visitor.visit_bool(v),
            Value::I8(v) => visitor.visit_i8(v),
            Value::I16(v) => visitor.visit_i16(v),
            Value::I32(v) => visitor.visit_i32(v),
            Value::I64(v) => visitor.visit_i64(v),
            Value::U32(v) => visitor.visit_u32(v),
            Value::F32(v) => visitor.visit_f32(v),
            Value::F64(v) => visitor.visit_f64(v),
            Value::String(v) | Value::Numeric(v) => visitor.visit_string(v),
            Value::Bytes(v) => visitor.visit_byte_buf(v),
            Value::Json(v) => v.deserialize_any(visitor).map_err(DeError::json),
            Value::Array(items) => {
                let mut seq = ArraySeq {
                    items: items.into_iter(),
                    read: 0,
                };
                let value = visitor.visit_seq(&mut seq)?;
                if seq.items.len() > 0 {
                    return Err(de::Error::custom(format_args!(
                        "the array has {} elements, more than the {} read",
                        seq.read + seq.items.len(),
                        seq.read
                    )));
                }
                Ok(value)
            }
        }
    }
}

struct ArraySeq {
    items: std::vec::IntoIter<Value>,
    read: usize,
}

impl<'de> SeqAccess<'de> for ArraySeq {
    type Error = DeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, DeError> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        self.read += 1;
        let index = self.read;
        seed.deserialize(ValueDeserializer {
            source: Source::Ready(item),
        })
        .map(Some)
        .map_err(|mut e| {
            if e.kind == DeErrorKind::Other {
                e.message = format!("array element {index}: {}", e.message);
            }
            e
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// A column's value, decoded when a visitor asks for it (a column a struct
/// ignores is never decoded).
enum Source<'r> {
    Column(&'r tokio_postgres::Row, usize),
    Ready(Value),
}

struct ValueDeserializer<'r> {
    source: Source<'r>,
}

impl ValueDeserializer<'_> {
    fn load(self) -> Result<Value, DeError> {
        match self.source {
            Source::Ready(value) => Ok(value),
            Source::Column(row, index) => {
                let Raw(raw) = row.try_get(index).map_err(DeError::decode)?;
                decode(row.columns()[index].type_(), raw)
            }
        }
    }

    fn ready(value: Value) -> ValueDeserializer<'static> {
        ValueDeserializer {
            source: Source::Ready(value),
        }
    }
}

/// Methods without a special case: a json value gets the same hint, any
/// other value is visited as it is.
macro_rules! plain_methods {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, DeError> {
            match self.load()? {
                Value::Json(json) => json.$method($($arg,)* visitor).map_err(DeError::json),
                value => value.visit(visitor),
            }
        }
    )*};
}

/// Integer hints: a `numeric` that holds an integer is read as one.
macro_rules! integer_methods {
    ($($method:ident;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match self.load()? {
                Value::Json(json) => json.$method(visitor).map_err(DeError::json),
                Value::Numeric(text) => visit_numeric_integer(text, visitor),
                value => value.visit(visitor),
            }
        }
    )*};
}

/// Float hints: a `numeric` is read as the nearest float.
macro_rules! float_methods {
    ($($method:ident;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match self.load()? {
                Value::Json(json) => json.$method(visitor).map_err(DeError::json),
                Value::Numeric(text) => match text.parse::<f64>() {
                    Ok(v) => visitor.visit_f64(v),
                    Err(_) => visitor.visit_string(text),
                },
                value => value.visit(visitor),
            }
        }
    )*};
}

fn visit_numeric_integer<'de, V: Visitor<'de>>(
    text: String,
    visitor: V,
) -> Result<V::Value, DeError> {
    // An integral numeric may still be written with a zero fraction (`5.00`).
    let integral = match text.split_once('.') {
        Some((int, fraction)) if fraction.bytes().all(|b| b == b'0') => int,
        Some(_) => return visitor.visit_string(text),
        None => text.as_str(),
    };
    if let Ok(v) = integral.parse::<i64>() {
        visitor.visit_i64(v)
    } else if let Ok(v) = integral.parse::<u64>() {
        visitor.visit_u64(v)
    } else if let Ok(v) = integral.parse::<i128>() {
        visitor.visit_i128(v)
    } else if let Ok(v) = integral.parse::<u128>() {
        visitor.visit_u128(v)
    } else {
        visitor.visit_string(text)
    }
}

impl<'de> Deserializer<'de> for ValueDeserializer<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.load()?.visit(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.load()? {
            Value::Null => visitor.visit_none(),
            Value::Json(json) => json.deserialize_option(visitor).map_err(DeError::json),
            value => visitor.visit_some(ValueDeserializer::ready(value)),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.load()? {
            Value::Json(json) => json.deserialize_seq(visitor).map_err(DeError::json),
            // `Vec<u8>` asks for a sequence.
            Value::Bytes(bytes) => de::value::SeqDeserializer::<_, DeError>::new(bytes.into_iter())
                .deserialize_any(visitor),
            value => value.visit(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.load()? {
            Value::Json(json) => json
                .deserialize_newtype_struct(name, visitor)
                .map_err(DeError::json),
            value => visitor.visit_newtype_struct(ValueDeserializer::ready(value)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.load()? {
            Value::Json(json) => json
                .deserialize_enum(name, variants, visitor)
                .map_err(DeError::json),
            // A text or enum label names a unit variant.
            Value::String(text) => {
                let label: de::value::StringDeserializer<DeError> = text.into_deserializer();
                visitor.visit_enum(label)
            }
            value => value.visit(visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    integer_methods! {
        deserialize_i8; deserialize_i16; deserialize_i32; deserialize_i64; deserialize_i128;
        deserialize_u8; deserialize_u16; deserialize_u32; deserialize_u64; deserialize_u128;
    }

    float_methods! {
        deserialize_f32; deserialize_f64;
    }

    plain_methods! {
        deserialize_bool();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_identifier();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::Deserialize;

    use super::*;

    fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, DeError> {
        T::deserialize(ValueDeserializer::ready(value))
    }

    fn numeric(ndigits: &[i16], weight: i16, sign: u16, dscale: u16) -> Vec<u8> {
        let mut raw = Vec::new();
        raw.extend((ndigits.len() as i16).to_be_bytes());
        raw.extend(weight.to_be_bytes());
        raw.extend(sign.to_be_bytes());
        raw.extend(dscale.to_be_bytes());
        for d in ndigits {
            raw.extend(d.to_be_bytes());
        }
        raw
    }

    #[test]
    fn numeric_text_matches_postgres() {
        let cases: &[(&[i16], i16, u16, u16, &str)] = &[
            (&[], 0, 0, 0, "0"),
            (&[], 0, 0, 2, "0.00"),
            (&[1, 2345, 6789], 1, 0, 4, "12345.6789"),
            (&[1, 2345, 6789], 1, 0x4000, 4, "-12345.6789"),
            (&[1], -1, 0, 4, "0.0001"),
            (&[1], -2, 0, 8, "0.00000001"),
            (&[5000], -1, 0, 1, "0.5"),
            (&[12], 2, 0, 0, "1200000000"),
            (&[12], 2, 0, 3, "1200000000.000"),
            (&[3, 1415, 9265], 0, 0, 8, "3.14159265"),
            (&[3, 1415, 9265], 0, 0, 10, "3.1415926500"),
            (&[9999, 9999], 0, 0x4000, 4, "-9999.9999"),
        ];
        for &(digits, weight, sign, dscale, text) in cases {
            let raw = numeric(digits, weight, sign, dscale);
            assert_eq!(numeric_text(&raw).unwrap(), text);
        }
        assert_eq!(numeric_text(&numeric(&[], 0, 0xC000, 0)).unwrap(), "NaN");
        assert_eq!(
            numeric_text(&numeric(&[], 0, 0xD000, 0)).unwrap(),
            "Infinity"
        );
        assert_eq!(
            numeric_text(&numeric(&[], 0, 0xF000, 0)).unwrap(),
            "-Infinity"
        );
        assert!(numeric_text(&numeric(&[1], 0, 0x1234, 0)).is_err());
        assert!(numeric_text(&numeric(&[10_000], 0, 0, 0)).is_err());
        assert!(numeric_text(&[0, 1]).is_err());
    }

    #[test]
    fn dates_and_times_are_iso_8601() {
        assert_eq!(date_text(0), "2000-01-01");
        assert_eq!(date_text(-1), "1999-12-31");
        assert_eq!(date_text(59), "2000-02-29");
        assert_eq!(date_text(-10_957), "1970-01-01");
        assert_eq!(date_text(8_892), "2024-05-06");
        assert_eq!(date_text(-730_485), "0000-01-01");
        assert_eq!(date_text(-730_486), "-0001-12-31");
        assert_eq!(date_text(2_921_940), "+10000-01-01");
        assert_eq!(date_text(i32::MAX), "infinity");
        assert_eq!(date_text(i32::MIN), "-infinity");
        assert_eq!(time_text(0), "00:00:00");
        assert_eq!(time_text(25_689_500_000), "07:08:09.500");
        assert_eq!(time_text(25_689_000_001), "07:08:09.000001");
        assert_eq!(time_text(86_400_000_000), "24:00:00");
        assert_eq!(timestamp_text(0, "Z"), "2000-01-01T00:00:00Z");
        assert_eq!(timestamp_text(-1, ""), "1999-12-31T23:59:59.999999");
        assert_eq!(timestamp_text(i64::MAX, ""), "infinity");
        assert_eq!(timestamp_text(i64::MIN, "Z"), "-infinity");
        let mut tz = 3_600_000_000i64.to_be_bytes().to_vec();
        tz.extend((-19_800i32).to_be_bytes()); // UTC+05:30
        assert_eq!(timetz_text(&tz).unwrap(), "01:00:00+05:30");
        let mut tz = 0i64.to_be_bytes().to_vec();
        tz.extend(18_000i32.to_be_bytes()); // UTC-05:00
        assert_eq!(timetz_text(&tz).unwrap(), "00:00:00-05:00");
    }

    #[test]
    fn civil_dates_round_trip_over_centuries() {
        // Consecutive days give consecutive, valid calendar dates.
        let mut previous = civil_from_days(-800_000);
        for days in -799_999..800_000 {
            let (y, m, d) = civil_from_days(days);
            let (py, pm, pd) = previous;
            let next_day = (y, m, d) == (py, pm, pd + 1);
            let next_month = (y, m, d) == (py, pm + 1, 1);
            let next_year = (y, m, d) == (py + 1, 1, 1) && (pm, pd) == (12, 31);
            assert!(
                next_day || next_month || next_year,
                "{previous:?} -> {:?}",
                (y, m, d)
            );
            previous = (y, m, d);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-719_468), (0, 3, 1));
    }

    #[test]
    fn uuid_is_hyphenated_lower_case() {
        let raw: Vec<u8> = (0..16).map(|i| i * 17).collect();
        assert_eq!(
            uuid_text(&raw).unwrap(),
            "00112233-4455-6677-8899-aabbccddeeff"
        );
        assert!(uuid_text(&raw[..15]).is_err());
    }

    fn array(element_oid: u32, dims: &[i32], items: &[Option<&[u8]>]) -> Vec<u8> {
        let mut raw = Vec::new();
        raw.extend((dims.len() as i32).to_be_bytes());
        raw.extend(i32::from(items.iter().any(Option::is_none)).to_be_bytes());
        raw.extend(element_oid.to_be_bytes());
        for d in dims {
            raw.extend(d.to_be_bytes());
            raw.extend(1i32.to_be_bytes());
        }
        for item in items {
            match item {
                Some(bytes) => {
                    raw.extend((bytes.len() as i32).to_be_bytes());
                    raw.extend(*bytes);
                }
                None => raw.extend((-1i32).to_be_bytes()),
            }
        }
        raw
    }

    #[test]
    fn arrays_nest_by_dimension() {
        let one = 1i32.to_be_bytes();
        let two = 2i32.to_be_bytes();
        let raw = array(23, &[3], &[Some(&one), None, Some(&two)]);
        let value = decode(&Type::INT4_ARRAY, Some(&raw)).unwrap();
        assert_eq!(
            value,
            Value::Array(vec![Value::I32(1), Value::Null, Value::I32(2)])
        );
        let v: Vec<Option<i32>> = from_value(value.clone()).unwrap();
        assert_eq!(v, [Some(1), None, Some(2)]);
        let e = from_value::<Vec<i32>>(value).unwrap_err();
        assert_eq!(e.kind, DeErrorKind::Null);

        let raw = array(
            23,
            &[2, 2],
            &[Some(&one), Some(&two), Some(&two), Some(&one)],
        );
        let value = decode(&Type::INT4_ARRAY, Some(&raw)).unwrap();
        let v: Vec<Vec<i32>> = from_value(value).unwrap();
        assert_eq!(v, [[1, 2], [2, 1]]);

        let raw = array(25, &[], &[]);
        let v: Vec<String> = from_value(decode(&Type::TEXT_ARRAY, Some(&raw)).unwrap()).unwrap();
        assert!(v.is_empty());
        let raw = array(25, &[2], &[Some(b"a"), Some(b"b")]);
        let v: (String, String) =
            from_value(decode(&Type::TEXT_ARRAY, Some(&raw)).unwrap()).unwrap();
        assert_eq!(v, ("a".to_owned(), "b".to_owned()));
        let e = from_value::<(String,)>(decode(&Type::TEXT_ARRAY, Some(&raw)).unwrap());
        assert!(e.is_err());
        assert!(decode(&Type::TEXT_ARRAY, Some(&raw[..raw.len() - 1])).is_err());
    }

    #[test]
    fn scalars_decode_by_sql_type() {
        let d = |ty: &Type, raw: &[u8]| decode(ty, Some(raw)).unwrap();
        assert_eq!(d(&Type::BOOL, &[1]), Value::Bool(true));
        assert_eq!(d(&Type::INT2, &7i16.to_be_bytes()), Value::I16(7));
        assert_eq!(d(&Type::INT8, &(-7i64).to_be_bytes()), Value::I64(-7));
        assert_eq!(d(&Type::FLOAT4, &1.5f32.to_be_bytes()), Value::F32(1.5));
        assert_eq!(d(&Type::VARCHAR, b"hi"), Value::String("hi".into()));
        assert_eq!(d(&Type::BYTEA, &[0, 255]), Value::Bytes(vec![0, 255]));
        assert_eq!(
            d(&Type::JSONB, b"\x01{\"a\": [1]}"),
            Value::Json(serde_json::json!({"a": [1]}))
        );
        assert_eq!(decode(&Type::INT4, None).unwrap(), Value::Null);
        assert_eq!(decode(&Type::INTERVAL, None).unwrap(), Value::Null);
        let e = decode(&Type::INTERVAL, Some(&[0; 16])).unwrap_err();
        assert_eq!(e.kind, DeErrorKind::Unsupported);
        let e = decode(&Type::INT4, Some(&[0; 3])).unwrap_err();
        assert!(e.message.contains("could not decode"), "{e}");
    }

    #[test]
    fn values_follow_the_visitors_hint() {
        let n = || Value::Numeric("12345.6789".into());
        assert_eq!(from_value::<String>(n()).unwrap(), "12345.6789");
        assert_eq!(from_value::<f64>(n()).unwrap(), 12345.6789);
        assert!(from_value::<i64>(n()).is_err());
        assert_eq!(
            from_value::<i32>(Value::Numeric("42.000".into())).unwrap(),
            42
        );
        assert_eq!(
            from_value::<u128>(Value::Numeric("100000000000000000000".into())).unwrap(),
            100_000_000_000_000_000_000
        );
        assert_eq!(
            from_value::<serde_json::Value>(n()).unwrap(),
            serde_json::json!("12345.6789")
        );
        assert_eq!(from_value::<i64>(Value::I16(3)).unwrap(), 3);
        assert_eq!(from_value::<f64>(Value::I32(3)).unwrap(), 3.0);
        assert!(from_value::<i8>(Value::I32(300)).is_err());
        assert_eq!(from_value::<Option<i32>>(Value::Null).unwrap(), None);
        assert_eq!(from_value::<Option<i32>>(Value::I32(1)).unwrap(), Some(1));
        assert_eq!(
            from_value::<serde_json::Value>(Value::Null).unwrap(),
            serde_json::Value::Null
        );
        let e = from_value::<String>(Value::Null).unwrap_err();
        assert_eq!(e.kind, DeErrorKind::Null);
        assert_eq!(
            from_value::<Vec<u8>>(Value::Bytes(vec![1, 2])).unwrap(),
            [1, 2]
        );
        assert_eq!(from_value::<()>(Value::Unit).unwrap(), ());

        #[derive(Deserialize, Debug, PartialEq)]
        #[serde(rename_all = "lowercase")]
        enum Mood {
            Happy,
            Sad,
        }
        assert_eq!(
            from_value::<Mood>(Value::String("sad".into())).unwrap(),
            Mood::Sad
        );
        assert!(from_value::<Mood>(Value::String("meh".into())).is_err());
        let _ = Mood::Happy;

        #[derive(Deserialize, Debug, PartialEq)]
        struct Inner {
            city: String,
            zip: Option<u32>,
        }
        #[derive(Deserialize, Debug, PartialEq)]
        struct Id(i64);
        let json = Value::Json(serde_json::json!({"city": "Oslo", "zip": null}));
        assert_eq!(
            from_value::<Inner>(json).unwrap(),
            Inner {
                city: "Oslo".into(),
                zip: None
            }
        );
        assert_eq!(from_value::<Id>(Value::I64(4)).unwrap(), Id(4));
        let json = Value::Json(serde_json::json!({"a": 1}));
        let map: HashMap<String, i32> = from_value(json).unwrap();
        assert_eq!(map["a"], 1);
        // JSON null in an Option is None, like SQL NULL.
        let json = Value::Json(serde_json::Value::Null);
        assert_eq!(from_value::<Option<Inner>>(json).unwrap(), None);
    }

    #[test]
    fn errors_name_the_column_and_the_sql_type() {
        let e = from_value::<i32>(Value::String("x".into()))
            .unwrap_err()
            .locate("n", &Type::TEXT)
            .into_error::<(i32,)>();
        match e {
            Error::RowMapping(e) => {
                assert_eq!(e.column, "n");
                assert_eq!(e.expected, "(i32,)");
                assert!(
                    e.found.starts_with("SQL type text: invalid type"),
                    "{}",
                    e.found
                );
            }
            other => panic!("{other:?}"),
        }
        let e = DeError::unsupported()
            .locate("span", &Type::INTERVAL)
            .into_error::<()>();
        assert!(
            matches!(&e, Error::RowMapping(m) if m.column == "span" && m.found.starts_with("SQL type interval")),
            "{e:?}"
        );
        let e = <DeError as de::Error>::missing_field("email").into_error::<()>();
        assert!(
            matches!(&e, Error::RowMapping(m) if m.column == "email" && m.found == "no such column in the result"),
            "{e:?}"
        );
        let e = from_value::<String>(Value::Null)
            .unwrap_err()
            .locate("name", &Type::TEXT)
            .into_error::<()>();
        assert!(
            matches!(&e, Error::RowMapping(m) if m.found.starts_with("NULL")),
            "{e:?}"
        );
    }

    #[test]
    fn serde_wraps_and_unwraps() {
        let mut s = Serde(vec![1]);
        s.push(2);
        assert_eq!(s.len(), 2);
        assert_eq!(Serde::from(3).into_inner(), 3);
        assert_eq!(<Serde<()> as FromRow>::NAMES, None);
    }
}
