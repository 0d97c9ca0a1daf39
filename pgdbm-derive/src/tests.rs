//! Unit tests of the `proc_macro2` functions: the model built from an input,
//! every error message, and the shape of the generated code.

use proc_macro2::{Spacing, TokenStream, TokenTree};
use quote::quote;
use syn::DeriveInput;

use crate::ast::{Container, option_inner};
use crate::attr::Derive;
use crate::{expand_from_row, expand_table, valid};

fn input(tokens: TokenStream) -> DeriveInput {
    syn::parse2(tokens).expect("test input parses")
}

/// Every message of a failed derive, in order.
fn table_errors(tokens: TokenStream) -> Vec<String> {
    messages(expand_table::derive(&input(tokens)))
}

fn from_row_errors(tokens: TokenStream) -> Vec<String> {
    messages(expand_from_row::derive(&input(tokens)))
}

fn messages(result: syn::Result<TokenStream>) -> Vec<String> {
    match result {
        Ok(_) => panic!("expected errors, the derive succeeded"),
        Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
    }
}

fn with_model(tokens: TokenStream, derive: Derive, test: impl FnOnce(&Container)) {
    let input = input(tokens);
    let model = valid::model(&input, derive).unwrap_or_else(|e| panic!("model: {e}"));
    test(&model);
}

fn user() -> TokenStream {
    quote! {
        #[derive(Table)]
        #[pgdbm(table = "users")]
        pub struct User {
            #[pgdbm(primary_key, generated)]
            pub id: i64,
            pub email: String,
            #[pgdbm(column = "full_name")]
            pub name: Option<String>,
            #[pgdbm(json)]
            pub prefs: Prefs,
            #[pgdbm(sql_type = "timestamptz")]
            pub seen_at: std::option::Option<Time>,
            #[pgdbm(skip)]
            pub cache: Vec<u8>,
        }
    }
}

#[test]
fn model_of_a_table() {
    with_model(user(), Derive::Table, |model| {
        assert_eq!(model.ident, "User");
        assert_eq!(model.table, "users");
        let columns: Vec<(usize, &str)> = model
            .columns()
            .map(|(i, f)| (i, f.column.as_str()))
            .collect();
        assert_eq!(
            columns,
            [
                (0, "id"),
                (1, "email"),
                (2, "full_name"),
                (3, "prefs"),
                (4, "seen_at")
            ]
        );
        let constants: Vec<String> = model
            .columns()
            .map(|(_, f)| f.const_ident.to_string())
            .collect();
        assert_eq!(constants, ["ID", "EMAIL", "NAME", "PREFS", "SEEN_AT"]);
        let keys: Vec<String> = model.key_fields().map(|f| f.ident.to_string()).collect();
        assert_eq!(keys, ["id"]);

        let field = |name: &str| model.fields.iter().find(|f| f.ident == name).unwrap();
        assert!(field("id").attrs.generated.is_some());
        assert!(field("prefs").is_json());
        assert!(field("cache").is_skipped());
        assert!(field("name").option_inner.is_some());
        assert!(field("seen_at").option_inner.is_some());
        assert!(field("email").option_inner.is_none());
        let sql_type = field("seen_at").attrs.sql_type.as_ref().unwrap();
        assert_eq!(sql_type.value, "timestamptz");
    });
}

#[test]
fn default_names() {
    let tokens = quote! {
        struct OrderLine {
            #[pgdbm(primary_key)]
            order_id: i64,
            #[pgdbm(primary_key)]
            lineNo: i32,
            r#type: String,
        }
    };
    with_model(tokens, Derive::Table, |model| {
        assert_eq!(model.table, "order_line");
        let names: Vec<(&str, String)> = model
            .columns()
            .map(|(_, f)| (f.column.as_str(), f.const_ident.to_string()))
            .collect();
        assert_eq!(
            names,
            [
                ("order_id", "ORDER_ID".to_owned()),
                ("lineNo", "LINE_NO".to_owned()),
                ("type", "TYPE".to_owned()),
            ]
        );
        assert_eq!(model.key_fields().count(), 2);
        assert_eq!(
            expand_table::key_type(model).to_string(),
            quote!((i64, i32)).to_string()
        );
    });
}

