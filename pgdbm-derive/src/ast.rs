//! The model a derive works from: the struct and its fields with their
//! attributes resolved, borrowing the input so every span stays the user's.

use proc_macro2::Span;
use quote::{ToTokens, format_ident, quote};
use syn::ext::IdentExt;
use syn::{
    Data, DeriveInput, Fields, GenericArgument, Ident, PathArguments, Type, Visibility, WhereClause,
};

use crate::attr::{self, Derive, FieldAttrs};
use crate::ctxt::Ctxt;
use crate::naming;

/// A struct with named fields.
pub(crate) struct Container<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) where_clause: Option<&'a WhereClause>,
    /// The table name: `#[pgdbm(table = "..")]` or the snake_case struct name.
    pub(crate) table: String,
    pub(crate) fields: Vec<Field<'a>>,
    pub(crate) derive: Derive,
}

/// One named field.
pub(crate) struct Field<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    pub(crate) ty: &'a Type,
    /// `X` when the field's type is written `Option<X>`.
    pub(crate) option_inner: Option<&'a Type>,
    pub(crate) attrs: FieldAttrs,
    /// The column name: `#[pgdbm(column = "..")]` or the field's name.
    pub(crate) column: String,
    /// Where the column name comes from: the rename, else the field name.
    pub(crate) column_span: Span,
    /// The name of the field's column constant (`EMAIL`).
    pub(crate) const_ident: Ident,
}

impl<'a> Container<'a> {
    /// Builds the model, recording every problem in `cx`. `None` when the
    /// input cannot be modelled at all (not a struct with named fields, or
    /// generic); attribute errors still give a model, without the bad keys.
    pub(crate) fn from_ast(
        cx: &Ctxt,
        input: &'a DeriveInput,
        derive: Derive,
    ) -> Option<Container<'a>> {
        let attrs = attr::container(cx, &input.attrs, derive);
        let ident = &input.ident;
        let shape = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => Ok(named),
                Fields::Unnamed(fields) => Err((
                    fields.to_token_stream(),
                    "tuple structs are not supported (a row's columns are read by name)",
                )),
                Fields::Unit => {
                    let keyword = &data.struct_token;
                    Err((quote!(#keyword #ident), "unit structs are not supported"))
                }
            },
            Data::Enum(data) => {
                let keyword = &data.enum_token;
                Err((
                    quote!(#keyword #ident),
                    "enums are not supported (for a column holding an enum, derive pgdbm::Enum on it)",
                ))
            }
            Data::Union(data) => {
                let keyword = &data.union_token;
                Err((quote!(#keyword #ident), "unions are not supported"))
            }
        };
        let named = match shape {
            Ok(named) => Some(named),
            Err((tokens, why)) => {
                cx.error_spanned_by(
                    tokens,
                    format_args!(
                        "{} needs a struct with named fields; {why}",
                        derive.display()
                    ),
                );
                None
            }
        };
        let fields: Vec<Field<'a>> = named
            .iter()
            .flat_map(|named| &named.named)
            .map(|field| Field::from_ast(cx, field, derive))
            .collect();
        if !input.generics.params.is_empty() {
            cx.error_spanned_by(
                &input.generics,
                format_args!(
                    "{} does not support generic structs (lifetimes or type parameters); \
                     a row type owns its values",
                    derive.display()
                ),
            );
            return None;
        }
        named?;
        let table = match &attrs.table {
            Some(table) => table.value.clone(),
            None => naming::snake_case(&ident.unraw().to_string()),
        };
        Some(Container {
            ident,
            where_clause: input.generics.where_clause.as_ref(),
            table,
            fields,
            derive,
        })
    }

    /// The fields that are columns (not `skip`), with their column index.
    pub(crate) fn columns(&self) -> impl Iterator<Item = (usize, &Field<'a>)> {
        self.fields.iter().filter(|f| !f.is_skipped()).enumerate()
    }

    /// The primary key's fields, in field order.
    pub(crate) fn key_fields(&self) -> impl Iterator<Item = &Field<'a>> {
        self.fields.iter().filter(|f| f.is_key())
    }
}

impl<'a> Field<'a> {
    fn from_ast(cx: &Ctxt, field: &'a syn::Field, derive: Derive) -> Self {
        let ident = field.ident.as_ref().expect("named fields have identifiers");
        let attrs = attr::field(cx, &field.attrs, derive);
        let name = ident.unraw().to_string();
        let (column, column_span) = match &attrs.column {
            Some(column) => (column.value.clone(), column.span()),
            None => (name.clone(), ident.span()),
        };
        let const_ident = format_ident!(
            "{}",
            naming::screaming_snake_case(&name),
            span = ident.span()
        );
        Field {
            ident,
            vis: &field.vis,
            ty: &field.ty,
            option_inner: option_inner(&field.ty),
            attrs,
            column,
            column_span,
            const_ident,
        }
    }

    pub(crate) fn is_skipped(&self) -> bool {
        self.attrs.skip.is_some()
    }

    pub(crate) fn is_json(&self) -> bool {
        self.attrs.json.is_some()
    }

    /// Part of the primary key (never for a skipped field).
    pub(crate) fn is_key(&self) -> bool {
        self.attrs.primary_key.is_some() && !self.is_skipped()
    }

    /// The field's type without its `Option`, if it has one.
    pub(crate) fn value_ty(&self) -> &'a Type {
        self.option_inner.unwrap_or(self.ty)
    }
}

/// `X` when `ty` is written `Option<X>`, `std::option::Option<X>` or
/// `core::option::Option<X>` (with or without a leading `::`).
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    let path = match ty {
        Type::Path(path) if path.qself.is_none() => &path.path,
        Type::Group(group) => return option_inner(&group.elem),
        Type::Paren(paren) => return option_inner(&paren.elem),
        _ => return None,
    };
    let names: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let is_option = match names.as_slice() {
        [option] => option == "Option" && path.leading_colon.is_none(),
        [krate, module, option] => {
            (krate == "std" || krate == "core") && module == "option" && option == "Option"
        }
        _ => false,
    };
    if !is_option
        || path
            .segments
            .iter()
            .rev()
            .skip(1)
            .any(|s| !s.arguments.is_none())
    {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &path.segments.last()?.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}
