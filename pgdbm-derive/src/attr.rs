//! The `#[pgdbm(..)]` keys: parsed one attribute at a time, every problem
//! recorded in the [`Ctxt`] at the span of the key that caused it.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Path, Token};

use crate::ctxt::Ctxt;

/// The attribute every key lives under.
pub(crate) const PGDBM: &str = "pgdbm";

// Struct keys.
pub(crate) const TABLE: &str = "table";
pub(crate) const SCHEMA: &str = "schema";

// Field keys.
pub(crate) const COLUMN: &str = "column";
pub(crate) const PRIMARY_KEY: &str = "primary_key";
pub(crate) const GENERATED: &str = "generated";
pub(crate) const SKIP: &str = "skip";
pub(crate) const JSON: &str = "json";
pub(crate) const SQL_TYPE: &str = "sql_type";
pub(crate) const BELONGS_TO: &str = "belongs_to";

const TABLE_FIELD_KEYS: &[&str] = &[
    COLUMN,
    PRIMARY_KEY,
    GENERATED,
    SKIP,
    JSON,
    SQL_TYPE,
    BELONGS_TO,
];
const FROM_ROW_FIELD_KEYS: &[&str] = &[COLUMN, JSON, SKIP];

/// Which derive is reading the attributes: `FromRow` accepts fewer keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Derive {
    Table,
    FromRow,
}

impl Derive {
    /// `#[derive(Table)]` or `#[derive(FromRow)]`, for messages.
    pub(crate) fn display(self) -> &'static str {
        match self {
            Derive::Table => "#[derive(Table)]",
            Derive::FromRow => "#[derive(FromRow)]",
        }
    }

    fn field_keys(self) -> &'static [&'static str] {
        match self {
            Derive::Table => TABLE_FIELD_KEYS,
            Derive::FromRow => FROM_ROW_FIELD_KEYS,
        }
    }
}

/// A string given as `key = "value"`, with the tokens it was written as.
#[derive(Clone)]
pub(crate) struct Valued {
    pub(crate) value: String,
    pub(crate) lit: LitStr,
    /// `key = "value"`, for errors that point at the whole key.
    pub(crate) tokens: TokenStream,
}

impl Valued {
    pub(crate) fn span(&self) -> Span {
        self.lit.span()
    }
}

/// A key without a value (`primary_key`), kept as written for its span.
pub(crate) type Flag = Option<Path>;

/// The struct's `#[pgdbm(..)]` keys.
#[derive(Default)]
pub(crate) struct ContainerAttrs {
    pub(crate) table: Option<Valued>,
}

/// A field's `#[pgdbm(..)]` keys.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    pub(crate) column: Option<Valued>,
    pub(crate) primary_key: Flag,
    pub(crate) generated: Flag,
    pub(crate) skip: Flag,
    pub(crate) json: Flag,
    pub(crate) sql_type: Option<Valued>,
    /// `belongs_to = Customer`: the type, and the key as written.
    pub(crate) belongs_to: Option<(syn::Type, TokenStream)>,
}

impl FieldAttrs {
    /// The keys given besides `skip`, in the order `valid` reports them.
    pub(crate) fn non_skip_keys(&self) -> Vec<(&'static str, TokenStream)> {
        let mut keys = Vec::new();
        if let Some(v) = &self.column {
            keys.push((COLUMN, v.tokens.clone()));
        }
        if let Some(p) = &self.primary_key {
            keys.push((PRIMARY_KEY, p.to_token_stream()));
        }
        if let Some(p) = &self.generated {
            keys.push((GENERATED, p.to_token_stream()));
        }
        if let Some(p) = &self.json {
            keys.push((JSON, p.to_token_stream()));
        }
        if let Some(v) = &self.sql_type {
            keys.push((SQL_TYPE, v.tokens.clone()));
        }
        if let Some((_, tokens)) = &self.belongs_to {
            keys.push((BELONGS_TO, tokens.clone()));
        }
        keys
    }
}

/// Reads the struct's attributes.
pub(crate) fn container(cx: &Ctxt, attrs: &[Attribute], derive: Derive) -> ContainerAttrs {
    let mut out = ContainerAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident(PGDBM)) {
        let parsed = attr.parse_nested_meta(|meta| {
            let key = path_name(&meta.path);
            match key.as_str() {
                TABLE if derive == Derive::Table => {
                    if let Some(table) = string_value(cx, &meta, "users")? {
                        set_once(cx, &mut out.table, table, TABLE);
                    }
                }
                TABLE => {
                    cx.error_spanned_by(
                        &meta.path,
                        format_args!(
                            "`table` only applies to #[derive(Table)]; {} reads columns by \
                             name from any query, so remove `table` or derive Table instead \
                             (it implements FromRow too)",
                            derive.display()
                        ),
                    );
                    skip_value(&meta)?;
                }
                SCHEMA => {
                    schema_error(cx, &meta)?;
                }
                _ if TABLE_FIELD_KEYS.contains(&key.as_str()) => {
                    cx.error_spanned_by(
                        &meta.path,
                        format_args!(
                            "`{key}` is a field attribute: put it on a field, not on the struct"
                        ),
                    );
                    skip_value(&meta)?;
                }
                _ => {
                    let expected = match derive {
                        Derive::Table => "expected `table`".to_owned(),
                        Derive::FromRow => {
                            "#[derive(FromRow)] takes no struct attributes".to_owned()
                        }
                    };
                    cx.error_spanned_by(
                        &meta.path,
                        format_args!("unknown pgdbm struct attribute `{key}`; {expected}"),
                    );
                    skip_value(&meta)?;
                }
            }
            Ok(())
        });
        if let Err(error) = parsed {
            cx.syn_error(error);
        }
    }
    out
}

