//! How generated code checks, reads and binds one column.
//!
//! A field type that cannot be a column must give one clear error at the
//! field: the `assert_column_type` / `assert_json_type` assertion, whose trait
//! carries the message. If the impls then called `check_column::<T>`,
//! `RowSource::read::<T>` and `Param::Ref(&self.field)` directly, each call
//! would add its own "trait bound not satisfied" error for the same type.
//!
//! So each call goes through a zero-sized selector, `__PgdbmColumn<T>` (or
//! `__PgdbmJson<T>`), and method resolution picks the implementation
//! ("autoref specialisation"): `(&__PgdbmColumn::<T>::NEW).read(..)` uses
//! the impl on `__PgdbmColumn<T>`, which does the real work, when `T` meets
//! its bounds, and otherwise the impl on `&__PgdbmColumn<T>`, whose bodies
//! are `unreachable!()`. They are: the bounds of each real impl follow from
//! the assertions emitted for the same fields, so a program where a
//! stand-in is picked does not compile.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::ast::{Container, Field};

/// The selector types and their traits: read operations always, parameter
/// operations when `params` (for `Table`). Only what the fields use.
pub(crate) fn prelude(container: &Container, params: bool) -> TokenStream {
    let columns: Vec<&Field> = container.columns().map(|(_, field)| field).collect();
    let mut out = TokenStream::new();
    if columns.iter().any(|f| !f.is_json()) {
        out.extend(column_prelude(params));
    }
    if columns.iter().any(|f| f.is_json()) {
        out.extend(json_prelude(params));
    }
    out
}

/// One compile-time check per column, spanned at the field's type, so an
/// unsupported type is reported there. `params`: json fields are also bound
/// as parameters, which needs `Debug` (the `ToSql` of `Json`) and `Sync`
/// (implied by `Table: Sync` unless the struct has an `unsafe impl Sync`).
pub(crate) fn assertions(container: &Container, params: bool) -> TokenStream {
    container
        .columns()
        .map(|(_, field)| {
            let span = field.ty.span();
            if !field.is_json() {
                let ty = field.ty;
                let assert = match feature_of(ty) {
                    Some(feature) => quote::format_ident!("assert_{}_column", feature),
                    None => quote::format_ident!("assert_column_type"),
                };
                return quote_spanned! {span=>
                    const _: () = ::pgdbm::__private::#assert::<#ty>();
                };
            }
            let ty = field.value_ty();
            let mut checks = quote_spanned! {span=>
                const _: () = ::pgdbm::__private::assert_json_type::<#ty>();
            };
            if params {
                checks.extend(quote_spanned! {span=>
                    const _: () = {
                        const fn __pgdbm_assert_json_param<
                            T: ::core::fmt::Debug + ::core::marker::Sync,
                        >() {
                        }
                        __pgdbm_assert_json_param::<#ty>()
                    };
                });
            }
            checks
        })
        .collect()
}

/// The pgdbm feature that makes `ty` a column type, when its name (or the
/// name inside an `Option`, `Vec` or `Box`) is one of the types a feature
/// enables: `assertions` then checks it through a trait whose message says
/// to enable that feature. The name decides only the message; the check is
/// the same `ToSql` + `FromSql` as for any other type.
pub(crate) fn feature_of(ty: &syn::Type) -> Option<&'static str> {
    let syn::Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if let syn::PathArguments::AngleBracketed(args) = &last.arguments
        && matches!(last.ident.to_string().as_str(), "Option" | "Vec" | "Box")
    {
        return args.args.iter().find_map(|arg| match arg {
            syn::GenericArgument::Type(inner) => feature_of(inner),
            _ => None,
        });
    }
    Some(match last.ident.to_string().as_str() {
        "Uuid" => "uuid",
        "NaiveDate" | "NaiveTime" | "NaiveDateTime" | "DateTime" => "chrono",
        "Date" | "Time" | "PrimitiveDateTime" | "OffsetDateTime" | "UtcDateTime" => "time",
        "Decimal" => "decimal",
        _ => return None,
    })
}

/// `Result<()>`: whether column `indices[index]` can be read into `field`.
pub(crate) fn check(field: &Field, index: usize) -> TokenStream {
    let selector = selector(field);
    quote_spanned! {field.ty.span()=>
        #selector.check(columns, indices[#index])
    }
}

/// `Result<FieldType>`: the field read from column `indices[index]`.
pub(crate) fn read(field: &Field, index: usize) -> TokenStream {
    let selector = selector(field);
    let method = match (field.is_json(), field.option_inner) {
        (true, Some(_)) => quote!(read_option),
        _ => quote!(read),
    };
    quote_spanned! {field.ty.span()=>
        #selector.#method(row, indices[#index])
    }
}

