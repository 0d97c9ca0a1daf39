//! `impl FromRow`: the column names read and how each field is decoded.
//! `#[derive(Table)]` emits it too.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::ast::Container;
use crate::attr::Derive;
use crate::dummy::wrap_in_const;
use crate::{ops, valid};

/// `#[derive(FromRow)]`: the impl, or every error in the input.
pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let container = valid::model(input, Derive::FromRow)?;
    let assertions = ops::assertions(&container, false);
    let prelude = ops::prelude(&container, false);
    let from_row = derive_impl(&container);
    Ok(wrap_in_const(quote! {
        #assertions
        #prelude
        #from_row
    }))
}

/// `impl FromRow for ..`.
pub(crate) fn derive_impl(container: &Container) -> TokenStream {
    let ident = container.ident;
    let where_clause = container.where_clause;
    let names = container.columns().map(|(_, field)| &field.column);
    let checks = container.columns().map(|(index, field)| {
        let check = ops::check(field, index);
        quote!(#check?;)
    });
    let inits = container.fields.iter().scan(0usize, |next, field| {
        let member = field.ident;
        if field.is_skipped() {
            return Some(quote!(#member: ::core::default::Default::default()));
        }
        let index = *next;
        *next += 1;
        let read = ops::read(field, index);
        let value = quote!(#read?);
        Some(quote!(#member: #value))
    });
    // With no column, the arguments are unused.
    let (unused_in_check, unused_in_decode) = if container.columns().next().is_none() {
        (
            quote!(let _ = (columns, indices);),
            quote!(let _ = (row, indices);),
        )
    } else {
        (TokenStream::new(), TokenStream::new())
    };
    quote! {
        #[automatically_derived]
        impl ::pgdbm::__private::FromRow for #ident #where_clause {
            const NAMES: ::core::option::Option<&'static [&'static ::core::primitive::str]> =
                ::core::option::Option::Some(&[#(#names),*]);

            fn check(
                columns: &[::pgdbm::__private::PgColumn],
                indices: &[::core::primitive::usize],
            ) -> ::pgdbm::__private::Result<()> {
                #unused_in_check
                #(#checks)*
                ::core::result::Result::Ok(())
            }

            fn decode<__PgdbmRow: ::pgdbm::__private::RowSource>(
                row: &__PgdbmRow,
                indices: &[::core::primitive::usize],
            ) -> ::pgdbm::__private::Result<Self> {
                #unused_in_decode
                ::core::result::Result::Ok(#ident {
                    #(#inits,)*
                })
            }
        }
    }
}
