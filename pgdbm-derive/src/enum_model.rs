//! `#[derive(Enum)]`'s model: the enum's keys and its variants' labels,
//! read and checked with every error recorded at the user's tokens.

use std::collections::HashMap;

use quote::quote;
use syn::ext::IdentExt;
use syn::{Attribute, Data, DeriveInput, Fields, Ident};

use crate::attr::{self, Flag, PGDBM, Valued};
use crate::ctxt::Ctxt;
use crate::naming;

const TYPE_NAME: &str = "type_name";
const RENAME_ALL: &str = "rename_all";
const TEXT: &str = "text";
const RENAME: &str = "rename";

/// PostgreSQL truncates longer names and refuses longer enum labels.
const MAX_NAME: usize = 63;

const RULES: &[&str] = &[
    "lowercase",
    "UPPERCASE",
    "PascalCase",
    "camelCase",
    "snake_case",
    "SCREAMING_SNAKE_CASE",
    "kebab-case",
    "SCREAMING-KEBAB-CASE",
];

/// A fieldless enum.
pub(crate) struct EnumModel<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) type_name: String,
    pub(crate) text: bool,
    pub(crate) variants: Vec<Variant<'a>>,
}

/// One unit variant and its label.
pub(crate) struct Variant<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) label: String,
}

#[derive(Default)]
struct EnumAttrs {
    type_name: Option<Valued>,
    rename_all: Option<Valued>,
    text: Flag,
}

/// Parses and validates `input`: the model, or every error found.
pub(crate) fn model(input: &DeriveInput) -> syn::Result<EnumModel<'_>> {
    let cx = Ctxt::new();
    let model = build(&cx, input);
    cx.check()?;
    Ok(model.expect("the model is missing only when an error was recorded"))
}

fn build<'a>(cx: &Ctxt, input: &'a DeriveInput) -> Option<EnumModel<'a>> {
    let attrs = enum_attrs(cx, &input.attrs);
    let ident = &input.ident;
    let data = match &input.data {
        Data::Enum(data) => Some(data),
        Data::Struct(data) => {
            let keyword = &data.struct_token;
            cx.error_spanned_by(
                quote!(#keyword #ident),
                "#[derive(Enum)] needs an enum of unit variants; for a struct, derive Table or FromRow",
            );
            None
        }
        Data::Union(data) => {
            let keyword = &data.union_token;
            cx.error_spanned_by(
                quote!(#keyword #ident),
                "#[derive(Enum)] needs an enum of unit variants",
            );
            None
        }
    };
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            "#[derive(Enum)] does not support generic enums; a label maps to one value",
        );
    }
    let data = data?;
    if data.variants.is_empty() {
        cx.error_spanned_by(
            ident,
            "#[derive(Enum)] needs at least one variant: PostgreSQL has no empty enum to map it to",
        );
    }
    let rule = attrs.rename_all.as_ref().and_then(|rule| {
        if RULES.contains(&rule.value.as_str()) {
            Some(rule.value.as_str())
        } else {
            cx.error_spanned_by(
                &rule.lit,
                format_args!(
                    "unknown `rename_all` rule \"{}\"; expected one of {}",
                    rule.value,
                    attr::list(RULES)
                ),
            );
            None
        }
    });
    let mut variants = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            cx.error_spanned_by(
                &variant.fields,
                format_args!(
                    "variant `{}` has fields; #[derive(Enum)] maps unit variants to labels",
                    variant.ident
                ),
            );
        }
        let rename = variant_attrs(cx, &variant.attrs);
        let name = variant.ident.unraw().to_string();
        let label = match (&rename, rule) {
            (Some(rename), _) => rename.value.clone(),
            (None, Some(rule)) => apply(rule, &name),
            (None, None) => name,
        };
        if label.len() > MAX_NAME {
            match &rename {
                Some(rename) => cx.error_spanned_by(
                    &rename.lit,
                    format_args!("an enum label is at most {MAX_NAME} bytes in PostgreSQL"),
                ),
                None => cx.error_spanned_by(
                    &variant.ident,
                    format_args!(
                        "the label `{label}` is longer than PostgreSQL's {MAX_NAME} bytes; \
                         shorten it with #[pgdbm(rename = \"...\")]"
                    ),
                ),
            }
        }
        variants.push((variant, rename, label));
    }
    let mut seen: HashMap<String, &Ident> = HashMap::new();
    for (variant, rename, label) in &variants {
        if let Some(first) = seen.get(label) {
            let message = format!(
                "duplicate label \"{label}\": variant `{first}` already has it; \
                 give one a different #[pgdbm(rename = \"...\")]"
            );
            match rename {
                Some(rename) => cx.error_spanned_by(&rename.lit, message),
                None => cx.error_spanned_by(&variant.ident, message),
            }
        } else {
            seen.insert(label.clone(), &variant.ident);
        }
    }
    let type_name = match &attrs.type_name {
        Some(name) => {
            if name.value.len() > MAX_NAME {
                cx.error_spanned_by(
                    &name.lit,
                    format_args!("a type name is at most {MAX_NAME} bytes in PostgreSQL"),
                );
            }
            name.value.clone()
        }
        None => naming::snake_case(&ident.unraw().to_string()),
    };
    if let (Some(text), Some(name)) = (&attrs.text, &attrs.type_name) {
        let tokens = &name.tokens;
        cx.error_spanned_by(
            quote!(#text #tokens),
            "`type_name` names the PostgreSQL enum type, and a `text` enum has none; remove one",
        );
    }
    Some(EnumModel {
        ident,
        type_name,
        text: attrs.text.is_some(),
        variants: variants
            .into_iter()
            .map(|(variant, _, label)| Variant {
                ident: &variant.ident,
                label,
            })
            .collect(),
    })
}

