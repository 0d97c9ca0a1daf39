//! Query templates: `{{tables.name}}` and `{{schema}}`.
//!
//! A manager with a schema writes `{{tables.users}}` and gets
//! `"accounts"."users"`; the same SQL runs unchanged in another schema or in
//! none. `{{schema}}` is the quoted schema on its own.
//!
//! Every name is quoted, and written for where the placeholder stands, so
//! that neither the schema nor a table name can change the statement beyond
//! naming the object; a malformed or unknown placeholder is an error rather
//! than being passed on to the server. The query is lexed (by the one SQL
//! lexer, `lex`) up to each placeholder:
//!
//! | Where | Expansion |
//! |---|---|
//! | SQL text | `"accounts"."users"` |
//! | `'...'` (and `B''`, `X''`, `N''`) | the same with `'` doubled: `'{{schema}}'` is the text `"accounts"`, and `to_regclass('{{tables.t}}')` finds the table for a schema called `o'Brien` |
//! | `E'...'` | the same with `'` and `\` doubled |
//! | `/* ... */` | as in SQL text; a name containing `/*` or `*/` (comments nest) is an error |
//! | `-- ...` | as in SQL text; a name containing a line break is an error |
//! | `$tag$ ... $tag$` | read as SQL, since a dollar-quoted body usually is (a function or DO body): the rules of the context inside the body, and a name containing the delimiter of any body around it is an error |
//! | `"..."`, `U&"..."`, `U&'...'` | an error: nothing can be written there safely (a `U&''` literal's escape character is set after it, by `UESCAPE`) |
//!
//! Two names must not touch: a placeholder right after a quoted identifier
//! or another placeholder, or right before a `"`, would merge into one name
//! and is an error, as is one right after `U&`. Without a schema
//! `{{schema}}` expands to nothing, wherever it is.
//!
//! (The Python library replaces placeholders as plain text everywhere, which
//! lets a name with a `'` end the literal it stands in.)
//!
//! `{{` is a placeholder only when it looks like one. Text such as
//! `'{{1,2},{3,4}}'` (a two-dimensional array literal) has a `,`, `{` or `}`
//! inside the braces, or does not start with a letter, and is left alone, as
//! the Python library leaves it. Anything between `{{` and `}}` that starts
//! with a letter and has none of those characters must be a valid
//! placeholder.

use std::borrow::Cow;

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, PoisonError, RwLock};

use crate::ident;
use crate::lex::{Context, ContextScanner};
use crate::{Error, Result};

/// How many distinct templated queries a cache keeps. Applications have a
/// fixed set of queries; past this the program is formatting SQL at run
/// time, and caching it would only grow memory.
const MAX_CACHED: usize = 4096;

/// Expands every placeholder in `sql` for `schema` (already validated by the
/// caller; it is used exactly as given, never case-folded).
#[cfg(test)]
pub(crate) fn expand(sql: &str, schema: Option<&str>) -> Result<String> {
    expand_cow(sql, schema).map(Cow::into_owned)
}

/// [`expand`], borrowing `sql` when it has no placeholder to replace.
fn expand_cow<'a>(sql: &'a str, schema: Option<&str>) -> Result<Cow<'a, str>> {
    let mut out: Option<String> = None;
    // Lexes the output as it grows, only once a placeholder is found.
    let mut scanner: Option<ContextScanner> = None;
    // The quoted names of one placeholder, before they are written for
    // their context.
    let mut names = String::new();
    // `sql[..copied]` is already in `out`.
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = sql[from..].find("{{") {
        let open = from + found;
        let Some((placeholder, end)) = parse_placeholder(sql, open)? else {
            // In `{{{x}}}` a placeholder may start at the next brace.
            from = open + 1;
            continue;
        };
        let out = out.get_or_insert_with(|| String::with_capacity(sql.len() + 64));
        out.push_str(&sql[copied..open]);
        names.clear();
        match placeholder {
            Placeholder::Schema => {
                if let Some(schema) = schema {
                    ident::quote_into(&mut names, schema);
                }
            }
            Placeholder::Table(table) => {
                if let Some(schema) = schema {
                    ident::quote_into(&mut names, schema);
                    names.push('.');
                }
                ident::quote_into(&mut names, &table);
            }
        }
        // Only `{{schema}}` without a schema expands to nothing, and then no
        // name comes from outside the query text: nothing to place.
        if !names.is_empty() {
            let scanner = scanner.get_or_insert_with(ContextScanner::new);
            scanner
                .advance(out)
                .map_err(|message| Error::template(open, message))?;
            place(out, &names, scanner, sql.as_bytes().get(end).copied())
                .map_err(|message| Error::template(open, message))?;
            scanner.skip_to(out.len());
        }
        copied = end;
        from = end;
    }
    Ok(match out {
        None => Cow::Borrowed(sql),
        Some(mut out) => {
            out.push_str(&sql[copied..]);
            Cow::Owned(out)
        }
    })
}