#[test]
fn key_types() {
    let no_key = quote!(
        struct Log {
            line: String,
        }
    );
    with_model(no_key, Derive::Table, |model| {
        assert_eq!(
            expand_table::key_type(model).to_string(),
            quote!(::pgdbm::__private::NoPrimaryKey).to_string()
        );
    });
    let one_key = quote!(
        struct Log {
            #[pgdbm(primary_key)]
            id: uuid::Uuid,
        }
    );
    with_model(one_key, Derive::Table, |model| {
        assert_eq!(
            expand_table::key_type(model).to_string(),
            quote!(uuid::Uuid).to_string()
        );
    });
}

#[test]
fn feature_types_are_named_by_their_feature() {
    let feature = |ty: syn::Type| crate::ops::feature_of(&ty);
    assert_eq!(feature(syn::parse_quote!(uuid::Uuid)), Some("uuid"));
    assert_eq!(feature(syn::parse_quote!(Option<Uuid>)), Some("uuid"));
    assert_eq!(
        feature(syn::parse_quote!(Vec<Option<uuid::Uuid>>)),
        Some("uuid")
    );
    assert_eq!(
        feature(syn::parse_quote!(chrono::DateTime<chrono::Utc>)),
        Some("chrono")
    );
    assert_eq!(feature(syn::parse_quote!(NaiveDate)), Some("chrono"));
    assert_eq!(
        feature(syn::parse_quote!(time::OffsetDateTime)),
        Some("time")
    );
    assert_eq!(
        feature(syn::parse_quote!(rust_decimal::Decimal)),
        Some("decimal")
    );
    assert_eq!(feature(syn::parse_quote!(i64)), None);
    assert_eq!(feature(syn::parse_quote!(time::Duration)), None);
    assert_eq!(feature(syn::parse_quote!(Option<String>)), None);

    // The derive asserts such a field through the feature's trait.
    let out = expand_table::derive(&input(quote!(
        struct Session {
            #[pgdbm(primary_key)]
            id: uuid::Uuid,
        }
    )))
    .unwrap()
    .to_string();
    assert!(out.contains("assert_uuid_column :: < uuid :: Uuid >"));
}

