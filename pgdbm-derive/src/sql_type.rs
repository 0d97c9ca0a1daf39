//! The SQL type a field's Rust type maps to, for `CREATE TABLE` from the
//! struct, read from the type as written.
//!
//! A proc macro sees tokens, not types, so this goes by the path's last
//! segment (`i64`, `String`, `chrono::DateTime<Utc>`): a type alias or a
//! type of the user's own is not recognised, and its column then needs
//! `sql_type = ".."` for DDL (a `pgdbm::Enum` is found at run time instead,
//! since its type lives in the manager's schema). Nothing else depends on
//! this guess: queries never send it.

use syn::{GenericArgument, PathArguments, Type};

use crate::ast::Field;

/// The SQL type for `field`'s column when its Rust type is one pgdbm knows:
/// the value type (inside an `Option`), or `jsonb` for a json field.
pub(crate) fn infer(field: &Field) -> Option<String> {
    if field.is_json() {
        return Some("jsonb".to_owned());
    }
    of_type(field.value_ty())
}

fn of_type(ty: &Type) -> Option<String> {
    let path = match ty {
        Type::Path(path) if path.qself.is_none() => &path.path,
        Type::Group(group) => return of_type(&group.elem),
        Type::Paren(paren) => return of_type(&paren.elem),
        Type::Array(array) => return array_of(&array.elem),
        _ => return None,
    };
    let last = path.segments.last()?;
    let first = path.segments.first()?.ident.to_string();
    let args: Vec<&Type> = match &last.arguments {
        PathArguments::AngleBracketed(args) => args
            .args
            .iter()
            .filter_map(|a| match a {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let name = last.ident.to_string();
    let sql = match (name.as_str(), args.as_slice()) {
        ("i16", []) => "smallint",
        ("i32", []) => "integer",
        ("i64", []) => "bigint",
        ("f32", []) => "real",
        ("f64", []) => "double precision",
        ("bool", []) => "boolean",
        ("String", []) => "text",
        ("u32", []) => "oid",
        ("Vec", [inner]) if is_u8(inner) => "bytea",
        ("Vec", [inner]) => return array_of(inner),
        ("Json", [_]) => "jsonb",
        ("Value", []) if path.segments.len() == 1 || first == "serde_json" => "jsonb",
        ("Uuid", []) => "uuid",
        ("Decimal", []) => "numeric",
        ("IpAddr", []) => "inet",
        ("SystemTime", []) => "timestamptz",
        // chrono
        ("NaiveDate", []) => "date",
        ("NaiveTime", []) => "time",
        ("NaiveDateTime", []) => "timestamp",
        ("DateTime", [_]) => "timestamptz",
        // time
        ("Date", []) => "date",
        ("Time", []) => "time",
        ("PrimitiveDateTime", []) => "timestamp",
        ("OffsetDateTime", []) => "timestamptz",
        _ => return None,
    };
    Some(sql.to_owned())
}

/// `elem[]` for a `Vec<elem>` or `[elem; N]` of a known, non-array type.
fn array_of(elem: &Type) -> Option<String> {
    let inner = of_type(elem)?;
    if inner.ends_with("[]") || inner == "bytea" {
        return None;
    }
    Some(format!("{inner}[]"))
}

fn is_u8(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none() && p.path.is_ident("u8"))
}