/// Appends `names` (quoted identifiers, joined by `.`) to `out`, where the
/// scanner says the end of `out` stands, written so that they stay inside
/// that context; `after` is the query's byte after the placeholder. The
/// error says why they cannot be.
///
/// Every expansion starts and ends with `"`, which can neither continue a
/// token nor form a comment marker or dollar-quote delimiter with the text
/// around it, so what it could do to its context is decided by what it
/// contains: checking that is enough.
fn place(
    out: &mut String,
    names: &str,
    scanner: &ContextScanner,
    after: Option<u8>,
) -> std::result::Result<(), String> {
    let start = out.len();
    match scanner.context() {
        Context::Code => {
            // Two quoted identifiers side by side are one name with a `"`.
            if out.ends_with('"') {
                return Err(
                    "a placeholder right after a quoted name would merge with it \
                            into one identifier: put a space or `.` between them"
                        .into(),
                );
            }
            if after == Some(b'"') {
                return Err(
                    "a quoted name right after a placeholder would merge with it \
                            into one identifier: put a space or `.` between them"
                        .into(),
                );
            }
            out.push_str(names);
        }
        Context::String => push_escaped(out, names, false),
        Context::EscapeString => push_escaped(out, names, true),
        Context::UnicodeString => {
            return Err(
                "a placeholder inside a U&'...' literal cannot be written safely \
                        (UESCAPE may change its escape character): use a '...' literal"
                    .into(),
            );
        }
        Context::QuotedIdent => {
            return Err(
                "a placeholder inside a quoted identifier cannot be expanded safely: \
                        write it on its own, it is quoted already"
                    .into(),
            );
        }
        Context::LineComment => {
            if names.contains(['\n', '\r']) {
                return Err(format!(
                    "the name {names} contains a line break, which would end the `--` comment \
                     around the placeholder"
                ));
            }
            out.push_str(names);
        }
        Context::BlockComment(_) => {
            if names.contains("*/") || names.contains("/*") {
                return Err(format!(
                    "the name {names} contains `/*` or `*/`, which would change the block \
                     comment around the placeholder"
                ));
            }
            out.push_str(names);
        }
    }
    let written = &out[start..];
    if let Some(d) = scanner.dollar_delimiters().find(|d| written.contains(d)) {
        return Err(format!(
            "the name {names} contains `{d}`, which would end the dollar-quoted body around \
             the placeholder"
        ));
    }
    Ok(())
}

/// Appends `text` as the inside of a string literal: `'` doubled, and `\`
/// too in an escape string.
fn push_escaped(out: &mut String, text: &str, backslashes: bool) {
    for c in text.chars() {
        if c == '\'' || (backslashes && c == '\\') {
            out.push(c);
        }
        out.push(c);
    }
}