/// `Param<'_>`: the field behind `reference` (an expression of type
/// `&FieldType`) as a parameter.
pub(crate) fn param(field: &Field, reference: TokenStream) -> TokenStream {
    let selector = selector(field);
    let method = match (field.is_json(), field.option_inner) {
        (true, Some(_)) => quote!(param_option),
        _ => quote!(param),
    };
    quote_spanned! {field.ty.span()=>
        #selector.#method(#reference)
    }
}

/// `(&__PgdbmColumn::<FieldType>::NEW)`, or `(&__PgdbmJson::<T>::NEW)` for
/// a json field of type `T` or `Option<T>`.
fn selector(field: &Field) -> TokenStream {
    let span = field.ty.span();
    if field.is_json() {
        let ty = field.value_ty();
        quote_spanned!(span=> (&__PgdbmJson::<#ty>::NEW))
    } else {
        let ty = field.ty;
        quote_spanned!(span=> (&__PgdbmColumn::<#ty>::NEW))
    }
}

fn column_prelude(params: bool) -> TokenStream {
    let read = quote! {
        /// Selects the operations of a column of type `T`.
        struct __PgdbmColumn<T>(::core::marker::PhantomData<T>);

        impl<T> __PgdbmColumn<T> {
            const NEW: Self = __PgdbmColumn(::core::marker::PhantomData);
        }

        #[allow(dead_code)]
        trait __PgdbmColumnRead {
            type Value;
            fn check(
                &self,
                columns: &[::pgdbm::__private::PgColumn],
                index: ::core::primitive::usize,
            ) -> ::pgdbm::__private::Result<()>;
            fn read<R: ::pgdbm::__private::RowSource>(
                &self,
                row: &R,
                index: ::core::primitive::usize,
            ) -> ::pgdbm::__private::Result<Self::Value>;
        }

        // The bounds of `ColumnType`, which `assert_column_type` checks.
        impl<T> __PgdbmColumnRead for __PgdbmColumn<T>
        where
            T: ::pgdbm::__private::ToSql
                + ::pgdbm::__private::FromSqlOwned
                + ::core::marker::Send
                + ::core::marker::Sync,
        {
            type Value = T;
            fn check(
                &self,
                columns: &[::pgdbm::__private::PgColumn],
                index: ::core::primitive::usize,
            ) -> ::pgdbm::__private::Result<()> {
                ::pgdbm::__private::check_column::<T>(columns, index)
            }
            fn read<R: ::pgdbm::__private::RowSource>(
                &self,
                row: &R,
                index: ::core::primitive::usize,
            ) -> ::pgdbm::__private::Result<T> {
                <R as ::pgdbm::__private::RowSource>::read::<T>(row, index)
            }
        }

        impl<T> __PgdbmColumnRead for &__PgdbmColumn<T> {
            type Value = T;
            fn check(
                &self,
                _: &[::pgdbm::__private::PgColumn],
                _: ::core::primitive::usize,
            ) -> ::pgdbm::__private::Result<()> {
                ::core::unreachable!("not a column type")
            }
            fn read<R: ::pgdbm::__private::RowSource>(
                &self,
                _: &R,
                _: ::core::primitive::usize,
            ) -> ::pgdbm::__private::Result<T> {
                ::core::unreachable!("not a column type")
            }
        }
    };
    if !params {
        return read;
    }
    quote! {
        #read

        trait __PgdbmColumnParam {
            type Value;
            fn param<'a>(&self, value: &'a Self::Value) -> ::pgdbm::__private::Param<'a>;
        }

        impl<T> __PgdbmColumnParam for __PgdbmColumn<T>
        where
            T: ::pgdbm::__private::ToSql
                + ::pgdbm::__private::FromSqlOwned
                + ::core::marker::Send
                + ::core::marker::Sync,
        {
            type Value = T;
            fn param<'a>(&self, value: &'a T) -> ::pgdbm::__private::Param<'a> {
                ::pgdbm::__private::Param::Ref(value)
            }
        }

        impl<T> __PgdbmColumnParam for &__PgdbmColumn<T> {
            type Value = T;
            fn param<'a>(&self, _: &'a T) -> ::pgdbm::__private::Param<'a> {
                ::core::unreachable!("not a column type")
            }
        }
    }
}

