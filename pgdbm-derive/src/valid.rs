//! Rules across keys and fields, checked on the model once it is built.

use std::collections::HashMap;

use crate::ast::Container;
use crate::attr::{Derive, PRIMARY_KEY};
use crate::ctxt::Ctxt;

/// Records every broken rule in `cx`.
pub(crate) fn check(cx: &Ctxt, container: &Container) {
    check_skip(cx, container);
    check_duplicate_columns(cx, container);
    if container.derive == Derive::Table {
        check_duplicate_constants(cx, container);
        check_belongs_to(cx, container);
        check_has_columns(cx, container);
    }
}

/// `skip` leaves the field out of the table, so no other key can apply.
fn check_skip(cx: &Ctxt, container: &Container) {
    for field in container.fields.iter().filter(|f| f.attrs.skip.is_some()) {
        for (key, tokens) in field.attrs.non_skip_keys() {
            if key == PRIMARY_KEY {
                cx.error_spanned_by(
                    tokens,
                    "`primary_key` cannot be combined with `skip`: a skipped field is not a \
                     column, so it cannot be part of the primary key",
                );
            } else {
                cx.error_spanned_by(
                    tokens,
                    format_args!(
                        "`{key}` cannot be combined with `skip`: a skipped field is not a column"
                    ),
                );
            }
        }
    }
}

/// Two fields may not read the same column (after renames).
fn check_duplicate_columns(cx: &Ctxt, container: &Container) {
    let mut seen = HashMap::new();
    for (_, field) in container.columns() {
        if let Some(first) = seen.insert(field.column.as_str(), field.ident) {
            cx.error_at(
                field.column_span,
                format_args!(
                    "duplicate column name `{}`: field `{first}` already maps to it; \
                     rename one with `#[pgdbm(column = \"...\")]`",
                    field.column
                ),
            );
            // Keep the first field as the one later duplicates are reported against.
            seen.insert(field.column.as_str(), first);
        }
    }
}

/// Two fields may not get the same column constant (`aB` and `a_b`).
fn check_duplicate_constants(cx: &Ctxt, container: &Container) {
    let mut seen = HashMap::new();
    for (_, field) in container.columns() {
        let name = field.const_ident.to_string();
        if let Some(first) = seen.get(&name) {
            cx.error_spanned_by(
                field.ident,
                format_args!(
                    "fields `{first}` and `{}` would both get the column constant \
                     `{}::{name}`; rename one of them",
                    field.ident, container.ident
                ),
            );
        } else {
            seen.insert(name, field.ident);
        }
    }
}

/// One `belongs_to` per parent type (each is an `impl BelongsTo<Parent>`),
/// and never on a json field.
fn check_belongs_to(cx: &Ctxt, container: &Container) {
    let mut seen: HashMap<String, &syn::Ident> = HashMap::new();
    for (_, field) in container.columns() {
        let Some((parent, tokens)) = &field.attrs.belongs_to else {
            continue;
        };
        if field.is_json() {
            cx.error_spanned_by(
                tokens,
                "`belongs_to` cannot be combined with `json`: a foreign key is a plain column",
            );
        }
        let key = quote::ToTokens::to_token_stream(parent).to_string();
        if let Some(first) = seen.get(&key) {
            cx.error_spanned_by(
                tokens,
                format_args!(
                    "field `{first}` already belongs_to `{key}`; a table can declare one \
                     relation per parent type (load the other with `load_related` and a closure)"
                ),
            );
        } else {
            seen.insert(key, field.ident);
        }
    }
}

/// A table has at least one column.
fn check_has_columns(cx: &Ctxt, container: &Container) {
    if container.columns().next().is_none() {
        let why = if container.fields.is_empty() {
            "the struct has no fields"
        } else {
            "every field is `skip`"
        };
        cx.error_spanned_by(
            container.ident,
            format_args!("#[derive(Table)] needs at least one column, but {why}"),
        );
    }
}

/// Parses and validates `input` for `derive`: the model, or every error found.
pub(crate) fn model(input: &syn::DeriveInput, derive: Derive) -> syn::Result<Container<'_>> {
    let cx = Ctxt::new();
    let container = Container::from_ast(&cx, input, derive);
    if let Some(container) = &container {
        check(&cx, container);
    }
    cx.check()?;
    Ok(container.expect("the model is missing only when an error was recorded"))
}
