//! A small lexer for PostgreSQL SQL text.
//!
//! Every check pgdbm makes on query text (is it blank, which statement is it,
//! does it already have a RETURNING clause) goes through this one lexer, so
//! string literals, dollar quotes, quoted identifiers and comments are
//! skipped the same way everywhere and a word inside them is never taken for
//! a keyword.
//!
//! It follows the server's lexical rules with `standard_conforming_strings`
//! on (the default since PostgreSQL 9.1): backslashes escape only in
//! `E'...'` strings. It never fails: an unterminated literal, quoted
//! identifier or comment runs to the end of the text, and the server reports
//! the real error when the statement is sent.
//!
//! Every token boundary falls next to an ASCII byte or at the end of the
//! text (non-ASCII characters only ever appear inside words, literals and
//! comments, which end on ASCII delimiters), so slicing the text by token
//! offsets cannot split a character.

use crate::ident;

/// What kind of token a [`Token`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A keyword or unquoted identifier.
    Word,
    /// A quoted identifier, `"..."` or `U&"..."`.
    QuotedIdent,
    /// A string constant: `'...'`, `E'...'`, `U&'...'`, `B'...'`, `X'...'`,
    /// `N'...'`, `$$...$$` or `$tag$...$tag$`.
    String,
    /// A numeric constant: `42`, `1.5e-3`, `.5`, `0x1F`, `1_000`.
    Number,
    /// A positional parameter, `$1`.
    Param,
    /// `(`, `)`, `[`, `]`, `,`, `;`, `.`, `:` or `::`.
    Punct,
    /// A run of operator characters: `=`, `<>`, `||`, `->>`, ...
    Operator,
    /// Any other single character (`{`, `\`, a `$` that starts nothing).
    Other,
}

/// One token of SQL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub(crate) kind: TokenKind,
    /// The token as written, quotes and prefixes included.
    pub(crate) text: &'a str,
    /// Byte offset of the token in the text.
    pub(crate) start: usize,
    /// Parenthesis nesting depth: 0 at top level. A `(` and its `)` have the
    /// depth of the text around them.
    pub(crate) depth: u32,
}

impl Token<'_> {
    /// Byte offset just past the token.
    pub(crate) fn end(&self) -> usize {
        self.start + self.text.len()
    }

    /// Whether this is the punctuation `p`.
    pub(crate) fn is_punct(&self, p: &str) -> bool {
        self.kind == TokenKind::Punct && self.text == p
    }

    /// Whether this is the word `w`, compared as the server compares
    /// keywords (ASCII case-insensitive).
    pub(crate) fn is_word(&self, w: &str) -> bool {
        self.kind == TokenKind::Word && self.text.eq_ignore_ascii_case(w)
    }
}

/// The tokens of `sql`, skipping whitespace and comments.
pub(crate) fn tokens(sql: &str) -> impl Iterator<Item = Token<'_>> {
    Tokens {
        sql,
        pos: 0,
        depth: 0,
    }
}

/// Whether `sql` holds no statement: only whitespace, comments and `;`.
pub(crate) fn is_blank(sql: &str) -> bool {
    // Nearly every statement starts with a letter: no need to lex it.
    match sql.trim_start().as_bytes().first() {
        None => true,
        Some(b) if b.is_ascii_alphabetic() => false,
        Some(_) => tokens(sql).all(|t| t.is_punct(";")),
    }
}

/// If `sql` is exactly `INSERT .. VALUES ($1, $2, .., $n)` (the tuple last,
/// parameters in order, nothing after it but `;`), the byte offset just past
/// `VALUES` and `n`: such a statement can carry many rows at once.
pub(crate) fn single_row_insert(sql: &str) -> Option<(usize, usize)> {
    let mut tokens = tokens(sql);
    if !tokens.next()?.is_word("INSERT") {
        return None;
    }
    let values = tokens.find(|t| t.depth == 0 && t.is_word("VALUES"))?;
    if !tokens.next()?.is_punct("(") {
        return None;
    }
    let mut arity = 0;
    loop {
        let param = tokens.next()?;
        if param.kind != TokenKind::Param || param.text[1..].parse::<usize>().ok()? != arity + 1 {
            return None;
        }
        arity += 1;
        let next = tokens.next()?;
        if next.is_punct(")") {
            break;
        }
        if !next.is_punct(",") {
            return None;
        }
    }
    tokens
        .all(|t| t.is_punct(";"))
        .then_some((values.end(), arity))
}