enum Placeholder {
    Schema,
    /// The table name as the server will see it (folded or unquoted).
    Table(String),
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// Reads the placeholder whose `{{` is at `open`: `Ok(None)` when the text
/// there is not meant as one (see the module documentation), otherwise the
/// placeholder and the offset past its `}}`.
fn parse_placeholder(sql: &str, open: usize) -> Result<Option<(Placeholder, usize)>> {
    let b = sql.as_bytes();
    let unclosed = || Error::template(open, "`{{` is not closed by `}}`");
    let body = open + 2;
    let Some(close) = sql[body..].find("}}").map(|k| body + k) else {
        return Err(unclosed());
    };
    let inner = sql[body..close].trim();

    let word_start = skip_space(b, body);
    let mut i = word_start;
    while b
        .get(i)
        .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_')
    {
        i += 1;
    }
    let word = &sql[word_start..i];
    i = skip_space(b, i);
    let after_word = b.get(i).copied();
    let placeholder_like = matches!(word, "schema" | "tables")
        && (after_word == Some(b'.') || b.get(i..i + 2) == Some(b"}}"));
    if !placeholder_like {
        let starts_like_a_name = inner
            .as_bytes()
            .first()
            .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_');
        let array_like = inner.contains([',', '{', '}']);
        if inner.is_empty() || (starts_like_a_name && !array_like) {
            return Err(Error::template(
                open,
                format!(
                    "unknown placeholder `{{{{{inner}}}}}`: expected `{{{{schema}}}}` or `{{{{tables.name}}}}`"
                ),
            ));
        }
        return Ok(None);
    }

    if word == "schema" {
        // `placeholder_like` saw `}}` or `.`; only the former is valid here.
        if after_word == Some(b'.') {
            return Err(Error::template(
                open,
                format!("unknown placeholder `{{{{{inner}}}}}`: `{{{{schema}}}}` takes no name"),
            ));
        }
        return Ok(Some((Placeholder::Schema, i + 2)));
    }

    if after_word != Some(b'.') {
        return Err(Error::template(
            open,
            "`{{tables}}` needs a table name, as in `{{tables.users}}`",
        ));
    }
    let name_start = skip_space(b, i + 1);
    let name_end = if b.get(name_start) == Some(&b'"') {
        // A quoted name may hold anything, `}}` and spaces included.
        let mut j = name_start + 1;
        loop {
            match b.get(j) {
                None => return Err(unclosed()),
                Some(b'"') if b.get(j + 1) == Some(&b'"') => j += 2,
                Some(b'"') => break j + 1,
                Some(_) => j += 1,
            }
        }
    } else {
        let mut j = name_start;
        while b
            .get(j)
            .is_some_and(|&c| !c.is_ascii_whitespace() && c != b'}')
        {
            j += 1;
        }
        j
    };
    let raw = &sql[name_start..name_end];
    let table =
        ident::parse_name("table", raw).map_err(|e| Error::template(open, e.to_string()))?;
    let end = skip_space(b, name_end);
    match b.get(end..end + 2) {
        Some(b"}}") => Ok(Some((Placeholder::Table(table), end + 2))),
        None if !sql[end..].contains("}}") => Err(unclosed()),
        _ => Err(Error::template(
            open,
            format!("unexpected text after the table name in `{{{{{inner}}}}}`"),
        )),
    }
}

/// Expanded templates of one schema, shared (through an `Arc`) by every
/// manager using that schema.
#[derive(Debug)]
pub(crate) struct TemplateCache {
    schema: Option<Arc<str>>,
    expanded: RwLock<crate::fasthash::FastMap<Box<str>, Arc<str>>>,
    /// Typed builders' statements rendered for this schema, by shape.
    pub(crate) shapes: crate::query::ShapeCache,
    /// COPY targets' columns, shared with every schema of the pool.
    copy_columns: Arc<crate::copy::ColumnCache>,
    /// What this schema's statements did.
    metrics: crate::metrics::Counters,
    /// This schema's named prepared statements.
    named: crate::prepared::NamedStatements,
}

impl TemplateCache {
    /// An empty cache for `schema`, which the caller has validated, with a
    /// COPY column cache of its own.
    #[cfg(test)]
    pub(crate) fn new(schema: Option<Arc<str>>) -> Self {
        Self::for_pool(schema, Arc::default(), Arc::default())
    }

    /// An empty cache for `schema` (validated by the caller) on the pool
    /// whose COPY column cache is `copy_columns` and whose named statements
    /// are `statements`.
    pub(crate) fn for_pool(
        schema: Option<Arc<str>>,
        copy_columns: Arc<crate::copy::ColumnCache>,
        statements: Arc<crate::prepared::PoolStatements>,
    ) -> Self {
        TemplateCache {
            schema,
            expanded: RwLock::new(crate::fasthash::FastMap::default()),
            shapes: crate::query::ShapeCache::default(),
            copy_columns,
            metrics: crate::metrics::Counters::default(),
            named: crate::prepared::NamedStatements::new(statements),
        }
    }

    /// This schema's named prepared statements.
    pub(crate) fn named(&self) -> &crate::prepared::NamedStatements {
        &self.named
    }

    /// The counters of this schema's statements.
    pub(crate) fn metrics(&self) -> &crate::metrics::Counters {
        &self.metrics
    }