#[test]
fn option_detection_is_syntactic() {
    let inner = |ty: syn::Type| option_inner(&ty).map(|t| quote!(#t).to_string());
    assert_eq!(
        inner(syn::parse_quote!(Option<i32>)).as_deref(),
        Some("i32")
    );
    assert_eq!(
        inner(syn::parse_quote!(std::option::Option<String>)).as_deref(),
        Some("String")
    );
    assert_eq!(
        inner(syn::parse_quote!(::core::option::Option<Vec<u8>>)).as_deref(),
        Some("Vec < u8 >")
    );
    assert_eq!(inner(syn::parse_quote!(Vec<Option<i32>>)), None);
    assert_eq!(inner(syn::parse_quote!(my::Option<i32>)), None);
    assert_eq!(inner(syn::parse_quote!(::Option<i32>)), None);
    assert_eq!(inner(syn::parse_quote!(Option)), None);
    assert_eq!(inner(syn::parse_quote!(i32)), None);
}

#[test]
fn from_row_model() {
    let tokens = quote! {
        struct Count {
            table_name: String,
            #[pgdbm(column = "n")]
            count: i64,
            #[pgdbm(skip)]
            note: String,
        }
    };
    with_model(tokens, Derive::FromRow, |model| {
        let columns: Vec<&str> = model.columns().map(|(_, f)| f.column.as_str()).collect();
        assert_eq!(columns, ["table_name", "n"]);
    });
}

#[test]
fn wrong_shapes() {
    assert_eq!(
        table_errors(quote!(
            struct Point(i32, i32);
        )),
        [
            "#[derive(Table)] needs a struct with named fields; tuple structs are not supported (a row's columns are read by name)"
        ]
    );
    assert_eq!(
        from_row_errors(quote!(
            struct Unit;
        )),
        ["#[derive(FromRow)] needs a struct with named fields; unit structs are not supported"]
    );
    assert_eq!(
        table_errors(quote!(
            enum E {
                A,
            }
        )),
        [
            "#[derive(Table)] needs a struct with named fields; enums are not supported (for a column holding an enum, derive pgdbm::Enum on it)"
        ]
    );
    assert_eq!(
        table_errors(quote!(
            union U {
                a: i32,
            }
        )),
        ["#[derive(Table)] needs a struct with named fields; unions are not supported"]
    );
    let generic = "#[derive(Table)] does not support generic structs (lifetimes or type parameters); a row type owns its values";
    assert_eq!(
        table_errors(quote!(
            struct W<T> {
                v: T,
            }
        )),
        [generic]
    );
    assert_eq!(
        table_errors(quote!(
            struct W<'a> {
                v: &'a str,
            }
        )),
        [generic]
    );
}

#[test]
fn container_attribute_errors() {
    assert_eq!(
        table_errors(quote! {
            #[pgdbm(table = "a")]
            #[pgdbm(table = "b")]
            struct T { id: i64 }
        }),
        ["duplicate `table` attribute: `table = \"a\"` is already given; keep one"]
    );
    assert_eq!(
        table_errors(quote! {
            #[pgdbm(schema = "accounts")]
            struct T { id: i64 }
        }),
        ["the schema belongs to the Database the query runs on; remove `schema`"]
    );
    assert_eq!(
        table_errors(quote! {
            #[pgdbm(tabel = "t")]
            struct T { id: i64 }
        }),
        ["unknown pgdbm struct attribute `tabel`; expected `table`"]
    );
    assert_eq!(
        table_errors(quote! {
            #[pgdbm(table = users)]
            struct T { id: i64 }
        }),
        ["expected a string literal, as in `table = \"users\"`"]
    );
    assert_eq!(
        table_errors(quote! {
            #[pgdbm(table = "")]
            struct T { id: i64 }
        }),
        ["`table` cannot be empty"]
    );
    assert_eq!(
        table_errors(quote! {
            #[pgdbm(table)]
            struct T { id: i64 }
        }),
        ["`table` needs a value, as in `table = \"users\"`"]
    );
    assert_eq!(
        table_errors(quote! {
            #[pgdbm(primary_key)]
            struct T { id: i64 }
        }),
        ["`primary_key` is a field attribute: put it on a field, not on the struct"]
    );
    assert_eq!(
        from_row_errors(quote! {
            #[pgdbm(table = "t")]
            struct T { id: i64 }
        }),
        [
            "`table` only applies to #[derive(Table)]; #[derive(FromRow)] reads columns by name from any query, so remove `table` or derive Table instead (it implements FromRow too)"
        ]
    );
    let syntax = table_errors(quote! {
        #[pgdbm]
        struct T { id: i64 }
    });
    assert_eq!(syntax.len(), 1);
    assert!(syntax[0].contains("expected attribute arguments in parentheses"));
}

#[test]
fn field_attribute_errors() {
    assert_eq!(
        table_errors(quote! {
            struct T { #[pgdbm(rename = "x")] id: i64 }
        }),
        [
            "unknown pgdbm field attribute `rename`; expected one of `column`, `primary_key`, `generated`, `skip`, `json`, `sql_type`, `belongs_to`"
        ]
    );
    assert_eq!(
        from_row_errors(quote! {
            struct T { #[pgdbm(rename = "x")] id: i64 }
        }),
        ["unknown pgdbm field attribute `rename`; expected one of `column`, `json`, `skip`"]
    );
    assert_eq!(
        table_errors(quote! {
            struct T { #[pgdbm(table = "x")] id: i64 }
        }),
        ["`table` is a struct attribute: put `#[pgdbm(table = \"...\")]` on the struct"]
    );
    assert_eq!(
        table_errors(quote! {
            struct T { #[pgdbm(primary_key, primary_key)] id: i64 }
        }),
        ["duplicate `primary_key` attribute"]
    );
    assert_eq!(
        table_errors(quote! {
            struct T { #[pgdbm(column = "a")] #[pgdbm(column = "b")] id: i64 }
        }),
        ["duplicate `column` attribute: `column = \"a\"` is already given; keep one"]
    );
    assert_eq!(
        table_errors(quote! {
            struct T { #[pgdbm(generated = true)] id: i64 }
        }),
        ["`generated` takes no value; write `#[pgdbm(generated)]`"]
    );
    assert_eq!(
        table_errors(quote! {
            struct T { #[pgdbm(schema = "s")] id: i64 }
        }),
        ["the schema belongs to the Database the query runs on; remove `schema`"]
    );
    for key in ["primary_key", "generated"] {
        let key_ident = syn::Ident::new(key, proc_macro2::Span::call_site());
        assert_eq!(
            from_row_errors(quote! {
                struct T { #[pgdbm(#key_ident)] id: i64 }
            }),
            [format!(
                "`{key}` only applies to #[derive(Table)]; remove it, or derive Table instead (it implements FromRow too)"
            )]
        );
    }
    assert_eq!(
        from_row_errors(quote! {
            struct T { #[pgdbm(sql_type = "int8")] id: i64 }
        }),
        [
            "`sql_type` only applies to #[derive(Table)]; remove it, or derive Table instead (it implements FromRow too)"
        ]
    );
}

#[test]
fn cross_field_errors() {
    assert_eq!(
        table_errors(quote! {
            struct T {
                name: String,
                #[pgdbm(column = "name")]
                display_name: String,
            }
        }),
        [
            "duplicate column name `name`: field `name` already maps to it; rename one with `#[pgdbm(column = \"...\")]`"
        ]
    );
    assert_eq!(
        from_row_errors(quote! {
            struct T {
                #[pgdbm(column = "x")]
                a: i32,
                #[pgdbm(column = "x")]
                b: i32,
                #[pgdbm(column = "x")]
                c: i32,
            }
        }),
        [
            "duplicate column name `x`: field `a` already maps to it; rename one with `#[pgdbm(column = \"...\")]`",
            "duplicate column name `x`: field `a` already maps to it; rename one with `#[pgdbm(column = \"...\")]`",
        ]
    );
    // A skipped field has no column, so it cannot clash.
    assert!(
        expand_from_row::derive(&input(quote! {
            struct T { name: String, #[pgdbm(skip)] r#name2: String }
        }))
        .is_ok()
    );
    assert_eq!(
        table_errors(quote! {
            struct T {
                #[pgdbm(column = "a")]
                aB: i32,
                #[pgdbm(column = "b")]
                a_b: i32,
            }
        }),
        ["fields `aB` and `a_b` would both get the column constant `T::A_B`; rename one of them"]
    );
    assert_eq!(
        table_errors(quote! {
            struct T { #[pgdbm(primary_key, skip)] id: i64, name: String }
        }),
        [
            "`primary_key` cannot be combined with `skip`: a skipped field is not a column, so it cannot be part of the primary key"
        ]
    );
    assert_eq!(
        table_errors(quote! {
            struct T {
                id: i64,
                #[pgdbm(skip, json, column = "c", generated, sql_type = "bytea")]
                cache: Vec<u8>,
            }
        }),
        [
            "`column` cannot be combined with `skip`: a skipped field is not a column",
            "`generated` cannot be combined with `skip`: a skipped field is not a column",
            "`json` cannot be combined with `skip`: a skipped field is not a column",
            "`sql_type` cannot be combined with `skip`: a skipped field is not a column",
        ]
    );
    assert_eq!(
        table_errors(quote! {
            struct T { #[pgdbm(skip)] cache: Vec<u8> }
        }),
        ["#[derive(Table)] needs at least one column, but every field is `skip`"]
    );
    assert_eq!(
        table_errors(quote!(
            struct T {}
        )),
        ["#[derive(Table)] needs at least one column, but the struct has no fields"]
    );
    // FromRow may read nothing.
    assert!(
        expand_from_row::derive(&input(quote!(
            struct T {}
        )))
        .is_ok()
    );
}

#[test]
fn all_errors_are_reported_at_once() {
    let errors = table_errors(quote! {
        #[pgdbm(table = "a", schema = "s")]
        struct T {
            #[pgdbm(primary_key, auto_increment)]
            id: i64,
            #[pgdbm(column = "id")]
            other: i64,
            #[pgdbm(skip, json)]
            cache: Vec<u8>,
        }
    });
    assert_eq!(
        errors,
        [
            "the schema belongs to the Database the query runs on; remove `schema`",
            "unknown pgdbm field attribute `auto_increment`; expected one of `column`, `primary_key`, `generated`, `skip`, `json`, `sql_type`, `belongs_to`",
            "`json` cannot be combined with `skip`: a skipped field is not a column",
            "duplicate column name `id`: field `id` already maps to it; rename one with `#[pgdbm(column = \"...\")]`",
        ]
    );
}

/// Every path the generated code starts with `::` names `pgdbm::__private`
/// or `core`, and the output is valid Rust.
fn assert_hygienic(tokens: TokenStream) {
    syn::parse2::<syn::File>(tokens.clone()).expect("the generated code parses");
    let mut flat = Vec::new();
    flatten(tokens, &mut flat);
    for (i, window) in flat.windows(3).enumerate() {
        let [
            TokenTree::Punct(a),
            TokenTree::Punct(b),
            TokenTree::Ident(next),
        ] = window
        else {
            continue;
        };
        if a.as_char() != ':' || b.as_char() != ':' || a.spacing() != Spacing::Joint {
            continue;
        }
        let leading = match i.checked_sub(1).map(|p| &flat[p]) {
            None => true,
            Some(TokenTree::Ident(_)) => {
                // `'static ::core` is leading; `Self::Key` is not.
                matches!(i.checked_sub(2).map(|p| &flat[p]), Some(TokenTree::Punct(p)) if p.as_char() == '\'')
            }
            Some(TokenTree::Punct(p)) => p.as_char() != '>',
            Some(_) => true,
        };
        if !leading {
            continue;
        }
        match next.to_string().as_str() {
            "core" => {}
            "pgdbm" => {
                let rest: Vec<String> = flat[i + 3..i + 6].iter().map(|t| t.to_string()).collect();
                assert_eq!(
                    rest,
                    [":", ":", "__private"],
                    "a path into pgdbm outside __private"
                );
            }
            other => panic!("generated code names `::{other}`"),
        }
    }
}

fn flatten(tokens: TokenStream, out: &mut Vec<TokenTree>) {
    for token in tokens {
        match token {
            TokenTree::Group(group) => {
                // A marker between groups, so paths do not run across them.
                out.push(TokenTree::Literal(proc_macro2::Literal::u8_suffixed(0)));
                flatten(group.stream(), out);
                out.push(TokenTree::Literal(proc_macro2::Literal::u8_suffixed(0)));
            }
            other => out.push(other),
        }
    }
}

#[test]
fn generated_code_names_only_the_private_module_and_core() {
    let table = expand_table::derive(&input(user())).unwrap();
    assert_hygienic(table.clone());
    let from_row = expand_from_row::derive(&input(user_for_from_row())).unwrap();
    assert_hygienic(from_row);

    let text = table.to_string();
    for expected in [
        "const TABLE : & 'static :: core :: primitive :: str = \"users\"",
        "ColumnDef :: new (\"id\") . primary_key () . generated ()",
        "ColumnDef :: new (\"prefs\") . json ()",
        "ColumnDef :: new (\"seen_at\") . sql_type (\"timestamptz\")",
        "type Key = i64 ;",
        "Some (& [\"id\" , \"email\" , \"full_name\" , \"prefs\" , \"seen_at\"])",
        "cache : :: core :: default :: Default :: default ()",
        "# [doc = \"Column `full_name`.\"] pub const NAME : :: pgdbm :: __private :: Column < User , String , Option < String > >",
        "pub const PREFS : :: pgdbm :: __private :: Column < User , :: pgdbm :: __private :: Json < Prefs > >",
        "pub const ID : :: pgdbm :: __private :: Column < User , i64 >",
        "const _ : () = :: pgdbm :: __private :: assert_column_type :: < i64 > ()",
        "const _ : () = :: pgdbm :: __private :: assert_json_type :: < Prefs > ()",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
    assert!(!text.contains("CACHE"), "a skipped field gets no constant");
}

fn user_for_from_row() -> TokenStream {
    quote! {
        struct User {
            id: i64,
            #[pgdbm(column = "full_name")]
            name: Option<String>,
            #[pgdbm(json)]
            prefs: Option<Prefs>,
            #[pgdbm(skip)]
            cache: Vec<u8>,
        }
    }
}

#[test]
fn fallback_keeps_the_errors_and_adds_stubs() {
    let tokens = quote! {
        #[pgdbm(tabel = "x")]
        struct User { #[pgdbm(primary_key)] id: i64, email: String }
    };
    let input = input(tokens);
    let error = expand_table::derive(&input).unwrap_err();
    let out = crate::fallback::table(&input, error).to_string();
    assert!(out.contains("compile_error"));
    assert!(out.contains("unknown pgdbm struct attribute `tabel`"));
    assert!(out.contains("impl :: pgdbm :: __private :: Table for User"));
    assert!(out.contains("impl :: pgdbm :: __private :: FromRow for User"));
    assert!(out.contains("type Key = i64"));
    assert!(out.contains("const EMAIL"));

    // A generic struct gets no stub: it would need the generics.
    let generic = self::input(quote!(
        struct W<T> {
            v: T,
        }
    ));
    let error = expand_from_row::derive(&generic).unwrap_err();
    let out = crate::fallback::from_row(&generic, error).to_string();
    assert!(out.contains("compile_error"));
    assert!(!out.contains("impl"));
}

#[test]
#[should_panic(expected = "generated code names `::std`")]
fn hygiene_check_catches_other_crates() {
    assert_hygienic(quote! {
        fn f() -> &'static ::core::primitive::str { ::std::mem::drop(1); "" }
    });
}
