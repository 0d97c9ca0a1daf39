//! SQL identifiers: validating, reading and quoting schema, table and column
//! names.
//!
//! pgdbm always writes identifiers quoted. A quoted identifier can hold any
//! character except NUL, and the only character with a meaning inside it is
//! `"`, which is doubled; so whatever a configured or templated name
//! contains, it stays one name and can never become SQL.

use crate::{Error, Result};

/// The longest identifier PostgreSQL keeps (NAMEDATALEN - 1). The server
/// silently truncates longer names, which could make two configured names
/// refer to the same object, so they are refused instead.
pub(crate) const MAX_LEN: usize = 63;

/// Checks that `name` can be used as an identifier as it is: not empty, at
/// most [`MAX_LEN`] bytes, no NUL, and for a schema not `$user`. `kind`
/// (`"schema"`, `"table"`, `"column"`) names it in the error.
pub(crate) fn validate(kind: &'static str, name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "must not be empty"
    } else if name.len() > MAX_LEN {
        "is longer than 63 bytes (PostgreSQL would truncate it)"
    } else if name.contains('\0') {
        "contains a NUL character"
    } else if kind == "schema" && name == "$user" {
        // search_path reads `$user` (quoted or not) as the role's own schema.
        "is read by search_path as the current role's schema"
    } else {
        return Ok(());
    };
    Err(Error::identifier(kind, name, reason))
}

/// `name` as a quoted identifier: `"name"`, with every `"` doubled.
pub(crate) fn quote(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    quote_into(&mut out, name);
    out
}

/// `text` as a standard SQL string literal: `'text'`, with every `'`
/// doubled (`standard_conforming_strings` is on, as everywhere since
/// PostgreSQL 9.1), for the statements that cannot take parameters (DDL,
/// `DO` blocks, simple-protocol batches).
pub(crate) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Appends `name` to `out` as a quoted identifier.
pub(crate) fn quote_into(out: &mut String, name: &str) {
    out.push('"');
    for (i, part) in name.split('"').enumerate() {
        if i > 0 {
            out.push_str("\"\"");
        }
        out.push_str(part);
    }
    out.push('"');
}

/// `"schema"."table"`, or `"table"` when there is no schema.
// Used by COPY and the typed builders.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn qualified(schema: Option<&str>, table: &str) -> String {
    let mut out = String::with_capacity(table.len() + schema.map_or(0, |s| s.len() + 3) + 2);
    if let Some(schema) = schema {
        quote_into(&mut out, schema);
        out.push('.');
    }
    quote_into(&mut out, table);
    out
}

/// Whether `b` may start an unquoted identifier.
pub(crate) fn is_unquoted_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

/// Whether `b` may continue an unquoted identifier.
pub(crate) fn is_unquoted_continue(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// Reads one identifier the way PostgreSQL does: an unquoted name folds to
/// lower case, a `"quoted"` one keeps its case with `""` read as `"`. The
/// result is validated; `kind` names it in errors.
///
/// Unquoted names are limited to ASCII (`[A-Za-z_][A-Za-z0-9_$]*`): the
/// server's folding of other letters depends on its encoding, so a name with
/// them must be quoted to mean one thing.
pub(crate) fn parse_name(kind: &'static str, text: &str) -> Result<String> {
    let bytes = text.as_bytes();
    if bytes.first() == Some(&b'"') {
        let name = unquote(text)
            .ok_or_else(|| Error::identifier(kind, text, "is not a valid quoted identifier"))?;
        validate(kind, &name)?;
        return Ok(name);
    }
    match bytes.split_first() {
        Some((&first, rest))
            if is_unquoted_start(first) && rest.iter().all(|&b| is_unquoted_continue(b)) =>
        {
            validate(kind, text)?;
            Ok(text.to_ascii_lowercase())
        }
        // Empty names get validate's message.
        None => validate(kind, text).map(|()| String::new()),
        Some(_) => Err(Error::identifier(
            kind,
            text,
            "an unquoted name may contain only ASCII letters, digits, `_` and `$` \
             and must not start with a digit; quote it to use other characters",
        )),
    }
}

/// The content of a quoted identifier that spans all of `text`, or `None`
/// when `text` is not exactly one (unterminated, text after the closing quote).
fn unquote(text: &str) -> Option<String> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut parts = inner.split('"');
    out.push_str(parts.next().unwrap_or_default());
    // Quotes inside must come in pairs: "" is one quote, a lone one would have
    // ended the identifier.
    loop {
        match (parts.next(), parts.next()) {
            (None, _) => return Some(out),
            (Some(""), Some(next)) => {
                out.push('"');
                out.push_str(next);
            }
            _ => return None,
        }
    }
}