    /// The pool's cache of COPY targets' columns.
    pub(crate) fn copy_columns(&self) -> &crate::copy::ColumnCache {
        &self.copy_columns
    }

    /// The schema placeholders expand to, as configured.
    pub(crate) fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// `sql` with its placeholders expanded, not cached: for one-off text
    /// such as a migration's statements, which would only crowd the cache.
    pub(crate) fn expand_once<'a>(&self, sql: &'a str) -> Result<Cow<'a, str>> {
        expand_cow(sql, self.schema())
    }

    /// `sql` with its placeholders expanded. Text without `{{` is returned
    /// as it is, without locking or allocating; expansions are cached by
    /// query text, and errors are not, so a fixed query that fails keeps
    /// failing the same way.
    pub(crate) fn render<'a>(&self, sql: &'a str) -> Result<Rendered<'a>> {
        if !sql.contains("{{") {
            return Ok(Rendered::Plain(sql));
        }
        // A panic while holding the lock cannot leave the map half-updated
        // in a way that matters (each entry is inserted whole), so a
        // poisoned lock is still usable.
        if let Some(hit) = self
            .expanded
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(sql)
        {
            return Ok(Rendered::Expanded(Arc::clone(hit)));
        }
        let expanded: Arc<str> = match expand_cow(sql, self.schema())? {
            // Braces that are not placeholders (array literals): nothing to
            // cache, and the scan is as cheap as a lookup.
            Cow::Borrowed(_) => return Ok(Rendered::Plain(sql)),
            Cow::Owned(s) => s.into(),
        };
        let mut map = self
            .expanded
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // Another thread may have expanded the same query meanwhile; hand out
        // its copy so that every caller shares one allocation.
        if let Some(existing) = map.get(sql) {
            return Ok(Rendered::Expanded(Arc::clone(existing)));
        }
        if map.len() < MAX_CACHED {
            map.insert(sql.into(), Arc::clone(&expanded));
        }
        Ok(Rendered::Expanded(expanded))
    }
}

/// SQL ready to send: the caller's text when it had no placeholders, or the
/// cached expansion.
#[derive(Debug, Clone)]
pub(crate) enum Rendered<'a> {
    /// The query as given.
    Plain(&'a str),
    /// The expanded query, shared with the cache.
    Expanded(Arc<str>),
}

impl Rendered<'_> {
    /// The SQL as an owned, shareable string (the cached one when expanded).
    pub(crate) fn into_shared(self) -> Arc<str> {
        match self {
            Rendered::Plain(s) => Arc::from(s),
            Rendered::Expanded(s) => s,
        }
    }
}

impl Deref for Rendered<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Rendered::Plain(s) => s,
            Rendered::Expanded(s) => s,
        }
    }
}

