//! `impl Enum`, `impl ToSql` and `impl FromSql` for a fieldless enum. The
//! impls only forward to `::pgdbm::__private`, which holds the logic once.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::dummy::wrap_in_const;
use crate::enum_model;

/// `#[derive(Enum)]`: the impls, or every error in the input.
pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let model = enum_model::model(input)?;
    let ident = model.ident;
    let type_name = &model.type_name;
    let text = model.text;
    let labels: Vec<&str> = model.variants.iter().map(|v| v.label.as_str()).collect();
    let variants: Vec<_> = model.variants.iter().map(|v| v.ident).collect();
    Ok(wrap_in_const(quote! {
        #[automatically_derived]
        impl ::pgdbm::__private::Enum for #ident {
            const TYPE_NAME: &'static ::core::primitive::str = #type_name;
            const LABELS: &'static [&'static ::core::primitive::str] = &[#(#labels),*];
            const TEXT: ::core::primitive::bool = #text;

            fn label(&self) -> &'static ::core::primitive::str {
                match self {
                    #(#ident::#variants => #labels,)*
                }
            }

            fn from_label(label: &::core::primitive::str) -> ::core::option::Option<Self> {
                match label {
                    #(#labels => ::core::option::Option::Some(#ident::#variants),)*
                    _ => ::core::option::Option::None,
                }
            }
        }

        #[automatically_derived]
        impl ::pgdbm::__private::ToSql for #ident {
            fn to_sql(
                &self,
                ty: &::pgdbm::__private::PgType,
                out: &mut ::pgdbm::__private::BytesMut,
            ) -> ::core::result::Result<::pgdbm::__private::IsNull, ::pgdbm::__private::BoxError> {
                ::pgdbm::__private::enum_to_sql(self, ty, out)
            }

            fn accepts(ty: &::pgdbm::__private::PgType) -> ::core::primitive::bool {
                ::pgdbm::__private::enum_accepts::<Self>(ty)
            }

            fn to_sql_checked(
                &self,
                ty: &::pgdbm::__private::PgType,
                out: &mut ::pgdbm::__private::BytesMut,
            ) -> ::core::result::Result<::pgdbm::__private::IsNull, ::pgdbm::__private::BoxError> {
                ::pgdbm::__private::enum_to_sql_checked(self, ty, out)
            }
        }

        #[automatically_derived]
        impl<'__pgdbm> ::pgdbm::__private::FromSql<'__pgdbm> for #ident {
            fn from_sql(
                ty: &::pgdbm::__private::PgType,
                raw: &'__pgdbm [::core::primitive::u8],
            ) -> ::core::result::Result<Self, ::pgdbm::__private::BoxError> {
                ::pgdbm::__private::enum_from_sql::<Self>(ty, raw)
            }

            fn accepts(ty: &::pgdbm::__private::PgType) -> ::core::primitive::bool {
                ::pgdbm::__private::enum_accepts::<Self>(ty)
            }
        }
    }))
}
