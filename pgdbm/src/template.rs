//! Query templates: `{{tables.name}}` and `{{schema}}`.
//!
//! A manager with a schema writes `{{tables.users}}` and gets
//! `"accounts"."users"`; the same SQL runs unchanged in another schema or in
//! none. `{{schema}}` is the quoted schema on its own.
//!
//! Like the Python library, expansion is a plain text replacement over the
//! whole query, string literals and comments included: the SQL is not parsed
//! first, so `'{{schema}}'` becomes `'"accounts"'`. Unlike it, every name is
//! quoted, so neither the schema nor a table name can change the statement
//! beyond naming the object, and a malformed or unknown placeholder is an
//! error rather than being passed on to the server.
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
        match placeholder {
            Placeholder::Schema => {
                if let Some(schema) = schema {
                    ident::quote_into(out, schema);
                }
            }
            Placeholder::Table(table) => {
                if let Some(schema) = schema {
                    ident::quote_into(out, schema);
                    out.push('.');
                }
                ident::quote_into(out, &table);
            }
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
}

impl TemplateCache {
    /// An empty cache for `schema`, which the caller has validated, with a
    /// COPY column cache of its own.
    #[cfg(test)]
    pub(crate) fn new(schema: Option<Arc<str>>) -> Self {
        Self::for_pool(schema, Arc::default())
    }

    /// An empty cache for `schema` (validated by the caller) on the pool
    /// whose COPY column cache is `copy_columns`.
    pub(crate) fn for_pool(
        schema: Option<Arc<str>>,
        copy_columns: Arc<crate::copy::ColumnCache>,
    ) -> Self {
        TemplateCache {
            schema,
            expanded: RwLock::new(crate::fasthash::FastMap::default()),
            shapes: crate::query::ShapeCache::default(),
            copy_columns,
        }
    }

    /// The pool's cache of COPY targets' columns.
    pub(crate) fn copy_columns(&self) -> &crate::copy::ColumnCache {
        &self.copy_columns
    }

    /// The schema placeholders expand to, as configured.
    pub(crate) fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
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

    #[test]
    fn replaces_inside_literals_too() {
        assert_eq!(
            expand("SELECT '{{tables.t}}' -- {{schema}}", Some("s")).unwrap(),
            "SELECT '\"s\".\"t\"' -- \"s\""
        );
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