fn enum_attrs(cx: &Ctxt, attrs: &[Attribute]) -> EnumAttrs {
    let mut out = EnumAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident(PGDBM)) {
        let parsed = attr.parse_nested_meta(|meta| {
            let key = attr::path_name(&meta.path);
            match key.as_str() {
                TYPE_NAME => {
                    if let Some(v) = attr::string_value(cx, &meta, "order_status")? {
                        attr::set_once(cx, &mut out.type_name, v, TYPE_NAME);
                    }
                }
                RENAME_ALL => {
                    if let Some(v) = attr::string_value(cx, &meta, "snake_case")? {
                        attr::set_once(cx, &mut out.rename_all, v, RENAME_ALL);
                    }
                }
                TEXT => attr::set_flag(cx, &meta, &mut out.text, TEXT)?,
                attr::SCHEMA => attr::schema_error(cx, &meta)?,
                RENAME => {
                    cx.error_spanned_by(
                        &meta.path,
                        "`rename` is a variant attribute: put it on a variant, or use \
                         `rename_all` on the enum",
                    );
                    attr::skip_value(&meta)?;
                }
                _ => {
                    cx.error_spanned_by(
                        &meta.path,
                        format_args!(
                            "unknown pgdbm enum attribute `{key}`; expected one of {}",
                            attr::list(&[TYPE_NAME, RENAME_ALL, TEXT])
                        ),
                    );
                    attr::skip_value(&meta)?;
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

fn variant_attrs(cx: &Ctxt, attrs: &[Attribute]) -> Option<Valued> {
    let mut rename = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident(PGDBM)) {
        let parsed = attr.parse_nested_meta(|meta| {
            let key = attr::path_name(&meta.path);
            if key == RENAME {
                if let Some(v) = attr::string_value(cx, &meta, "paid")? {
                    attr::set_once(cx, &mut rename, v, RENAME);
                }
                return Ok(());
            }
            cx.error_spanned_by(
                &meta.path,
                format_args!("unknown pgdbm variant attribute `{key}`; expected `rename`"),
            );
            attr::skip_value(&meta)
        });
        if let Err(error) = parsed {
            cx.syn_error(error);
        }
    }
    rename
}

/// A variant name under a `rename_all` rule, as serde spells them.
pub(crate) fn apply(rule: &str, name: &str) -> String {
    let snake = naming::snake_case(name);
    let words: Vec<&str> = snake.split('_').filter(|w| !w.is_empty()).collect();
    let capitalised = |w: &str| {
        let mut chars = w.chars();
        chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect::<String>())
            .unwrap_or_default()
    };
    match rule {
        "lowercase" => name.to_lowercase(),
        "UPPERCASE" => name.to_uppercase(),
        "PascalCase" => words.iter().map(|w| capitalised(w)).collect(),
        "camelCase" => words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if i == 0 {
                    (*w).to_owned()
                } else {
                    capitalised(w)
                }
            })
            .collect(),
        "snake_case" => words.join("_"),
        "SCREAMING_SNAKE_CASE" => words.join("_").to_uppercase(),
        "kebab-case" => words.join("-"),
        "SCREAMING-KEBAB-CASE" => words.join("-").to_uppercase(),
        _ => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::apply;

    #[test]
    fn rename_rules_spell_labels_as_serde_does() {
        let cases = [
            ("lowercase", "PaidInFull", "paidinfull"),
            ("UPPERCASE", "PaidInFull", "PAIDINFULL"),
            ("PascalCase", "PaidInFull", "PaidInFull"),
            ("camelCase", "PaidInFull", "paidInFull"),
            ("snake_case", "PaidInFull", "paid_in_full"),
            ("SCREAMING_SNAKE_CASE", "PaidInFull", "PAID_IN_FULL"),
            ("kebab-case", "PaidInFull", "paid-in-full"),
            ("SCREAMING-KEBAB-CASE", "PaidInFull", "PAID-IN-FULL"),
            ("snake_case", "HTTPError", "http_error"),
            ("kebab-case", "V2", "v2"),
        ];
        for (rule, name, label) in cases {
            assert_eq!(apply(rule, name), label, "{rule} of {name}");
        }
    }
}