/// Reads a possibly schema-qualified table name: `users`, `app.users`,
/// `"My Schema"."My.Table"`, `app."Users"`. Whitespace around the name and
/// around the dot is ignored. Each part is read by [`parse_name`].
pub(crate) fn parse_qualified(text: &str) -> Result<(Option<String>, String)> {
    const KIND: &str = "table";
    let mut parts: [&str; 2] = [""; 2];
    let mut count = 0;
    let mut part_start = 0;
    let mut in_quotes = false;
    let bytes = text.as_bytes();
    for i in 0..=bytes.len() {
        let b = bytes.get(i).copied();
        match b {
            // A doubled quote toggles twice, which is what an escaped quote
            // needs here: it neither opens nor closes.
            Some(b'"') => in_quotes = !in_quotes,
            Some(b'.') | None if !in_quotes => {
                if count == parts.len() {
                    return Err(Error::identifier(
                        KIND,
                        text,
                        "has more than two dot-separated parts (expected table or schema.table)",
                    ));
                }
                let part = text[part_start..i].trim();
                if part.is_empty() {
                    return Err(Error::identifier(KIND, text, "has an empty part"));
                }
                parts[count] = part;
                count += 1;
                part_start = i + 1;
            }
            None => return Err(Error::identifier(KIND, text, "has an unterminated quote")),
            Some(_) => {}
        }
    }
    if count == 1 {
        Ok((None, parse_name(KIND, parts[0])?))
    } else {
        Ok((
            Some(parse_name("schema", parts[0])?),
            parse_name(KIND, parts[1])?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident_err(e: Error) -> (String, String) {
        match e {
            Error::InvalidIdentifier(e) => (e.kind.to_owned(), e.name),
            other => panic!("expected an identifier error, got {other:?}"),
        }
    }

    #[test]
    fn validate_accepts_ordinary_and_odd_names() {
        for name in ["users", "Users", "my table", "a\"b", "été", &"x".repeat(63)] {
            validate("table", name).unwrap();
        }
    }

    #[test]
    fn validate_rejects_empty_long_and_nul() {
        for name in ["", &"x".repeat(64), "a\0b"] {
            let (kind, got) = ident_err(validate("column", name).unwrap_err());
            assert_eq!(kind, "column");
            assert_eq!(got, name);
        }
        // The limit is in bytes, as the server counts it.
        assert!(validate("table", &"é".repeat(32)).is_err());
        assert!(validate("table", &"é".repeat(31)).is_ok());
    }

    #[test]
    fn schema_dollar_user_is_refused() {
        let (kind, name) = ident_err(validate("schema", "$user").unwrap_err());
        assert_eq!((kind.as_str(), name.as_str()), ("schema", "$user"));
        // Only a schema is read by search_path, and only that exact name.
        validate("table", "$user").unwrap();
        validate("schema", "$User").unwrap();
        validate("schema", "$user2").unwrap();
    }

    #[test]
    fn validate_error_message() {
        let e = validate("schema", "").unwrap_err();
        assert_eq!(e.to_string(), "invalid schema name \"\": must not be empty");
    }

    #[test]
    fn quote_doubles_quotes() {
        assert_eq!(quote("users"), "\"users\"");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote("\"\""), "\"\"\"\"\"\"");
        assert_eq!(
            quote("x\"; DROP TABLE y; --"),
            "\"x\"\"; DROP TABLE y; --\""
        );
        let mut out = String::from("SELECT ");
        quote_into(&mut out, "My Col");
        assert_eq!(out, "SELECT \"My Col\"");
    }

    #[test]
    fn qualified_names() {
        assert_eq!(qualified(Some("app"), "users"), "\"app\".\"users\"");
        assert_eq!(qualified(None, "users"), "\"users\"");
        assert_eq!(qualified(Some("s\"x"), "t\"y"), "\"s\"\"x\".\"t\"\"y\"");
    }

    #[test]
    fn parse_name_folds_unquoted() {
        assert_eq!(parse_name("table", "Users").unwrap(), "users");
        assert_eq!(parse_name("table", "_a1$b").unwrap(), "_a1$b");
        assert_eq!(parse_name("table", "ABC_def").unwrap(), "abc_def");
    }

    #[test]
    fn parse_name_keeps_quoted() {
        assert_eq!(parse_name("table", "\"MixedCase\"").unwrap(), "MixedCase");
        assert_eq!(parse_name("table", "\"a\"\"b\"").unwrap(), "a\"b");
        assert_eq!(
            parse_name("table", "\"with space.dot\"").unwrap(),
            "with space.dot"
        );
        assert_eq!(parse_name("table", "\"\"\"\"").unwrap(), "\"");
        assert_eq!(parse_name("table", "\"1st\"").unwrap(), "1st");
    }

    #[test]
    fn parse_name_rejects() {
        for text in [
            "",
            "1abc",
            "a-b",
            "a b",
            " a",
            "a.b",
            "été",
            "$a",
            "\"\"",
            "\"abc",
            "\"",
            "\"a\"b\"",
            "\"a\"x",
            "\"a\0\"",
            &"x".repeat(64),
            &format!("\"{}\"", "X".repeat(64)),
        ] {
            let (kind, name) = ident_err(parse_name("table", text).unwrap_err());
            assert_eq!(kind, "table", "{text:?}");
            assert!(text.contains(name.as_str()), "{text:?} -> {name:?}");
        }
        // 63 bytes is the limit for quoted names too, counted after unescaping.
        let q = format!("\"{}\"", "\"\"".repeat(63));
        assert_eq!(parse_name("table", &q).unwrap(), "\"".repeat(63));
    }

    #[test]
    fn parse_qualified_forms() {
        assert_eq!(parse_qualified("users").unwrap(), (None, "users".into()));
        assert_eq!(parse_qualified("Users").unwrap(), (None, "users".into()));
        assert_eq!(
            parse_qualified("app.users").unwrap(),
            (Some("app".into()), "users".into())
        );
        assert_eq!(
            parse_qualified("\"My Schema\".\"My.Table\"").unwrap(),
            (Some("My Schema".into()), "My.Table".into())
        );
        assert_eq!(
            parse_qualified("s.\"T\"").unwrap(),
            (Some("s".into()), "T".into())
        );
        assert_eq!(
            parse_qualified("  S . \"a\"\".b\"  ").unwrap(),
            (Some("s".into()), "a\".b".into())
        );
        assert_eq!(
            parse_qualified("\"a.b.c\"").unwrap(),
            (None, "a.b.c".into())
        );
    }

    #[test]
    fn parse_qualified_rejects() {
        for text in [
            "",
            "  ",
            "a.b.c",
            "a..b",
            ".a",
            "a.",
            "\"a",
            "a.\"b",
            "\"a\".\"b",
            "a b",
            "a.1b",
            "\"\".b",
        ] {
            let (kind, _) = ident_err(parse_qualified(text).unwrap_err());
            assert!(kind == "table" || kind == "schema", "{text:?}: {kind}");
        }
        let (kind, name) = ident_err(parse_qualified("a.b.c").unwrap_err());
        assert_eq!((kind.as_str(), name.as_str()), ("table", "a.b.c"));
        let (kind, name) = ident_err(parse_qualified("1s.t").unwrap_err());
        assert_eq!((kind.as_str(), name.as_str()), ("schema", "1s"));
    }
}