fn json_prelude(params: bool) -> TokenStream {
    let read = quote! {
        /// Selects the operations of a json column holding a `T`.
        struct __PgdbmJson<T>(::core::marker::PhantomData<T>);

        impl<T> __PgdbmJson<T> {
            const NEW: Self = __PgdbmJson(::core::marker::PhantomData);
        }

        #[allow(dead_code)]
        trait __PgdbmJsonRead {
            type Value;
            fn check(
                &self,
                columns: &[::pgdbm::__private::PgColumn],
                index: ::core::primitive::usize,
            ) -> ::pgdbm::__private::Result<()>;
            fn read<R: ::pgdbm::__private::RowSource>(
                &self,
                row: &R,
                index: ::core::primitive::usize,
            ) -> ::pgdbm::__private::Result<Self::Value>;
            /// SQL NULL is `None`.
            fn read_option<R: ::pgdbm::__private::RowSource>(
                &self,
                row: &R,
                index: ::core::primitive::usize,
            ) -> ::pgdbm::__private::Result<::core::option::Option<Self::Value>>;
        }

        // Follows from `assert_json_type` (`T: DeserializeOwned`).
        impl<T> __PgdbmJsonRead for __PgdbmJson<T>
        where
            for<'a> ::pgdbm::__private::Json<T>: ::pgdbm::__private::FromSql<'a>,
        {
            type Value = T;
            fn check(
                &self,
                columns: &[::pgdbm::__private::PgColumn],
                index: ::core::primitive::usize,
            ) -> ::pgdbm::__private::Result<()> {
                ::pgdbm::__private::check_column::<::pgdbm::__private::Json<T>>(columns, index)
            }
            fn read<R: ::pgdbm::__private::RowSource>(
                &self,
                row: &R,
                index: ::core::primitive::usize,
            ) -> ::pgdbm::__private::Result<T> {
                let json = <R as ::pgdbm::__private::RowSource>::read::<
                    ::pgdbm::__private::Json<T>,
                >(row, index)?;
                ::core::result::Result::Ok(json.0)
            }
            fn read_option<R: ::pgdbm::__private::RowSource>(
                &self,
                row: &R,
                index: ::core::primitive::usize,
            ) -> ::pgdbm::__private::Result<::core::option::Option<T>> {
                let json = <R as ::pgdbm::__private::RowSource>::read::<
                    ::core::option::Option<::pgdbm::__private::Json<T>>,
                >(row, index)?;
                ::core::result::Result::Ok(::core::option::Option::map(json, |json| json.0))
            }
        }

        impl<T> __PgdbmJsonRead for &__PgdbmJson<T> {
            type Value = T;
            fn check(
                &self,
                _: &[::pgdbm::__private::PgColumn],
                _: ::core::primitive::usize,
            ) -> ::pgdbm::__private::Result<()> {
                ::core::unreachable!("not a json type")
            }
            fn read<R: ::pgdbm::__private::RowSource>(
                &self,
                _: &R,
                _: ::core::primitive::usize,
            ) -> ::pgdbm::__private::Result<T> {
                ::core::unreachable!("not a json type")
            }
            fn read_option<R: ::pgdbm::__private::RowSource>(
                &self,
                _: &R,
                _: ::core::primitive::usize,
            ) -> ::pgdbm::__private::Result<::core::option::Option<T>> {
                ::core::unreachable!("not a json type")
            }
        }
    };
    if !params {
        return read;
    }
    quote! {
        #read

        #[allow(dead_code)]
        trait __PgdbmJsonParam {
            type Value;
            fn param<'a>(&self, value: &'a Self::Value) -> ::pgdbm::__private::Param<'a>;
            /// `None` is SQL NULL, not the json value `null`.
            fn param_option<'a>(
                &self,
                value: &'a ::core::option::Option<Self::Value>,
            ) -> ::pgdbm::__private::Param<'a>;
        }

        // `Serialize` follows from `assert_json_type`, `Debug` and `Sync`
        // from `__pgdbm_assert_json_param`.
        impl<T: ::core::marker::Sync> __PgdbmJsonParam for __PgdbmJson<T>
        where
            for<'a> ::pgdbm::__private::Json<&'a T>: ::pgdbm::__private::ToSql,
        {
            type Value = T;
            fn param<'a>(&self, value: &'a T) -> ::pgdbm::__private::Param<'a> {
                ::pgdbm::__private::Param::Owned(::pgdbm::__private::Box::new(
                    ::pgdbm::__private::Json(value),
                ))
            }
            fn param_option<'a>(
                &self,
                value: &'a ::core::option::Option<T>,
            ) -> ::pgdbm::__private::Param<'a> {
                ::pgdbm::__private::Param::Owned(::pgdbm::__private::Box::new(
                    ::core::option::Option::map(
                        ::core::option::Option::as_ref(value),
                        ::pgdbm::__private::Json,
                    ),
                ))
            }
        }

        impl<T> __PgdbmJsonParam for &__PgdbmJson<T> {
            type Value = T;
            fn param<'a>(&self, _: &'a T) -> ::pgdbm::__private::Param<'a> {
                ::core::unreachable!("not a json type")
            }
            fn param_option<'a>(
                &self,
                _: &'a ::core::option::Option<T>,
            ) -> ::pgdbm::__private::Param<'a> {
                ::core::unreachable!("not a json type")
            }
        }
    }
}
