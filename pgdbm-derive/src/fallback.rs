//! What a derive emits when the input has errors: the errors, plus stub
//! impls (and column constants) so that the user's code that relies on the
//! derive does not add a cascade of "trait not implemented" or "no
//! associated item" errors to the real ones.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;
use syn::ext::IdentExt;

use crate::ast::Container;
use crate::attr::Derive;
use crate::ctxt::Ctxt;
use crate::dummy::wrap_in_const;
use crate::expand_table::{column_constants, key_type};
use crate::naming;

/// `#[derive(Table)]` on an input with errors.
pub(crate) fn table(input: &DeriveInput, error: syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    if !input.generics.params.is_empty() {
        // A stub would need the generics the derive refuses: errors only.
        return errors;
    }
    let cx = Ctxt::new();
    let model = Container::from_ast(&cx, input, Derive::Table);
    // These errors are the ones `error` already holds.
    let _ = cx.check();

    let ident = &input.ident;
    let where_clause = &input.generics.where_clause;
    let (table, key_ty, constants) = match &model {
        Some(model) => (
            model.table.clone(),
            key_type(model),
            column_constants(model),
        ),
        None => (
            naming::snake_case(&ident.unraw().to_string()),
            quote!(()),
            TokenStream::new(),
        ),
    };
    let from_row = from_row_stub(input);
    let stubs = wrap_in_const(quote! {
        #[automatically_derived]
        impl ::pgdbm::__private::Table for #ident #where_clause {
            const TABLE: &'static ::core::primitive::str = #table;
            const COLUMN_DEFS: &'static [::pgdbm::__private::ColumnDef] = &[];
            type Key = #key_ty;

            fn value(&self, _: ::core::primitive::usize) -> ::pgdbm::__private::Param<'_> {
                ::core::unimplemented!()
            }

            fn key_values<'__pgdbm>(
                _: &'__pgdbm Self::Key,
                _: &mut ::pgdbm::__private::Vec<::pgdbm::__private::Param<'__pgdbm>>,
            ) {
                ::core::unimplemented!()
            }
        }
        #constants
        #from_row
    });
    quote! {
        #errors
        #stubs
    }
}

/// `#[derive(FromRow)]` on an input with errors.
pub(crate) fn from_row(input: &DeriveInput, error: syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    if !input.generics.params.is_empty() {
        return errors;
    }
    let stub = wrap_in_const(from_row_stub(input));
    quote! {
        #errors
        #stub
    }
}

fn from_row_stub(input: &DeriveInput) -> TokenStream {
    let ident = &input.ident;
    let where_clause = &input.generics.where_clause;
    quote! {
        #[automatically_derived]
        impl ::pgdbm::__private::FromRow for #ident #where_clause {
            const NAMES: ::core::option::Option<&'static [&'static ::core::primitive::str]> =
                ::core::option::Option::None;

            fn check(
                _: &[::pgdbm::__private::PgColumn],
                _: &[::core::primitive::usize],
            ) -> ::pgdbm::__private::Result<()> {
                ::core::unimplemented!()
            }

            fn decode<__PgdbmRow: ::pgdbm::__private::RowSource>(
                _: &__PgdbmRow,
                _: &[::core::primitive::usize],
            ) -> ::pgdbm::__private::Result<Self> {
                ::core::unimplemented!()
            }
        }
    }
}

/// `#[derive(Enum)]` on an input with errors: the errors, plus `Enum`,
/// `ToSql` and `FromSql` stubs for a non-generic enum, so a `Table` field
/// or a filter using it adds no errors of its own.
pub(crate) fn enum_(input: &DeriveInput, error: syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    if !input.generics.params.is_empty() || !matches!(input.data, syn::Data::Enum(_)) {
        return errors;
    }
    let ident = &input.ident;
    let stubs = wrap_in_const(quote! {
        impl ::pgdbm::__private::Enum for #ident {
            const TYPE_NAME: &'static ::core::primitive::str = "";
            const LABELS: &'static [&'static ::core::primitive::str] = &[];
            const TEXT: ::core::primitive::bool = false;
            fn label(&self) -> &'static ::core::primitive::str {
                ::core::unreachable!()
            }
            fn from_label(_: &::core::primitive::str) -> ::core::option::Option<Self> {
                ::core::unreachable!()
            }
        }
        impl ::pgdbm::__private::ToSql for #ident {
            fn to_sql(
                &self,
                _: &::pgdbm::__private::PgType,
                _: &mut ::pgdbm::__private::BytesMut,
            ) -> ::core::result::Result<::pgdbm::__private::IsNull, ::pgdbm::__private::BoxError> {
                ::core::unreachable!()
            }
            fn accepts(_: &::pgdbm::__private::PgType) -> ::core::primitive::bool {
                ::core::unreachable!()
            }
            fn to_sql_checked(
                &self,
                _: &::pgdbm::__private::PgType,
                _: &mut ::pgdbm::__private::BytesMut,
            ) -> ::core::result::Result<::pgdbm::__private::IsNull, ::pgdbm::__private::BoxError> {
                ::core::unreachable!()
            }
        }
        impl<'__pgdbm> ::pgdbm::__private::FromSql<'__pgdbm> for #ident {
            fn from_sql(
                _: &::pgdbm::__private::PgType,
                _: &'__pgdbm [::core::primitive::u8],
            ) -> ::core::result::Result<Self, ::pgdbm::__private::BoxError> {
                ::core::unreachable!()
            }
            fn accepts(_: &::pgdbm::__private::PgType) -> ::core::primitive::bool {
                ::core::unreachable!()
            }
        }
    });
    quote!(#errors #stubs)
}