/// Where to do what a session-state statement was meant to do.
const TRANSACTION_ADVICE: &str = "use db.transaction() (or acquire() for a connection of your own)";
const SETTING_ADVICE: &str =
    "put it in server_settings or init_commands, or run it on a connection from acquire()";
const SESSION_ADVICE: &str = "run it on a connection of your own from acquire()";

/// If `sql` starts with a statement that changes the state of the session
/// (settings, transaction control, LISTEN, prepared statements, temporary
/// objects), its keyword and where to run it instead.
pub(crate) fn session_statement(sql: &str) -> Option<(String, &'static str)> {
    let mut words = tokens(sql).filter(|t| t.kind == TokenKind::Word);
    let first = words.next()?;
    // Keywords are at most 10 bytes: upper-case them on the stack, since
    // this runs on every call of a multiplexed manager.
    let mut upper = [0u8; 10];
    let keyword = match first.text.as_bytes() {
        word if word.len() <= upper.len() => {
            upper[..word.len()].copy_from_slice(word);
            upper[..word.len()].make_ascii_uppercase();
            std::str::from_utf8(&upper[..word.len()]).unwrap_or("")
        }
        _ => return None,
    };
    let advice = match keyword {
        "SET" | "RESET" => SETTING_ADVICE,
        "BEGIN" | "START" | "COMMIT" | "END" | "ROLLBACK" | "ABORT" | "SAVEPOINT" | "RELEASE" => {
            TRANSACTION_ADVICE
        }
        "DISCARD" | "LISTEN" | "UNLISTEN" | "PREPARE" | "DEALLOCATE" | "DECLARE" | "CLOSE" => {
            SESSION_ADVICE
        }
        "CREATE" => {
            // CREATE [GLOBAL | LOCAL] TEMP[ORARY] ...
            let next = words.find(|w| !w.is_word("GLOBAL") && !w.is_word("LOCAL"))?;
            if next.is_word("TEMP") || next.is_word("TEMPORARY") {
                return Some((format!("CREATE {}", next.text), SESSION_ADVICE));
            }
            return None;
        }
        _ => return None,
    };
    Some((first.text.to_owned(), advice))
}

/// [`session_statement`] as an error.
pub(crate) fn refuse_session_state(sql: &str) -> crate::Result<()> {
    match session_statement(sql) {
        None => Ok(()),
        Some((statement, advice)) => Err(crate::Error::SessionState(Box::new(
            crate::error::SessionStateError { statement, advice },
        ))),
    }
}

/// Whether `sql` has a RETURNING clause of its own: the word `returning`
/// outside any parentheses, so that one inside a CTE or subquery does not
/// count, nor a literal, comment or `"returning"` column.
pub(crate) fn has_top_level_returning(sql: &str) -> bool {
    tokens(sql).any(|t| t.depth == 0 && t.is_word("returning"))
}

/// `sql` with ` RETURNING "column"` inserted after its last token other than
/// `;`, so that trailing semicolons, comments and whitespace stay after it
/// (a trailing `-- comment` would otherwise swallow the clause).
pub(crate) fn append_returning(sql: &str, column: &str) -> String {
    let at = tokens(sql)
        .filter(|t| !t.is_punct(";"))
        .last()
        .map_or(0, |t| t.end());
    let mut out = String::with_capacity(sql.len() + column.len() + 14);
    out.push_str(&sql[..at]);
    if at > 0 {
        out.push(' ');
    }
    out.push_str("RETURNING ");
    ident::quote_into(&mut out, column);
    if at == 0 && !sql.is_empty() {
        out.push(' ');
    }
    out.push_str(&sql[at..]);
    out
}