/// Reads a field's attributes.
pub(crate) fn field(cx: &Ctxt, attrs: &[Attribute], derive: Derive) -> FieldAttrs {
    let mut out = FieldAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident(PGDBM)) {
        let parsed = attr.parse_nested_meta(|meta| {
            let key = path_name(&meta.path);
            let key = key.as_str();
            if derive.field_keys().contains(&key) {
                match key {
                    COLUMN => {
                        if let Some(column) = string_value(cx, &meta, "full_name")? {
                            set_once(cx, &mut out.column, column, COLUMN);
                        }
                    }
                    SQL_TYPE => {
                        if let Some(sql_type) = string_value(cx, &meta, "timestamptz")? {
                            set_once(cx, &mut out.sql_type, sql_type, SQL_TYPE);
                        }
                    }
                    BELONGS_TO => {
                        let path = meta.path.clone();
                        if !meta.input.peek(Token![=]) {
                            cx.error_spanned_by(
                                &path,
                                "`belongs_to` needs the parent table's type, as in \
                                 `belongs_to = Customer`",
                            );
                            skip_value(&meta)?;
                        } else {
                            let ty: syn::Type = meta.value()?.parse()?;
                            let tokens = quote!(#path = #ty);
                            if out.belongs_to.is_some() {
                                cx.error_spanned_by(tokens, "duplicate `belongs_to` attribute");
                            } else {
                                out.belongs_to = Some((ty, tokens));
                            }
                        }
                    }
                    PRIMARY_KEY => set_flag(cx, &meta, &mut out.primary_key, PRIMARY_KEY)?,
                    GENERATED => set_flag(cx, &meta, &mut out.generated, GENERATED)?,
                    SKIP => set_flag(cx, &meta, &mut out.skip, SKIP)?,
                    JSON => set_flag(cx, &meta, &mut out.json, JSON)?,
                    _ => unreachable!("every listed key is handled"),
                }
                return Ok(());
            }
            match key {
                SCHEMA => return schema_error(cx, &meta),
                TABLE => cx.error_spanned_by(
                    &meta.path,
                    "`table` is a struct attribute: put `#[pgdbm(table = \"...\")]` on the struct",
                ),
                _ if TABLE_FIELD_KEYS.contains(&key) => cx.error_spanned_by(
                    &meta.path,
                    format_args!(
                        "`{key}` only applies to #[derive(Table)]; remove it, or derive Table \
                         instead (it implements FromRow too)"
                    ),
                ),
                _ => cx.error_spanned_by(
                    &meta.path,
                    format_args!(
                        "unknown pgdbm field attribute `{key}`; expected one of {}",
                        list(derive.field_keys())
                    ),
                ),
            }
            skip_value(&meta)
        });
        if let Err(error) = parsed {
            cx.syn_error(error);
        }
    }
    out
}

pub(crate) fn schema_error(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<()> {
    let path = &meta.path;
    let mut tokens = path.to_token_stream();
    if meta.input.peek(Token![=]) {
        let value: Expr = meta.value()?.parse()?;
        tokens = quote!(#path = #value);
    }
    cx.error_spanned_by(
        tokens,
        "the schema belongs to the Database the query runs on; remove `schema`",
    );
    Ok(())
}

/// The value of `key = "..."`, or `None` after recording why it is not one.
pub(crate) fn string_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    example: &str,
) -> syn::Result<Option<Valued>> {
    let path = &meta.path;
    let key = path_name(path);
    if !meta.input.peek(Token![=]) {
        cx.error_spanned_by(
            path,
            format_args!("`{key}` needs a value, as in `{key} = \"{example}\"`"),
        );
        skip_value(meta)?;
        return Ok(None);
    }
    let expr: Expr = meta.value()?.parse()?;
    let lit = match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => lit,
        other => {
            cx.error_spanned_by(
                other,
                format_args!("expected a string literal, as in `{key} = \"{example}\"`"),
            );
            return Ok(None);
        }
    };
    let value = lit.value();
    if value.is_empty() {
        cx.error_spanned_by(&lit, format_args!("`{key}` cannot be empty"));
        return Ok(None);
    }
    let tokens = quote!(#path = #lit);
    Ok(Some(Valued { value, lit, tokens }))
}

pub(crate) fn set_once(cx: &Ctxt, slot: &mut Option<Valued>, value: Valued, key: &str) {
    match slot {
        Some(first) => cx.error_spanned_by(
            &value.tokens,
            format_args!(
                "duplicate `{key}` attribute: `{key} = \"{}\"` is already given; keep one",
                first.value
            ),
        ),
        None => *slot = Some(value),
    }
}

pub(crate) fn set_flag(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    slot: &mut Flag,
    key: &str,
) -> syn::Result<()> {
    if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
        cx.error_spanned_by(
            &meta.path,
            format_args!("`{key}` takes no value; write `#[pgdbm({key})]`"),
        );
        return skip_value(meta);
    }
    if slot.is_some() {
        cx.error_spanned_by(&meta.path, format_args!("duplicate `{key}` attribute"));
    } else {
        *slot = Some(meta.path.clone());
    }
    Ok(())
}

/// Consumes what follows a key we reject, so the keys after it are still read.
pub(crate) fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.input.parse::<proc_macro2::TokenTree>()?;
    }
    Ok(())
}

pub(crate) fn path_name(path: &Path) -> String {
    match path.get_ident() {
        Some(ident) => ident.to_string(),
        None => path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect::<Vec<_>>()
            .join("::"),
    }
}

pub(crate) fn list(keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
