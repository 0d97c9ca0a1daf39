//! `impl Table`, the column constants, and (through `expand_from_row`)
//! `impl FromRow`.

use std::collections::HashSet;

use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt;
use syn::{DeriveInput, Index};

use crate::ast::{Container, Field};
use crate::attr::Derive;
use crate::dummy::wrap_in_const;
use crate::{expand_from_row, ops, sql_type, valid};

/// `#[derive(Table)]`: the impls and constants, or every error in the input.
pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let container = valid::model(input, Derive::Table)?;
    let assertions = ops::assertions(&container, true);
    let prelude = ops::prelude(&container, true);
    let table = impl_table(&container);
    let constants = column_constants(&container);
    let belongs_to = belongs_to(&container);
    let from_row = expand_from_row::derive_impl(&container);
    Ok(wrap_in_const(quote! {
        #assertions
        #prelude
        #table
        #constants
        #belongs_to
        #from_row
    }))
}

/// `impl BelongsTo<Parent> for Child` for each `belongs_to` field: the
/// foreign key's column and value. The value converts into the parent's
/// key type, so a mismatch is an error at the field.
fn belongs_to(container: &Container) -> TokenStream {
    let ident = container.ident;
    container
        .columns()
        .filter_map(|(_, field)| {
            let (parent, _) = field.attrs.belongs_to.as_ref()?;
            let member = field.ident;
            let column = &field.column;
            let value = match field.option_inner {
                Some(_) => quote!(::core::clone::Clone::clone(&self.#member)),
                None => quote!(::core::option::Option::Some(::core::clone::Clone::clone(&self.#member))),
            };
            Some(quote! {
                #[automatically_derived]
                impl ::pgdbm::__private::BelongsTo<#parent> for #ident {
                    const FOREIGN_KEY: &'static ::core::primitive::str = #column;
                    fn foreign_key(&self) -> ::core::option::Option<<#parent as ::pgdbm::__private::Table>::Key> {
                        #value
                    }
                }
            })
        })
        .collect()
}

fn impl_table(container: &Container) -> TokenStream {
    let ident = container.ident;
    let where_clause = container.where_clause;
    let table = &container.table;
    let defs = container.columns().map(|(_, field)| column_def(field));
    let column_count = container.columns().count();
    let struct_name = ident.unraw().to_string();
    let values = container.columns().map(|(index, field)| {
        let member = field.ident;
        let value = ops::param(field, quote!(&self.#member));
        quote!(#index => #value,)
    });
    // A `pgdbm::Enum` field's DDL type lives in the manager's schema, so
    // it is picked at run time; the probe answers `None` for other types.
    let runtime_types = container
        .columns()
        .filter(|(_, field)| !field.is_json())
        .map(|(index, field)| {
            let ty = field.value_ty();
            quote! {
                #index => (&&::pgdbm::__private::EnumProbe::<#ty>::NEW).__pgdbm_sql_type(schema),
            }
        });
    let key_ty = key_type(container);
    let keys: Vec<&Field> = container.key_fields().collect();
    let key_values: TokenStream = match keys.as_slice() {
        [] => quote!(let _ = (key, out);),
        [field] => {
            let value = ops::param(field, quote!(key));
            quote!(out.push(#value);)
        }
        fields => fields
            .iter()
            .enumerate()
            .map(|(position, field)| {
                let position = Index::from(position);
                let value = ops::param(field, quote!(&key.#position));
                quote!(out.push(#value);)
            })
            .collect(),
    };
    quote! {
        #[automatically_derived]
        impl ::pgdbm::__private::Table for #ident #where_clause {
            const TABLE: &'static ::core::primitive::str = #table;
            const COLUMN_DEFS: &'static [::pgdbm::__private::ColumnDef] = &[#(#defs),*];
            type Key = #key_ty;

            fn value(&self, index: ::core::primitive::usize) -> ::pgdbm::__private::Param<'_> {
                match index {
                    #(#values)*
                    _ => ::core::panic!(
                        "{}: no column at index {} (the table has {} columns)",
                        #struct_name,
                        index,
                        #column_count,
                    ),
                }
            }

            fn __runtime_sql_type(
                index: ::core::primitive::usize,
                schema: ::core::option::Option<&::core::primitive::str>,
            ) -> ::core::option::Option<::pgdbm::__private::String> {
                #[allow(unused_imports)]
                use ::pgdbm::__private::{ViaEnum as _, ViaOther as _};
                let _ = schema;
                match index {
                    #(#runtime_types)*
                    _ => ::core::option::Option::None,
                }
            }

            fn key_values<'__pgdbm>(
                key: &'__pgdbm Self::Key,
                out: &mut ::pgdbm::__private::Vec<::pgdbm::__private::Param<'__pgdbm>>,
            ) {
                #key_values
            }
        }
    }
}

fn column_def(field: &Field) -> TokenStream {
    let name = &field.column;
    let mut def = quote!(::pgdbm::__private::ColumnDef::new(#name));
    if field.is_key() {
        def.extend(quote!(.primary_key()));
    }
    if field.attrs.generated.is_some() {
        def.extend(quote!(.generated()));
    }
    if field.is_json() {
        def.extend(quote!(.json()));
    }
    if let Some(sql_type) = &field.attrs.sql_type {
        let lit = &sql_type.lit;
        def.extend(quote!(.sql_type(#lit)));
    }
    if let Some(inferred) = sql_type::infer(field) {
        def.extend(quote!(.inferred_type(#inferred)));
    }
    if field.option_inner.is_some() {
        def.extend(quote!(.nullable()));
    }
    def
}

/// `NoPrimaryKey` (so `find` on the table does not compile), the key
/// field's type, or a tuple of the key fields' types.
pub(crate) fn key_type(container: &Container) -> TokenStream {
    let types: Vec<_> = container.key_fields().map(|f| f.ty).collect();
    match types.as_slice() {
        [] => quote!(::pgdbm::__private::NoPrimaryKey),
        [ty] => quote!(#ty),
        types => quote!((#(#types),*)),
    }
}

/// `impl User { pub const EMAIL: Column<User, String> = .. }`: one constant
/// per column, with the field's visibility. A constant name already taken
/// (only possible in the fallback, after an error) is left out.
pub(crate) fn column_constants(container: &Container) -> TokenStream {
    let ident = container.ident;
    let where_clause = container.where_clause;
    let mut taken = HashSet::new();
    let constants = container
        .columns()
        .filter(|(_, field)| taken.insert(field.const_ident.to_string()))
        .map(|(_, field)| {
            let vis = field.vis;
            let name = &field.const_ident;
            let column = &field.column;
            let doc = format!("Column `{column}`.");
            let ty = column_type(container, field);
            quote! {
                #[doc = #doc]
                #vis const #name: #ty = ::pgdbm::__private::Column::new(#column);
            }
        });
    quote! {
        #[automatically_derived]
        #[allow(dead_code)]
        impl #ident #where_clause {
            #(#constants)*
        }
    }
}

/// `Column<T, V, F>`: `V` is the value compared against (the type inside
/// an `Option`, `Json<..>` for a json field) and `F` what selecting the
/// column reads, written out only when it differs from `V`.
fn column_type(container: &Container, field: &Field) -> TokenStream {
    let ident = container.ident;
    let value_ty = field.value_ty();
    let value = if field.is_json() {
        quote!(::pgdbm::__private::Json<#value_ty>)
    } else {
        quote!(#value_ty)
    };
    match field.option_inner {
        None => quote!(::pgdbm::__private::Column<#ident, #value>),
        Some(_) => {
            let read = read_ty(field);
            quote!(::pgdbm::__private::Column<#ident, #value, #read>)
        }
    }
}

/// The type selecting a field's column reads: the field's type, or its `Json`
/// wrapper for a json field (`Option<Json<X>>` for an `Option<X>` one, so
/// SQL NULL is `None`).
fn read_ty(field: &Field) -> TokenStream {
    if !field.is_json() {
        let ty = field.ty;
        return quote!(#ty);
    }
    let ty = field.value_ty();
    let json = quote!(::pgdbm::__private::Json<#ty>);
    match field.option_inner {
        Some(_) => quote!(::core::option::Option<#json>),
        None => json,
    }
}