struct Tokens<'a> {
    sql: &'a str,
    pos: usize,
    depth: u32,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let b = self.sql.as_bytes();
        let start = skip_trivia(b, self.pos);
        if start >= b.len() {
            self.pos = b.len();
            return None;
        }
        let (kind, end) = lex_one(self.sql, start);
        self.pos = end;
        let mut depth = self.depth;
        if kind == TokenKind::Punct {
            match b[start] {
                b'(' => self.depth = self.depth.saturating_add(1),
                b')' => {
                    self.depth = self.depth.saturating_sub(1);
                    depth = self.depth;
                }
                _ => {}
            }
        }
        Some(Token {
            kind,
            text: &self.sql[start..end],
            start,
            depth,
        })
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

/// Non-ASCII bytes count as letters, as in the server's lexer, so a
/// multi-byte character is always consumed whole inside a word.
fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_word_continue(b: u8) -> bool {
    is_word_start(b) || b.is_ascii_digit() || b == b'$'
}

/// Unlike words, dollar-quote tags may not contain `$`.
fn is_tag_continue(b: u8) -> bool {
    is_word_start(b) || b.is_ascii_digit()
}

fn is_op_char(b: u8) -> bool {
    matches!(
        b,
        b'+' | b'-'
            | b'*'
            | b'/'
            | b'<'
            | b'>'
            | b'='
            | b'~'
            | b'!'
            | b'@'
            | b'#'
            | b'%'
            | b'^'
            | b'&'
            | b'|'
            | b'`'
            | b'?'
    )
}

fn starts_comment(b: &[u8], i: usize) -> bool {
    matches!(b.get(i..i + 2), Some(b"--" | b"/*"))
}

/// The offset of the next token: past whitespace and comments.
fn skip_trivia(b: &[u8], mut i: usize) -> usize {
    loop {
        match b.get(i..i + 2) {
            Some(b"--") => {
                i += 2;
                while i < b.len() && b[i] != b'\n' && b[i] != b'\r' {
                    i += 1;
                }
            }
            Some(b"/*") => i = skip_block_comment(b, i + 2),
            _ => match b.get(i) {
                Some(&c) if is_space(c) => i += 1,
                _ => return i,
            },
        }
    }
}