impl AsRef<str> for Rendered<'_> {
    fn as_ref(&self) -> &str {
        self
    }
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "Mixed Case\"; DROP TABLE x; --";

    fn err_at(sql: &str, schema: Option<&str>) -> (usize, String) {
        match expand(sql, schema) {
            Err(Error::Template(e)) => (e.position, e.message),
            other => panic!("{sql:?}: expected a template error, got {other:?}"),
        }
    }

    #[test]
    fn tables_with_and_without_schema() {
        assert_eq!(
            expand("SELECT * FROM {{tables.users}}", Some("app")).unwrap(),
            "SELECT * FROM \"app\".\"users\""
        );
        assert_eq!(
            expand("SELECT * FROM {{tables.users}}", None).unwrap(),
            "SELECT * FROM \"users\""
        );
        assert_eq!(
            expand(
                "INSERT INTO {{tables.a}} SELECT * FROM {{tables.b}} JOIN {{tables.a}} USING (id)",
                Some("s")
            )
            .unwrap(),
            "INSERT INTO \"s\".\"a\" SELECT * FROM \"s\".\"b\" JOIN \"s\".\"a\" USING (id)"
        );
    }

    #[test]
    fn schema_placeholder() {
        assert_eq!(
            expand("CREATE SCHEMA IF NOT EXISTS {{schema}}", Some("my schema")).unwrap(),
            "CREATE SCHEMA IF NOT EXISTS \"my schema\""
        );
        // Taken exactly as configured, never folded.
        assert_eq!(
            expand("{{schema}}", Some("MySchema")).unwrap(),
            "\"MySchema\""
        );
        assert_eq!(expand("SET x = '{{schema}}'", None).unwrap(), "SET x = ''");
        assert_eq!(expand("{{schema}}.t", None).unwrap(), ".t");
    }

    #[test]
    fn table_names_read_as_identifiers() {
        assert_eq!(expand("{{tables.Users}}", None).unwrap(), "\"users\"");
        assert_eq!(
            expand("{{tables.\"MixedCase\"}}", Some("S")).unwrap(),
            "\"S\".\"MixedCase\""
        );
        assert_eq!(expand("{{tables.\"a\"\"b\"}}", None).unwrap(), "\"a\"\"b\"");
        assert_eq!(expand("{{tables.\"x }} y\"}}", None).unwrap(), "\"x }} y\"");
        assert_eq!(
            expand("{{tables.\"has.dot\"}}", Some("s")).unwrap(),
            "\"s\".\"has.dot\""
        );
    }

    #[test]
    fn hostile_schema_stays_one_name() {
        assert_eq!(
            expand("SELECT * FROM {{tables.users}}", Some(HOSTILE)).unwrap(),
            "SELECT * FROM \"Mixed Case\"\"; DROP TABLE x; --\".\"users\""
        );
        assert_eq!(
            expand("{{schema}}", Some(HOSTILE)).unwrap(),
            "\"Mixed Case\"\"; DROP TABLE x; --\""
        );
    }

    #[test]
    fn whitespace_inside_braces() {
        assert_eq!(
            expand("{{ tables.users }}", Some("a")).unwrap(),
            "\"a\".\"users\""
        );
        assert_eq!(expand("{{  schema }}", Some("a")).unwrap(), "\"a\"");
        assert_eq!(expand("{{\ttables . \"U\"\n}}", None).unwrap(), "\"U\"");
    }

    const CANARY: &str = "x'||nextval('public.canary_seq')||'";

    #[test]
    fn string_literals_double_the_quotes() {
        assert_eq!(
            expand("SELECT '{{tables.t}}' -- {{schema}}", Some("s")).unwrap(),
            "SELECT '\"s\".\"t\"' -- \"s\""
        );
        assert_eq!(
            expand("SELECT to_regclass('{{tables.t}}')", Some("o'Brien")).unwrap(),
            "SELECT to_regclass('\"o''Brien\".\"t\"')"
        );
        // The canary stays text: the literal is not ended.
        assert_eq!(
            expand("SELECT '{{schema}}'::text", Some(CANARY)).unwrap(),
            "SELECT '\"x''||nextval(''public.canary_seq'')||''\"'::text"
        );
        // A backslash is an ordinary character in a standard literal.
        assert_eq!(
            expand("SELECT 'a{{schema}}b'", Some("\\'")).unwrap(),
            "SELECT 'a\"\\''\"b'"
        );
        for prefix in ["B", "x", "N"] {
            assert_eq!(
                expand(&format!("{prefix}'{{{{schema}}}}'"), Some("'")).unwrap(),
                format!("{prefix}'\"''\"'")
            );
        }
        // After a doubled quote, still inside the literal.
        assert_eq!(
            expand("SELECT 'it''s {{schema}}'", Some("'")).unwrap(),
            "SELECT 'it''s \"''\"'"
        );
        // After a literal that ended, back in SQL text.
        assert_eq!(
            expand("SELECT 'a' || {{schema}}", Some("'")).unwrap(),
            "SELECT 'a' || \"'\""
        );
    }

    #[test]
    fn escape_strings_double_quotes_and_backslashes() {
        assert_eq!(
            expand("SELECT E'{{schema}}'", Some("a\\'b")).unwrap(),
            "SELECT E'\"a\\\\''b\"'"
        );
        assert_eq!(
            expand("SELECT e'\\' {{schema}}'", Some("x")).unwrap(),
            "SELECT e'\\' \"x\"'"
        );
        // A backslash right before the placeholder escapes its `"`, and the
        // name still stays inside.
        assert_eq!(
            expand("SELECT E'\\{{schema}}'", Some("'")).unwrap(),
            "SELECT E'\\\"''\"'"
        );
    }

    fn template_error(sql: &str, schema: &str) -> String {
        match expand(sql, Some(schema)) {
            Err(Error::Template(e)) => e.message,
            other => panic!("{sql:?} with {schema:?}: expected a template error, got {other:?}"),
        }
    }

    #[test]
    fn comments_refuse_names_that_would_end_them() {
        assert_eq!(
            expand(
                "SELECT 1 /* {{schema}} /* {{tables.t}} */ */",
                Some("a -- b")
            )
            .unwrap(),
            "SELECT 1 /* \"a -- b\" /* \"a -- b\".\"t\" */ */"
        );
        assert_eq!(
            expand("SELECT 1 -- {{schema}} /*\n", Some("a */ b")).unwrap(),
            "SELECT 1 -- \"a */ b\" /*\n"
        );
        for bad in ["a */ b", "a /* b", "*/"] {
            let got = template_error("SELECT 1 /* {{schema}} */", bad);
            assert!(got.contains("block comment"), "{got}");
        }
        for bad in ["a\nb", "a\rb"] {
            let got = template_error("SELECT 1 -- {{tables.t}}", bad);
            assert!(got.contains("line break"), "{got}");
        }
        // The comment ended at the newline: back in SQL text.
        assert_eq!(
            expand("SELECT 1 -- c\n, {{schema}}", Some("a\nb")).unwrap(),
            "SELECT 1 -- c\n, \"a\nb\""
        );
    }

    #[test]
    fn dollar_bodies_are_read_as_sql() {
        let body = "DO $f$ BEGIN PERFORM 1 FROM {{tables.t}} WHERE '{{schema}}' <> ''; END $f$";
        assert_eq!(
            expand(body, Some("o'B $$")).unwrap(),
            "DO $f$ BEGIN PERFORM 1 FROM \"o'B $$\".\"t\" WHERE '\"o''B $$\"' <> ''; END $f$"
        );
        let got = template_error(body, "a$f$b");
        assert!(got.contains("`$f$`"), "{got}");
        let got = template_error("SELECT $$ {{schema}} $$", "a$$b");
        assert!(got.contains("`$$`"), "{got}");
        // The delimiters of every body around the placeholder count.
        let nested = "SELECT $a$ x $b$ {{schema}} $b$ $a$";
        assert!(template_error(nested, "$a$").contains("`$a$`"));
        assert!(template_error(nested, "$b$").contains("`$b$`"));
        assert!(expand(nested, Some("$c$")).is_ok());
        // `$e$` ends the outer body inside what would close the inner `$$`:
        // the placeholder is in a standard literal at the top.
        assert_eq!(
            expand("$e$$$$$e$$$~$$'$${{schema}}'", Some("'")).unwrap(),
            "$e$$$$$e$$$~$$'$$\"''\"'"
        );
        let got = template_error("SELECT $$$$$${{tables.t}}$$", "$$");
        assert!(got.contains("`$$`"), "{got}");
        // A body ends at the first `$$`, even one that a word or a nested
        // delimiter inside it would have covered: the placeholder after
        // `$x$$` is in SQL text again, and after `\\$$` too.
        assert_eq!(
            expand("SELECT $$ $x$$ {{schema}}", Some("$$")).unwrap(),
            "SELECT $$ $x$$ \"$$\""
        );
        assert_eq!(
            expand("SELECT $$ a$$ {{schema}}", Some("$$")).unwrap(),
            "SELECT $$ a$$ \"$$\""
        );
        assert_eq!(
            expand("SELECT $$ E'\\$$ {{schema}}", Some("'")).unwrap(),
            "SELECT $$ E'\\$$ \"'\""
        );
        // Inside the body, a quoted identifier is still no place for a name.
        let got = template_error("SELECT $$ SELECT \"{{schema}}\" $$", "x");
        assert!(got.contains("quoted identifier"), "{got}");
        // After the body ends, back in SQL text.
        assert_eq!(
            expand("SELECT $$'$$, '{{schema}}'", Some("'")).unwrap(),
            "SELECT $$'$$, '\"''\"'"
        );
    }

    #[test]
    fn quoted_identifiers_and_touching_names_are_refused() {
        for sql in [
            "SELECT \"{{schema}}\"",
            "SELECT \"a{{tables.t}}b\"",
            "SELECT U&\"{{schema}}\"",
            "SELECT \"a\"{{schema}}",
        ] {
            let got = template_error(sql, "s");
            assert!(got.contains("quoted identifier"), "{sql}: {got}");
        }
        for sql in ["{{schema}}{{tables.t}}", "{{schema}}\"t\""] {
            let got = template_error(sql, "s");
            assert!(got.contains("merge"), "{sql}: {got}");
        }
        let got = template_error("SELECT U&'{{schema}}'", "s");
        assert!(got.contains("U&"), "{got}");
        let got = template_error("SELECT U&{{schema}}", "s");
        assert!(got.contains("U&"), "{got}");
        // Separated, they are separate names.
        assert_eq!(
            expand("{{schema}}.{{tables.t}} {{schema}}", Some("s")).unwrap(),
            "\"s\".\"s\".\"t\" \"s\""
        );
        // `xU&` is a word and an operator, not a Unicode prefix.
        assert_eq!(expand("xU&{{schema}}", Some("s")).unwrap(), "xU&\"s\"");
    }

    #[test]
    fn a_name_never_leaves_its_context() {
        let templates = [
            "SELECT {{tables.t}}, '{{schema}}', E'{{schema}}' /* {{schema}} */ -- {{schema}}\n",
            "SELECT $q$ '{{schema}}' /* {{schema}} */ $q$",
        ];
        let names = [
            CANARY,
            "'",
            "''",
            "\\",
            "\\'",
            "\"",
            "\"\"",
            "*/",
            "/*",
            "--",
            "$$",
            "$q$",
            "\n",
            "é\u{202e}😀",
            "x; DROP TABLE y",
        ];
        for template in templates {
            let plain = expand(template, Some("s")).unwrap();
            let shape = |sql: &str| {
                crate::lex::tokens(sql)
                    .map(|t| (t.kind, t.depth))
                    .collect::<Vec<_>>()
            };
            for name in names {
                match expand(template, Some(name)) {
                    Ok(sql) => assert_eq!(shape(&sql), shape(&plain), "{name:?}: {sql}"),
                    Err(Error::Template(_)) => {}
                    Err(e) => panic!("{name:?}: {e}"),
                }
            }
        }
    }

    #[test]
    fn lone_braces_and_non_placeholders_are_left_alone() {
        for sql in [
            "SELECT '{' || '}'",
            "SELECT '}}'",
            "SELECT '{\"a\": {\"b\": 1}}'::jsonb",
            "SELECT '{{1,2},{3,4}}'::int[]",
            "SELECT '{{a,b},{c,d}}'::text[]",
            "SELECT '{{\"a\",\"b\"}}'::text[]",
            "SELECT '{{{1}}}'::int[]",
            "SELECT '{{1}}'::int[]",
            "SELECT 1 } } {",
        ] {
            assert_eq!(expand(sql, Some("s")).unwrap(), sql);
        }
        assert_eq!(
            expand("SELECT '{{1}}', {{tables.t}}", None).unwrap(),
            "SELECT '{{1}}', \"t\""
        );
        assert_eq!(expand("{{{schema}}}", Some("s")).unwrap(), "{\"s\"}");
    }

    #[test]
    fn errors_carry_the_position() {
        let cases: &[(&str, usize, &str)] = &[
            ("SELECT {{foo}}", 7, "unknown placeholder `{{foo}}`"),
            ("SELECT {{tables}}", 7, "needs a table name"),
            ("SELECT 1 FROM {{tables.}}", 14, "must not be empty"),
            ("x {{ table.x }}", 2, "unknown placeholder `{{table.x}}`"),
            ("x {{Schema}}", 2, "unknown placeholder `{{Schema}}`"),
            ("x {{TABLES.\"X\"}}", 2, "unknown placeholder"),
            ("x {{foo bar}}", 2, "unknown placeholder"),
            ("x {{ }}", 2, "unknown placeholder"),
            ("x {{}}", 2, "unknown placeholder"),
            ("x {{schema.x}}", 2, "takes no name"),
            ("SELECT {{tables.users", 7, "not closed"),
            ("SELECT {{tables.\"a}}", 7, "not closed"),
            ("SELECT {{tables.\"a}} b", 7, "not closed"),
            ("SELECT {{", 7, "not closed"),
            ("{{tables.t}} {{", 13, "not closed"),
            ("{{tables.1t}}", 0, "unquoted name"),
            ("{{tables.a-b}}", 0, "unquoted name"),
            ("{{tables.été}}", 0, "unquoted name"),
            ("{{tables.a.b}}", 0, "unquoted name"),
            ("{{tables.\"\"}}", 0, "must not be empty"),
            ("{{tables.\"a\0\"}}", 0, "NUL"),
            ("{{tables.a b}}", 0, "unexpected text after the table name"),
            (
                "{{tables.\"a\"x}}",
                0,
                "unexpected text after the table name",
            ),
        ];
        for &(sql, position, message) in cases {
            let (at, got) = err_at(sql, Some("s"));
            assert_eq!(at, position, "{sql:?}: {got}");
            assert!(got.contains(message), "{sql:?}: {got}");
        }
        let long = format!("ab {{{{tables.{}}}}}", "x".repeat(64));
        let (at, got) = err_at(&long, None);
        assert_eq!(at, 3);
        assert!(got.contains("longer than 63 bytes"), "{got}");
        assert!(expand(&format!("{{{{tables.{}}}}}", "x".repeat(63)), None).is_ok());
    }

    #[test]
    fn error_display() {
        let e = expand("SELECT {{nope}}", None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "template error at byte 7: unknown placeholder `{{nope}}`: \
             expected `{{schema}}` or `{{tables.name}}`"
        );
    }

    #[test]
    fn cache_returns_plain_text_untouched() {
        let cache = TemplateCache::new(Some("s".into()));
        assert_eq!(cache.schema(), Some("s"));
        let sql = "SELECT 1";
        match cache.render(sql).unwrap() {
            Rendered::Plain(s) => assert!(std::ptr::eq(s, sql)),
            other => panic!("expected Plain, got {other:?}"),
        }
        let arrays = "SELECT '{{1,2}}'::int[]";
        assert!(matches!(cache.render(arrays).unwrap(), Rendered::Plain(_)));
        assert_eq!(cache.expanded.read().unwrap().len(), 0);
        assert_eq!(TemplateCache::new(None).schema(), None);
    }

    #[test]
    fn cache_shares_one_expansion() {
        let cache = TemplateCache::new(Some("app".into()));
        let sql = String::from("SELECT * FROM {{tables.users}}");
        let first = cache.render(&sql).unwrap();
        let Rendered::Expanded(a) = first.clone() else {
            panic!("expected Expanded");
        };
        assert_eq!(&*first, "SELECT * FROM \"app\".\"users\"");
        assert_eq!(first.as_ref(), "SELECT * FROM \"app\".\"users\"");
        assert_eq!(first.to_string(), "SELECT * FROM \"app\".\"users\"");
        // Looked up by text, not by address.
        let again = sql.clone();
        let Rendered::Expanded(b) = cache.render(&again).unwrap() else {
            panic!("expected Expanded");
        };
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn cache_does_not_keep_errors() {
        let cache = TemplateCache::new(None);
        assert!(cache.render("{{bad}}").is_err());
        assert!(cache.render("{{bad}}").is_err());
        assert_eq!(cache.expanded.read().unwrap().len(), 0);
    }

    #[test]
    fn cache_is_bounded() {
        let cache = TemplateCache::new(None);
        for i in 0..MAX_CACHED + 10 {
            let sql = format!("SELECT {i} FROM {{{{tables.t}}}}");
            assert_eq!(
                &*cache.render(&sql).unwrap(),
                format!("SELECT {i} FROM \"t\"")
            );
        }
        assert_eq!(cache.expanded.read().unwrap().len(), MAX_CACHED);
        // Past the bound, queries still expand, just without being kept.
        let extra = format!("SELECT {} FROM {{{{tables.t}}}}", MAX_CACHED + 5);
        let Rendered::Expanded(a) = cache.render(&extra).unwrap() else {
            panic!("expected Expanded");
        };
        let Rendered::Expanded(b) = cache.render(&extra).unwrap() else {
            panic!("expected Expanded");
        };
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(&*a, &*b);
    }

    #[test]
    fn cache_is_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<TemplateCache>();
        assert_send_sync::<Rendered<'static>>();
        let cache = Arc::new(TemplateCache::new(Some("t".into())));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let cache = Arc::clone(&cache);
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let sql = format!("SELECT {} FROM {{{{tables.x}}}}", i % 10);
                        assert_eq!(
                            &*cache.render(&sql).unwrap(),
                            format!("SELECT {} FROM \"t\".\"x\"", i % 10)
                        );
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(cache.expanded.read().unwrap().len(), 10);
    }
}
