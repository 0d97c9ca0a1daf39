//! `#[pgdbm::test]`: parse the options and the function into a model, then
//! expand into a `#[test]` that hands the body to `pgdbm::testing::run_test`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ItemFn, LitStr, Meta, Token};

/// Where the test's migrations come from.
enum Source {
    /// `migrations = "dir"`: embedded at compile time.
    Dir(LitStr),
    /// `migrator = expr`: an expression giving `pgdbm::Result<Migrator>`.
    Expr(Box<Expr>),
}

/// The parsed attribute.
struct Options {
    source: Option<Source>,
    fixtures: Vec<LitStr>,
    database: bool,
}

fn parse_options(args: TokenStream) -> syn::Result<Options> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    let mut options = Options {
        source: None,
        fixtures: Vec::new(),
        database: false,
    };
    let mut errors: Option<syn::Error> = None;
    let mut push = |e: syn::Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };
    for meta in metas {
        let key = meta.path().get_ident().map(ToString::to_string);
        match (key.as_deref(), &meta) {
            (Some("migrations"), Meta::NameValue(nv)) if options.source.is_none() => {
                match &nv.value {
                    Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(dir),
                        ..
                    }) => options.source = Some(Source::Dir(dir.clone())),
                    other => push(syn::Error::new(
                        other.span(),
                        "`migrations` takes a directory, relative to Cargo.toml: migrations = \"migrations\"",
                    )),
                }
            }
            (Some("migrator"), Meta::NameValue(nv)) if options.source.is_none() => {
                options.source = Some(Source::Expr(Box::new(nv.value.clone())))
            }
            (Some("migrations" | "migrator"), _) if options.source.is_some() => {
                push(syn::Error::new(
                    meta.span(),
                    "give `migrations = \"dir\"` or `migrator = expr`, once",
                ))
            }
            (Some("fixtures"), Meta::List(list)) => {
                match list.parse_args_with(Punctuated::<LitStr, Token![,]>::parse_terminated) {
                    Ok(files) => options.fixtures.extend(files),
                    Err(e) => push(syn::Error::new(
                        e.span(),
                        "`fixtures` lists SQL files, relative to Cargo.toml: fixtures(\"a.sql\", \"b.sql\")",
                    )),
                }
            }
            (Some("isolation"), Meta::NameValue(nv)) => match &nv.value {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) if s.value() == "schema" => options.database = false,
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) if s.value() == "database" => options.database = true,
                other => push(syn::Error::new(
                    other.span(),
                    "`isolation` is \"schema\" (the default) or \"database\"",
                )),
            },
            _ => push(syn::Error::new(
                meta.span(),
                "unknown option: expected `migrations = \"dir\"`, `migrator = expr`, `fixtures(\"a.sql\", ..)` or `isolation = \"schema\" | \"database\"`",
            )),
        }
    }
    match errors {
        Some(e) => Err(e),
        None => Ok(options),
    }
}

/// The test function, checked: `async`, one or two arguments.
fn check_fn(f: &ItemFn) -> syn::Result<usize> {
    if f.sig.asyncness.is_none() {
        return Err(syn::Error::new(
            f.sig.fn_token.span(),
            "#[pgdbm::test] takes an `async fn(db: pgdbm::Database)`",
        ));
    }
    let n = f.sig.inputs.len();
    if !(1..=2).contains(&n) {
        return Err(syn::Error::new(
            f.sig
                .inputs
                .span()
                .join(f.sig.ident.span())
                .unwrap_or(f.sig.ident.span()),
            "a #[pgdbm::test] function takes `db: pgdbm::Database`, and optionally `ctx: pgdbm::testing::TestContext`",
        ));
    }
    if let Some(g) = f.sig.generics.params.first() {
        return Err(syn::Error::new(
            g.span(),
            "a #[pgdbm::test] function cannot be generic",
        ));
    }
    Ok(n)
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let f: ItemFn = syn::parse2(item)?;
    let options = parse_options(args);
    let arity = check_fn(&f);
    let (options, arity) = match (options, arity) {
        (Ok(o), Ok(a)) => (o, a),
        (Err(mut a), Err(b)) => {
            a.combine(b);
            return Err(a);
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let name = &f.sig.ident;
    let attrs = &f.attrs;
    let vis = &f.vis;
    let mut inner = f.clone();
    inner.attrs.clear();
    inner.vis = syn::Visibility::Inherited;
    inner.sig.ident = syn::Ident::new("__pgdbm_test_body", name.span());
    let (set, migrator) = match &options.source {
        Some(Source::Dir(dir)) => (
            quote! { ::core::concat!(::core::env!("CARGO_PKG_NAME"), ":", #dir) },
            quote! { ::core::option::Option::Some(|| ::pgdbm::embed_migrations!(#dir)) },
        ),
        Some(Source::Expr(expr)) => (
            quote! { ::core::concat!(::core::env!("CARGO_PKG_NAME"), ":", ::core::stringify!(#expr)) },
            quote_spanned! {expr.span()=> ::core::option::Option::Some(|| #expr) },
        ),
        None => (quote! { "" }, quote! { ::core::option::Option::None }),
    };
    let fixtures = options.fixtures.iter().map(|file| {
        quote_spanned! {file.span()=>
            (#file, ::core::include_str!(::core::concat!(::core::env!("CARGO_MANIFEST_DIR"), "/", #file)))
        }
    });
    let isolation = if options.database {
        quote! { ::pgdbm::testing::Isolation::Database }
    } else {
        quote! { ::pgdbm::testing::Isolation::Schema }
    };
    let call = if arity == 2 {
        quote! { |db, ctx| __pgdbm_test_body(db, ctx) }
    } else {
        quote! { |db, _| __pgdbm_test_body(db) }
    };
    Ok(quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis fn #name() {
            #inner
            ::pgdbm::testing::run_test(
                ::pgdbm::testing::TestSpec {
                    name: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
                    set: #set,
                    migrator: #migrator,
                    fixtures: &[#(#fixtures),*],
                    isolation: #isolation,
                },
                #call,
            )
        }
    })
}