/// Past the end of a block comment whose `/*` ends at `i`. Block comments
/// nest in PostgreSQL (unlike the SQL standard's C-like reading), so
/// `/* a /* b */ c */` is one comment.
fn skip_block_comment(b: &[u8], mut i: usize) -> usize {
    let mut depth = 1u32;
    while i < b.len() {
        match b.get(i..i + 2) {
            Some(b"/*") => {
                depth += 1;
                i += 2;
            }
            Some(b"*/") => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    b.len()
}

/// Past the closing `quote` of a literal whose body starts at `i`. A doubled
/// quote is an escaped one; with `backslash`, so is `\` followed by anything.
fn skip_quoted(b: &[u8], mut i: usize, quote: u8, backslash: bool) -> usize {
    while i < b.len() {
        let c = b[i];
        if backslash && c == b'\\' {
            i += 2;
        } else if c == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// The end of a dollar-quote opening delimiter (`$$` or `$tag$`) at `i`.
fn dollar_delimiter(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if b.get(j).is_some_and(|&c| is_word_start(c)) {
        j += 1;
        while b.get(j).is_some_and(|&c| is_tag_continue(c)) {
            j += 1;
        }
    }
    (b.get(j) == Some(&b'$')).then_some(j + 1)
}

fn skip_number(b: &[u8], i: usize) -> usize {
    let digits = |mut j: usize, ok: fn(u8) -> bool| {
        while b.get(j).is_some_and(|&c| ok(c) || c == b'_') {
            j += 1;
        }
        j
    };
    if b[i] == b'0'
        && matches!(b.get(i + 1), Some(b'x' | b'X' | b'o' | b'O' | b'b' | b'B'))
        && b.get(i + 2).is_some_and(|c| c.is_ascii_alphanumeric())
    {
        return digits(i + 2, |c| c.is_ascii_alphanumeric());
    }
    let mut j = digits(i, |c| c.is_ascii_digit());
    // `1..5` is not a number followed by `.5`; leave the dots alone.
    if b.get(j) == Some(&b'.') && b.get(j + 1) != Some(&b'.') {
        j = digits(j + 1, |c| c.is_ascii_digit());
    }
    if matches!(b.get(j), Some(b'e' | b'E')) {
        let mut k = j + 1;
        if matches!(b.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        if b.get(k).is_some_and(u8::is_ascii_digit) {
            j = digits(k, |c| c.is_ascii_digit());
        }
    }
    j
}

/// The kind and end of the token starting at `i` (not whitespace or a
/// comment).
fn lex_one(sql: &str, i: usize) -> (TokenKind, usize) {
    use TokenKind::*;
    let b = sql.as_bytes();
    let c = b[i];
    let next = b.get(i + 1).copied();
    match c {
        b'\'' => (String, skip_quoted(b, i + 1, b'\'', false)),
        b'"' => (QuotedIdent, skip_quoted(b, i + 1, b'"', false)),
        b'E' | b'e' if next == Some(b'\'') => (String, skip_quoted(b, i + 2, b'\'', true)),
        b'B' | b'b' | b'X' | b'x' | b'N' | b'n' if next == Some(b'\'') => {
            (String, skip_quoted(b, i + 2, b'\'', false))
        }
        b'U' | b'u' if next == Some(b'&') => match b.get(i + 2) {
            Some(b'\'') => (String, skip_quoted(b, i + 3, b'\'', false)),
            Some(b'"') => (QuotedIdent, skip_quoted(b, i + 3, b'"', false)),
            _ => (Word, i + 1),
        },
        b'$' if next.is_some_and(|d| d.is_ascii_digit()) => {
            let mut j = i + 1;
            while b.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            (Param, j)
        }
        b'$' => match dollar_delimiter(b, i) {
            Some(body) => {
                let delimiter = &sql[i..body];
                let end = sql[body..]
                    .find(delimiter)
                    .map_or(b.len(), |k| body + k + delimiter.len());
                (String, end)
            }
            None => (Other, i + 1),
        },
        b'0'..=b'9' => (Number, skip_number(b, i)),
        b'.' if next.is_some_and(|d| d.is_ascii_digit()) => (Number, skip_number(b, i)),
        _ if is_word_start(c) => {
            let mut j = i + 1;
            while b.get(j).is_some_and(|&c| is_word_continue(c)) {
                j += 1;
            }
            (Word, j)
        }
        b':' if next == Some(b':') => (Punct, i + 2),
        b'(' | b')' | b'[' | b']' | b',' | b';' | b'.' | b':' => (Punct, i + 1),
        _ if is_op_char(c) => {
            // A comment may start right after an operator: `1+--x` is `1 +`.
            let mut j = i + 1;
            while b.get(j).is_some_and(|&c| is_op_char(c)) && !starts_comment(b, j) {
                j += 1;
            }
            (Operator, j)
        }
        _ => (Other, i + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::TokenKind::*;
    use super::*;

    fn kinds(sql: &str) -> Vec<(TokenKind, &str)> {
        tokens(sql).map(|t| (t.kind, t.text)).collect()
    }

    fn texts(sql: &str) -> Vec<&str> {
        tokens(sql).map(|t| t.text).collect()
    }

    #[test]
    fn words_numbers_params_punct() {
        assert_eq!(
            kinds("SELECT a_1$, été FROM t WHERE x = $12 AND y::int >= 1.5e-3;"),
            vec![
                (Word, "SELECT"),
                (Word, "a_1$"),
                (Punct, ","),
                (Word, "été"),
                (Word, "FROM"),
                (Word, "t"),
                (Word, "WHERE"),
                (Word, "x"),
                (Operator, "="),
                (Param, "$12"),
                (Word, "AND"),
                (Word, "y"),
                (Punct, "::"),
                (Word, "int"),
                (Operator, ">="),
                (Number, "1.5e-3"),
                (Punct, ";"),
            ]
        );
        assert_eq!(
            texts("0x1F .5 1. 1_000 2e 3..4 a.b"),
            vec![
                "0x1F", ".5", "1.", "1_000", "2", "e", "3", ".", ".4", "a", ".", "b"
            ]
        );
        assert_eq!(kinds("a->>'k'")[1], (Operator, "->>"));
    }

    #[test]
    fn token_offsets() {
        let sql = "  /* c */ SELECT\n-- x\n 'a''b'";
        let toks: Vec<_> = tokens(sql).collect();
        assert_eq!(toks.len(), 2);
        assert_eq!((toks[0].start, toks[0].end()), (10, 16));
        assert_eq!(toks[1].start, 23);
        assert_eq!(toks[1].text, "'a''b'");
        assert_eq!(toks[1].end(), sql.len());
    }

    #[test]
    fn string_literals() {
        assert_eq!(kinds("'it''s' x"), vec![(String, "'it''s'"), (Word, "x")]);
        assert_eq!(kinds("'a\\' x"), vec![(String, "'a\\'"), (Word, "x")]);
        assert_eq!(
            kinds(r"E'it\'s' x"),
            vec![(String, r"E'it\'s'"), (Word, "x")]
        );
        assert_eq!(kinds(r"e'\\' x"), vec![(String, r"e'\\'"), (Word, "x")]);
        assert_eq!(
            kinds(r"E'a''b\\\'c' x"),
            vec![(String, r"E'a''b\\\'c'"), (Word, "x")]
        );
        assert_eq!(
            kinds("U&'d\\0061t' x"),
            vec![(String, "U&'d\\0061t'"), (Word, "x")]
        );
        assert_eq!(
            kinds("B'101' X'1f' N'n' x"),
            vec![
                (String, "B'101'"),
                (String, "X'1f'"),
                (String, "N'n'"),
                (Word, "x")
            ]
        );
        // A word that merely ends in e is not an escape-string prefix.
        assert_eq!(kinds("type'x'"), vec![(Word, "type"), (String, "'x'")]);
        assert_eq!(
            kinds("u & v"),
            vec![(Word, "u"), (Operator, "&"), (Word, "v")]
        );
    }

    #[test]
    fn quoted_identifiers() {
        assert_eq!(
            kinds(r#""a""b" . "x y" U&"d\0061t""#),
            vec![
                (QuotedIdent, r#""a""b""#),
                (Punct, "."),
                (QuotedIdent, r#""x y""#),
                (QuotedIdent, r#"U&"d\0061t""#),
            ]
        );
    }

    #[test]
    fn dollar_quotes() {
        assert_eq!(
            kinds("$$ it's $1 $$ x"),
            vec![(String, "$$ it's $1 $$"), (Word, "x")]
        );
        assert_eq!(
            kinds("$fn$ a $$ b $x$ c $fn$ x"),
            vec![(String, "$fn$ a $$ b $x$ c $fn$"), (Word, "x")]
        );
        assert_eq!(
            kinds("$_1é$ body $_1é$;"),
            vec![(String, "$_1é$ body $_1é$"), (Punct, ";")]
        );
        // Tags are case-sensitive.
        assert_eq!(kinds("$a$ x $A$"), vec![(String, "$a$ x $A$")]);
        // `$1` is a parameter, and a tag cannot start with a digit.
        assert_eq!(
            kinds("$1$ $2"),
            vec![(Param, "$1"), (Other, "$"), (Param, "$2")]
        );
        assert_eq!(kinds("$ x"), vec![(Other, "$"), (Word, "x")]);
        // Inside a word `$` is an identifier character, not a quote.
        assert_eq!(kinds("a$$b$$"), vec![(Word, "a$$b$$")]);
    }

    #[test]
    fn comments() {
        assert_eq!(texts("a -- b\nc"), vec!["a", "c"]);
        assert_eq!(texts("a -- b\rc"), vec!["a", "c"]);
        assert_eq!(texts("a /* b */ c"), vec!["a", "c"]);
        assert_eq!(texts("a /* b /* c */ d */ e"), vec!["a", "e"]);
        assert_eq!(texts("a /* /* */ */ */ e"), vec!["a", "*/", "e"]);
        assert_eq!(texts("a/**/b"), vec!["a", "b"]);
        assert_eq!(texts("1+--x\n2"), vec!["1", "+", "2"]);
        assert_eq!(texts("1*/*x*/2"), vec!["1", "*", "2"]);
        assert_eq!(
            texts("'--' \"/*\" $$--$$"),
            vec!["'--'", "\"/*\"", "$$--$$"]
        );
    }

    #[test]
    fn unterminated_forms_run_to_the_end() {
        assert_eq!(texts("a 'b c"), vec!["a", "'b c"]);
        assert_eq!(texts(r"a E'b\'"), vec!["a", r"E'b\'"]);
        assert_eq!(texts(r"a E'b\"), vec!["a", r"E'b\"]);
        assert_eq!(texts("a \"b c"), vec!["a", "\"b c"]);
        assert_eq!(texts("a $t$ b $t"), vec!["a", "$t$ b $t"]);
        assert_eq!(texts("a /* b /* c */"), vec!["a"]);
        assert_eq!(texts("a -- b"), vec!["a"]);
    }

    #[test]
    fn paren_depth() {
        let d: Vec<_> = tokens("a (b (c) d) e ) f")
            .map(|t| (t.text, t.depth))
            .collect();
        assert_eq!(
            d,
            vec![
                ("a", 0),
                ("(", 0),
                ("b", 1),
                ("(", 1),
                ("c", 2),
                (")", 1),
                ("d", 1),
                (")", 0),
                ("e", 0),
                (")", 0),
                ("f", 0),
            ]
        );
        // Parentheses inside literals and comments do not count.
        let d: Vec<_> = tokens("'(' \"(\" /* ( */ $$($$ x")
            .map(|t| t.depth)
            .collect();
        assert_eq!(d, vec![0, 0, 0, 0]);
    }

    #[test]
    fn blank() {
        for sql in [
            "",
            "  \n\t",
            ";",
            " ; ;; ",
            "-- x",
            "/* a /* b */ */ ;",
            "-- a\n;/* */",
        ] {
            assert!(is_blank(sql), "{sql:?}");
        }
        for sql in ["SELECT 1", "'x'", "; x", "/* */ ("] {
            assert!(!is_blank(sql), "{sql:?}");
        }
        // An unterminated nested comment swallows the rest.
        assert!(is_blank("/* a /* b */ SELECT 1"));
    }

    #[test]
    fn single_row_inserts_are_recognised() {
        let sql = "INSERT INTO \"s\".\"t\" (a, b) VALUES ($1, $2)";
        let (end, arity) = single_row_insert(sql).unwrap();
        assert_eq!(&sql[..end], "INSERT INTO \"s\".\"t\" (a, b) VALUES");
        assert_eq!(arity, 2);
        assert_eq!(
            single_row_insert("insert into t values ($1);").map(|x| x.1),
            Some(1)
        );
        assert_eq!(
            single_row_insert("-- c\nINSERT INTO t VALUES ($1) -- trailing").map(|x| x.1),
            Some(1)
        );
        for other in [
            "INSERT INTO t VALUES ($2, $1)",
            "INSERT INTO t VALUES ($1, now())",
            "INSERT INTO t VALUES ($1::int)",
            "INSERT INTO t VALUES ($1) RETURNING id",
            "INSERT INTO t VALUES ($1) ON CONFLICT DO NOTHING",
            "INSERT INTO t SELECT $1",
            "INSERT INTO t (a) VALUES ($1), ($2)",
            "UPDATE t SET a = $1",
            "WITH x AS (SELECT 1) INSERT INTO t VALUES ($1)",
            "INSERT INTO t VALUES (",
        ] {
            assert_eq!(single_row_insert(other), None, "{other}");
        }
    }

    #[test]
    fn session_statements_are_found_past_comments_and_literals() {
        let keyword = |sql: &str| session_statement(sql).map(|(k, _)| k);
        assert_eq!(keyword("SET x = 1").as_deref(), Some("SET"));
        assert_eq!(
            keyword("  -- c\n /* x */ set x = 1").as_deref(),
            Some("set")
        );
        assert_eq!(keyword(";; Begin;").as_deref(), Some("Begin"));
        assert_eq!(keyword("start transaction").as_deref(), Some("start"));
        for sql in [
            "RESET ALL",
            "DISCARD ALL",
            "LISTEN ch",
            "UNLISTEN *",
            "PREPARE p AS SELECT 1",
            "DEALLOCATE p",
            "COMMIT",
            "END",
            "ROLLBACK",
            "ABORT",
            "SAVEPOINT s",
            "RELEASE s",
        ] {
            assert!(keyword(sql).is_some(), "{sql}");
        }
        assert_eq!(
            keyword("CREATE TEMP TABLE t (a int)").as_deref(),
            Some("CREATE TEMP")
        );
        assert_eq!(
            keyword("create global temporary table t (a int)").as_deref(),
            Some("CREATE temporary")
        );
        assert_eq!(keyword("CREATE TABLE t (a int)"), None);
        assert_eq!(keyword("/* SET */ SELECT 1"), None);
        assert_eq!(keyword("SELECT 'BEGIN'"), None);
        assert_eq!(keyword("-- BEGIN\nSELECT 1"), None);
        assert_eq!(keyword("\"set\""), None);
        assert_eq!(keyword(""), None);
        assert_eq!(keyword("-- only\n;"), None);
    }

    #[test]
    fn returning_detection() {
        assert!(has_top_level_returning(
            "INSERT INTO t (a) VALUES (1) RETURNING id"
        ));
        assert!(has_top_level_returning("delete from t Returning *;"));
        assert!(has_top_level_returning(
            "INSERT INTO t VALUES ('returning') RETURNING id -- done"
        ));
        for sql in [
            "INSERT INTO t (a) VALUES ('RETURNING')",
            "INSERT INTO t (a) VALUES (E'\\' RETURNING')",
            "INSERT INTO t (a) VALUES ($$ RETURNING $$)",
            "INSERT INTO t (a) VALUES ($x$ RETURNING $x$)",
            "INSERT INTO t (\"returning\") VALUES (1)",
            "INSERT INTO t (a) VALUES (1) -- RETURNING id",
            "INSERT INTO t (a) VALUES (1) /* RETURNING /* id */ */",
            "WITH x AS (INSERT INTO t (a) VALUES (1) RETURNING id) SELECT id FROM x",
            "INSERT INTO t (a) SELECT b FROM (DELETE FROM u RETURNING b) d",
            "INSERT INTO t (returning_id) VALUES (1)",
        ] {
            assert!(!has_top_level_returning(sql), "{sql:?}");
        }
        assert!(has_top_level_returning(
            "WITH x AS (DELETE FROM u RETURNING b) INSERT INTO t SELECT b FROM x RETURNING id"
        ));
    }

    #[test]
    fn append_returning_places_the_clause() {
        let cases = [
            (
                "INSERT INTO t (a) VALUES (1)",
                "INSERT INTO t (a) VALUES (1) RETURNING \"id\"",
            ),
            (
                "INSERT INTO t (a) VALUES (1);",
                "INSERT INTO t (a) VALUES (1) RETURNING \"id\";",
            ),
            (
                "INSERT INTO t (a) VALUES (1) ; ;\n",
                "INSERT INTO t (a) VALUES (1) RETURNING \"id\" ; ;\n",
            ),
            (
                "INSERT INTO t (a) VALUES (1) -- note",
                "INSERT INTO t (a) VALUES (1) RETURNING \"id\" -- note",
            ),
            (
                "INSERT INTO t (a) VALUES (1); -- note; more",
                "INSERT INTO t (a) VALUES (1) RETURNING \"id\"; -- note; more",
            ),
            (
                "INSERT INTO t (a) VALUES (1) /* a */ ; /* b /* c */ */\n",
                "INSERT INTO t (a) VALUES (1) RETURNING \"id\" /* a */ ; /* b /* c */ */\n",
            ),
            (
                "INSERT INTO t (a) VALUES ('x;') ",
                "INSERT INTO t (a) VALUES ('x;') RETURNING \"id\" ",
            ),
            (
                "INSERT INTO t (a) VALUES ($$;$$)",
                "INSERT INTO t (a) VALUES ($$;$$) RETURNING \"id\"",
            ),
            (
                "WITH x AS (INSERT INTO u VALUES (1) RETURNING id) INSERT INTO t SELECT id FROM x",
                "WITH x AS (INSERT INTO u VALUES (1) RETURNING id) INSERT INTO t SELECT id FROM x RETURNING \"id\"",
            ),
        ];
        for (sql, want) in cases {
            assert_eq!(append_returning(sql, "id"), want, "{sql:?}");
        }
        assert_eq!(
            append_returning("INSERT INTO t DEFAULT VALUES", "My\"Id"),
            "INSERT INTO t DEFAULT VALUES RETURNING \"My\"\"Id\""
        );
        assert_eq!(append_returning("", "id"), "RETURNING \"id\"");
        assert_eq!(append_returning(";", "id"), "RETURNING \"id\" ;");
    }

    /// Checks the invariants every input must keep, and that nothing panics.
    fn check(sql: &str) {
        let mut last_end = 0;
        for t in tokens(sql) {
            assert!(t.start >= last_end, "{sql:?}: overlapping {t:?}");
            assert!(!t.text.is_empty(), "{sql:?}: empty token");
            assert_eq!(&sql[t.start..t.end()], t.text);
            last_end = t.end();
        }
        let _ = is_blank(sql);
        let _ = session_statement(sql);
        let _ = has_top_level_returning(sql);
        // The clause and one separating space are inserted, nothing removed.
        let added = "RETURNING \"id\"".len() + usize::from(!sql.is_empty());
        assert_eq!(append_returning(sql, "id").len(), sql.len() + added);
    }

    /// xorshift64*, so the test needs no dependency and is reproducible.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    #[test]
    fn never_panics_on_random_bytes() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..3000 {
            let len = (rng.next() % 48) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            check(&std::string::String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn never_panics_on_random_sql_pieces() {
        const PIECES: &[&str] = &[
            "'",
            "''",
            "\"",
            "$",
            "$$",
            "$a$",
            "$1",
            "E'",
            "e'",
            "U&'",
            "U&\"",
            "\\",
            "\\'",
            "--",
            "/*",
            "*/",
            "\n",
            " ",
            "(",
            ")",
            ";",
            "é",
            "€",
            "😀",
            "a",
            "returning",
            "1",
            ".",
            "e",
            "-",
            "/",
            "*",
            "x'",
            "0x",
            "::",
            "&",
        ];
        let mut rng = Rng(42);
        for _ in 0..5000 {
            let n = (rng.next() % 16) as usize;
            let sql: std::string::String = (0..n)
                .map(|_| PIECES[(rng.next() % PIECES.len() as u64) as usize])
                .collect();
            check(&sql);
        }
    }

    #[test]
    fn never_panics_on_prefixes() {
        let tricky = concat!(
            "WITH x AS (INSERT INTO \"t\"\"q\" (a, \"é\") VALUES (E'it\\'s', $1) RETURNING id) ",
            "/* c /* nested */ é */ SELECT $fn$ body $$ x $fn$, U&'\\00e9', B'10', 0x1F, 1.5e-3, ",
            "$$€$$ -- trailing 😀\n FROM x WHERE a->>'k' <> '''' ; ",
        );
        for (i, _) in tricky.char_indices() {
            check(&tricky[..i]);
            check(&tricky[i..]);
        }
        check(tricky);
    }
}
