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
    // Nearly every statement starts with a letter: no need to lex it. Only
    // the server's (ASCII) spaces are skipped: to it a no-break space is a
    // letter, not blank.
    match sql.bytes().find(|&b| !is_space(b)) {
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
const LOCK_ADVICE: &str = "take pg_advisory_xact_lock in a transaction, or hold the session lock on a connection from acquire()";
const SET_CONFIG_ADVICE: &str = "pass true as set_config's third argument (transaction-local), or run it on a connection from acquire()";

/// A statement that leaves state in the session: what it is, where to run
/// it instead, and whether a connection that ran it can be reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionUse {
    /// The keyword or function as written (`SET`, `CREATE TEMP`,
    /// `pg_advisory_lock`).
    pub(crate) statement: String,
    /// Where to run it instead.
    pub(crate) advice: &'static str,
    /// The state cannot be undone by the reset a pooled connection gets
    /// (`CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; UNLISTEN *;
    /// SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES`):
    /// the connection must be thrown away instead.
    pub(crate) discard: bool,
}

impl SessionUse {
    fn new(statement: &str, advice: &'static str, discard: bool) -> Self {
        SessionUse {
            statement: statement.to_owned(),
            advice,
            discard,
        }
    }
}

/// The first statement or call in `sql` that leaves state in the session,
/// looking at every statement of a multi-statement text and at every
/// function call in them; `None` for ordinary SQL.
///
/// Found:
/// - transaction control: `BEGIN`, `START`, `COMMIT`, `END`, `ROLLBACK`,
///   `ABORT`, `SAVEPOINT`, `RELEASE`, `PREPARE TRANSACTION`;
/// - `SET` (`SET ROLE`, `SET SESSION AUTHORIZATION`, `SET SESSION ..`
///   included), `RESET`, `DISCARD`, `LISTEN`, `UNLISTEN`, `DECLARE`,
///   `CLOSE`, `CREATE [OR REPLACE] [GLOBAL | LOCAL] TEMP[ORARY] ..`,
///   `CREATE .. pg_temp.name` and `SELECT .. INTO TEMP ..`;
/// - to be discarded rather than reset: `PREPARE` (a statement of the user's
///   that the reset does not know), `DEALLOCATE` and `DISCARD ALL` (which can
///   remove the driver's own prepared statements) and `LOAD` (a library
///   cannot be unloaded);
/// - anywhere, also inside a `DO` block's dollar-quoted body: calls of the
///   session advisory locks (`pg_advisory_lock`, `pg_advisory_lock_shared`,
///   `pg_try_advisory_lock`, `pg_try_advisory_lock_shared`, schema-qualified
///   or quoted), and `set_config` unless its third argument is the literal
///   `true`.
///
/// Not found, on purpose: `SET LOCAL`, `SET CONSTRAINTS` and
/// `SET TRANSACTION` end with the transaction they run in. On a `Database`
/// each call is its own (implicit) transaction, so they are harmless there,
/// and in a `Transaction` they end at its commit or rollback. The
/// `pg_advisory_xact_*` locks end with the transaction too. Dynamic SQL
/// (`EXECUTE` in PL/pgSQL) and functions that change settings inside their
/// bodies cannot be seen in the text.
///
/// One pass over the tokens, no allocation unless something is found: it
/// runs on every call of a multiplexed manager.
pub(crate) fn session_statement(sql: &str) -> Option<SessionUse> {
    let mut statement = StatementScan::default();
    let mut calls = CallScan::default();
    let mut tokens = tokens(sql).peekable();
    while let Some(t) = tokens.next() {
        if t.is_punct(";") && t.depth == 0 && statement.block_depth == 0 {
            if let Some(found) = calls.finish() {
                return Some(found);
            }
            statement = StatementScan::default();
            calls = CallScan::default();
            continue;
        }
        let next = tokens.peek();
        if let Some(found) = statement.step(&t, next) {
            return Some(found);
        }
        if let Some(found) = calls.step(&t) {
            return Some(found);
        }
        if statement.first == First::Do && t.kind == TokenKind::String && t.text.starts_with('$') {
            // A DO block runs its body at once: look for the calls there.
            if let Some(found) = dollar_body(t.text).and_then(calls_in) {
                return Some(found);
            }
        }
    }
    calls.finish()
}

/// The body of a dollar-quoted string token, without its delimiters.
fn dollar_body(token: &str) -> Option<&str> {
    let open = dollar_delimiter(token.as_bytes(), 0)?;
    let tag = &token[..open];
    token[open..].strip_suffix(tag)
}

/// The first session-state call in `sql` (a DO block's body), ignoring its
/// statements' keywords: PL/pgSQL has `BEGIN`, `END` and `DECLARE` of its
/// own.
fn calls_in(sql: &str) -> Option<SessionUse> {
    let mut calls = CallScan::default();
    tokens(sql)
        .find_map(|t| calls.step(&t))
        .or_else(|| calls.finish())
}

/// What the first word of a statement makes of the words after it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum First {
    /// No token of the statement seen yet.
    #[default]
    Start,
    /// `CREATE`: watching for `TEMP` before the object type, and `pg_temp`.
    Create,
    /// `CREATE` past its object type: watching for `pg_temp` only.
    CreateObject,
    /// `SELECT` or `WITH`: watching for `INTO TEMP`.
    Select,
    /// `SET`: its next word decides.
    Set,
    /// `PREPARE`: `PREPARE TRANSACTION` is transaction control.
    Prepare,
    /// `DISCARD`: `DISCARD ALL` also drops the driver's statements.
    Discard,
    /// `DO`: its body is looked into.
    Do,
    /// Nothing more to find from the statement's keywords.
    Other,
}

/// The keyword state of the current statement.
#[derive(Debug, Default)]
struct StatementScan {
    first: First,
    /// `BEGIN ATOMIC` and `CASE` blocks open in a SQL-standard function
    /// body, whose `;` do not end the statement and whose `END` is not a
    /// COMMIT.
    block_depth: u32,
    /// The previous token was `INTO` (in a SELECT).
    after_into: bool,
}

impl StatementScan {
    fn step(&mut self, t: &Token<'_>, next: Option<&Token<'_>>) -> Option<SessionUse> {
        if t.kind != TokenKind::Word {
            self.after_into = false;
            if self.first == First::Start {
                self.first = First::Other;
            }
            if matches!(self.first, First::Create | First::CreateObject)
                && t.kind == TokenKind::QuotedIdent
                && quoted_content(t.text).is_some_and(is_pg_temp)
            {
                return Some(SessionUse::new("CREATE .. pg_temp", SESSION_ADVICE, false));
            }
            return None;
        }
        let word = Keyword::of(t.text);
        let found = |advice, discard| Some(SessionUse::new(t.text, advice, discard));
        match self.first {
            First::Start => {
                self.first = First::Other;
                match word.as_str() {
                    "BEGIN" | "START" | "COMMIT" | "END" | "ROLLBACK" | "ABORT" | "SAVEPOINT"
                    | "RELEASE" => return found(TRANSACTION_ADVICE, false),
                    "RESET" => return found(SETTING_ADVICE, false),
                    "LISTEN" | "UNLISTEN" | "DECLARE" | "CLOSE" => {
                        return found(SESSION_ADVICE, false);
                    }
                    "DEALLOCATE" | "LOAD" => return found(SESSION_ADVICE, true),
                    "SET" => self.first = First::Set,
                    "PREPARE" => self.first = First::Prepare,
                    "DISCARD" => self.first = First::Discard,
                    "CREATE" => self.first = First::Create,
                    "SELECT" | "WITH" => self.first = First::Select,
                    "DO" => self.first = First::Do,
                    _ => {}
                }
            }
            First::Set => {
                self.first = First::Other;
                if !matches!(word.as_str(), "LOCAL" | "CONSTRAINTS" | "TRANSACTION") {
                    return Some(SessionUse::new("SET", SETTING_ADVICE, false));
                }
            }
            First::Prepare => {
                self.first = First::Other;
                return if word.as_str() == "TRANSACTION" {
                    Some(SessionUse::new(
                        "PREPARE TRANSACTION",
                        TRANSACTION_ADVICE,
                        false,
                    ))
                } else {
                    Some(SessionUse::new("PREPARE", SESSION_ADVICE, true))
                };
            }
            First::Discard => {
                self.first = First::Other;
                let all = word.as_str() == "ALL";
                return Some(SessionUse::new("DISCARD", SESSION_ADVICE, all));
            }
            First::Create => match word.as_str() {
                "TEMP" | "TEMPORARY" => {
                    return Some(SessionUse::new("CREATE TEMP", SESSION_ADVICE, false));
                }
                "OR" | "REPLACE" | "GLOBAL" | "LOCAL" | "UNLOGGED" => {}
                _ => self.first = First::CreateObject,
            },
            First::Select => {
                if self.after_into
                    && matches!(word.as_str(), "TEMP" | "TEMPORARY" | "LOCAL" | "GLOBAL")
                {
                    return Some(SessionUse::new("SELECT INTO TEMP", SESSION_ADVICE, false));
                }
            }
            First::CreateObject | First::Do | First::Other => {}
        }
        self.after_into = self.first == First::Select && word.as_str() == "INTO";
        if matches!(self.first, First::Create | First::CreateObject) {
            if is_pg_temp(t.text) && next.is_some_and(|n| n.is_punct(".")) {
                return Some(SessionUse::new("CREATE .. pg_temp", SESSION_ADVICE, false));
            }
            match word.as_str() {
                "BEGIN" if next.is_some_and(|n| n.is_word("ATOMIC")) => self.block_depth += 1,
                "CASE" if self.block_depth > 0 => self.block_depth += 1,
                "END" => self.block_depth = self.block_depth.saturating_sub(1),
                _ => {}
            }
        }
        None
    }
}

/// Whether `name` is the session's temporary schema, `pg_temp` or one
/// backend's `pg_temp_N`.
fn is_pg_temp(name: &str) -> bool {
    name.get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("pg_temp"))
        && (name.len() == 7
            || name.as_bytes()[7] == b'_' && name[8..].bytes().all(|b| b.is_ascii_digit()))
}

/// Finds session-state function calls: a name token followed by `(`.
#[derive(Debug, Default)]
struct CallScan<'a> {
    /// The function name just seen, waiting for its `(`.
    pending: Option<(Token<'a>, Call)>,
    /// Inside `set_config(`: the depth of its arguments, the argument being
    /// read, and whether that argument so far is just `true`.
    set_config: Option<SetConfigArgs>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    AdvisoryLock,
    SetConfig,
}

#[derive(Debug, Clone, Copy)]
struct SetConfigArgs {
    depth: u32,
    argument: u32,
    /// Tokens of the third argument read so far, and whether they are all
    /// one `true`.
    third_tokens: u32,
    third_is_true: bool,
}

impl<'a> CallScan<'a> {
    /// A `set_config(` whose `)` never came: its third argument is unknown.
    fn finish(&self) -> Option<SessionUse> {
        self.set_config.map(|_| set_config_use())
    }

    fn step(&mut self, t: &Token<'a>) -> Option<SessionUse> {
        if let Some(args) = &mut self.set_config {
            if t.depth < args.depth {
                // The closing parenthesis.
                let args = *args;
                self.set_config = None;
                if args.argument != 2 || args.third_tokens != 1 || !args.third_is_true {
                    return Some(set_config_use());
                }
            } else if t.depth == args.depth && t.is_punct(",") {
                args.argument += 1;
            } else if args.argument == 2 {
                args.third_tokens += 1;
                args.third_is_true = t.is_word("true");
            }
        }
        if let Some((name, call)) = self.pending.take() {
            if t.is_punct("(") {
                match call {
                    Call::AdvisoryLock => {
                        return Some(SessionUse::new(name.text, LOCK_ADVICE, false));
                    }
                    // A nested set_config call is checked when the outer one
                    // closes; one at a time is enough to be conservative.
                    Call::SetConfig if self.set_config.is_some() => {
                        return Some(set_config_use());
                    }
                    Call::SetConfig => {
                        self.set_config = Some(SetConfigArgs {
                            depth: t.depth + 1,
                            argument: 0,
                            third_tokens: 0,
                            third_is_true: false,
                        });
                    }
                }
                return None;
            }
        }
        let name = match t.kind {
            TokenKind::Word => t.text,
            // Quoted names are case-sensitive: only the exact name is the
            // function.
            TokenKind::QuotedIdent => quoted_content(t.text)?,
            _ => return None,
        };
        let quoted = t.kind == TokenKind::QuotedIdent;
        let is = |f: &str| {
            if quoted {
                name == f
            } else {
                name.eq_ignore_ascii_case(f)
            }
        };
        let call = if is("pg_advisory_lock")
            || is("pg_advisory_lock_shared")
            || is("pg_try_advisory_lock")
            || is("pg_try_advisory_lock_shared")
        {
            Call::AdvisoryLock
        } else if is("set_config") {
            Call::SetConfig
        } else {
            return None;
        };
        self.pending = Some((*t, call));
        None
    }
}

fn set_config_use() -> SessionUse {
    SessionUse::new("set_config", SET_CONFIG_ADVICE, false)
}

/// The name inside a quoted identifier token `"..."` (doubled quotes left
/// as they are: the names compared with it have none).
fn quoted_content(token: &str) -> Option<&str> {
    token.strip_prefix('"')?.strip_suffix('"')
}

/// A keyword upper-cased on the stack (keywords are short ASCII words), so
/// that matching one allocates nothing.
struct Keyword {
    buf: [u8; 12],
    len: usize,
}

impl Keyword {
    fn of(word: &str) -> Keyword {
        let mut buf = [0u8; 12];
        let bytes = word.as_bytes();
        if bytes.len() > buf.len() {
            // Longer than every keyword looked for: matches none.
            return Keyword { buf, len: 0 };
        }
        buf[..bytes.len()].copy_from_slice(bytes);
        buf[..bytes.len()].make_ascii_uppercase();
        Keyword {
            buf,
            len: bytes.len(),
        }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

/// [`session_statement`] as an error.
pub(crate) fn refuse_session_state(sql: &str) -> crate::Result<()> {
    match session_statement(sql) {
        None => Ok(()),
        Some(found) => Err(crate::Error::SessionState(Box::new(
            crate::error::SessionStateError {
                statement: found.statement,
                advice: found.advice,
            },
        ))),
    }
}

/// The byte ranges of the statements in `sql`, a script of several: split
/// at each `;` outside parentheses, literals and comments, and outside the
/// body of a `BEGIN ATOMIC .. END` function (whose own statements end in
/// `;`). Each range starts at the statement's first token and ends after its
/// last one; blank statements are left out.
pub(crate) fn statements(sql: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut end = 0;
    // Inside a `BEGIN ATOMIC` body: its nesting, `CASE .. END` counted so
    // that the `END` of a CASE does not close the body.
    let mut atomic = 0u32;
    let mut previous_begin = false;
    for t in tokens(sql) {
        if t.depth == 0 && atomic == 0 && t.is_punct(";") {
            if let Some(s) = start.take() {
                out.push(s..end);
            }
            previous_begin = false;
            continue;
        }
        if start.is_none() {
            start = Some(t.start);
        } else if (previous_begin && t.is_word("ATOMIC")) || (atomic > 0 && t.is_word("CASE")) {
            atomic += 1;
        } else if atomic > 0 && t.is_word("END") {
            atomic -= 1;
        }
        previous_begin = t.is_word("BEGIN");
        end = t.end();
    }
    if let Some(s) = start {
        out.push(s..end);
    }
    out
}

/// Whether the statement `sql` starts, ends or aborts a transaction:
/// `BEGIN`, `START TRANSACTION`, `COMMIT`, `END`, `ABORT` or `ROLLBACK`
/// (but not `ROLLBACK TO` a savepoint, which stays inside it).
pub(crate) fn is_transaction_control(sql: &str) -> bool {
    let mut words = tokens(sql);
    let Some(first) = words.next() else {
        return false;
    };
    if first.is_word("ROLLBACK") {
        return !words.next().is_some_and(|t| t.is_word("TO"));
    }
    ["BEGIN", "START", "COMMIT", "END", "ABORT"]
        .iter()
        .any(|w| first.is_word(w))
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

/// What a position in SQL text stands inside, as the server's lexer would
/// see it: where a placeholder's expansion is written, and so how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// Between tokens: SQL text.
    Code,
    /// A standard string, `'...'` (also `B''`, `X''`, `N''`): `'` is doubled.
    String,
    /// An escape string, `E'...'`: `'` and `\` are doubled.
    EscapeString,
    /// A Unicode string, `U&'...'`, whose escape character a `UESCAPE`
    /// after it may change.
    UnicodeString,
    /// A quoted identifier, `"..."` or `U&"..."`.
    QuotedIdent,
    /// A `--` comment, which ends at a newline.
    LineComment,
    /// A block comment, nested this deep.
    BlockComment(u32),
}

/// Follows SQL text as it is written, left to right, to say what the end of
/// the text so far stands inside.
///
/// A dollar-quoted body (`$tag$ .. $tag$`) is read as SQL too, because it
/// usually is (a function or DO body, whose literals and comments are lexed
/// again when it runs): [`context`](Self::context) is the context inside the
/// body, and [`dollar_delimiters`](Self::dollar_delimiters) the delimiters
/// that would end the bodies around it. A body ends at its delimiter
/// whatever it contains, as the server ends it.
///
/// Text is fed by [`advance`](Self::advance) up to a point where a
/// placeholder will be expanded; whatever is decided at that point by the
/// character after it is decided as if that character were `"`, the first
/// character of every expansion. [`skip_to`](Self::skip_to) then passes over
/// the expansion, which the caller wrote so that it leaves the context as it
/// found it.
#[derive(Debug)]
pub(crate) struct ContextScanner {
    pos: usize,
    context: Context,
    /// The delimiters of the open dollar-quoted bodies, outermost first.
    dollars: Vec<std::string::String>,
}

impl ContextScanner {
    pub(crate) fn new() -> Self {
        ContextScanner {
            pos: 0,
            context: Context::Code,
            dollars: Vec::new(),
        }
    }

    /// The context at the end of the text last passed to `advance`.
    pub(crate) fn context(&self) -> Context {
        self.context
    }

    /// The delimiters that would end the dollar-quoted bodies around the
    /// position, outermost first.
    pub(crate) fn dollar_delimiters(&self) -> impl Iterator<Item = &str> {
        self.dollars.iter().map(std::string::String::as_str)
    }

    /// Continues past the text up to `pos`, written by the caller without
    /// changing the context.
    pub(crate) fn skip_to(&mut self, pos: usize) {
        self.pos = self.pos.max(pos);
    }

    /// Reads `text` from where the last call stopped to its end. `text`
    /// starts with the text given before. The error is a placeholder right
    /// after `U&`, which would make its quoted name a Unicode-escaped one.
    pub(crate) fn advance(&mut self, text: &str) -> Result<(), &'static str> {
        let b = text.as_bytes();
        let peek = |i: usize| match b.get(i) {
            Some(&c) => c,
            None if i == b.len() => b'"',
            None => 0,
        };
        while self.pos < b.len() {
            let i = self.pos;
            if let Some(k) = self.closing_level(b, i) {
                self.pos = i + self.dollars[k].len();
                self.dollars.truncate(k);
                self.context = Context::Code;
                continue;
            }
            let c = b[i];
            let (context, next) = match self.context {
                Context::Code => match (c, peek(i + 1)) {
                    _ if is_space(c) => (Context::Code, i + 1),
                    (b'-', b'-') => (Context::LineComment, i + 2),
                    (b'/', b'*') => (Context::BlockComment(1), i + 2),
                    (b'\'', _) => (Context::String, i + 1),
                    (b'"', _) => (Context::QuotedIdent, i + 1),
                    (b'E' | b'e', b'\'') => (Context::EscapeString, i + 2),
                    (b'B' | b'b' | b'X' | b'x' | b'N' | b'n', b'\'') => (Context::String, i + 2),
                    (b'U' | b'u', b'&') => match peek(i + 2) {
                        b'\'' => (Context::UnicodeString, i + 3),
                        b'"' if i + 2 == b.len() => {
                            return Err("a placeholder right after `U&` would be read as a \
                                        Unicode-escaped identifier");
                        }
                        b'"' => (Context::QuotedIdent, i + 3),
                        _ => (Context::Code, i + 1),
                    },
                    (b'$', d) if !d.is_ascii_digit() => match dollar_delimiter(b, i) {
                        Some(body) if self.ends_body_within(b, i, body).is_none() => {
                            // Past the check below, which is for the bodies
                            // open before this one.
                            self.dollars.push(text[i..body].to_owned());
                            self.pos = body;
                            continue;
                        }
                        _ => (Context::Code, i + 1),
                    },
                    _ => (Context::Code, lex_one(text, i).1),
                },
                Context::String | Context::UnicodeString | Context::EscapeString if c == b'\'' => {
                    if peek(i + 1) == b'\'' {
                        (self.context, i + 2)
                    } else {
                        (Context::Code, i + 1)
                    }
                }
                Context::EscapeString if c == b'\\' => (Context::EscapeString, i + 2),
                Context::QuotedIdent if c == b'"' => {
                    if peek(i + 1) == b'"' {
                        (Context::QuotedIdent, i + 2)
                    } else {
                        (Context::Code, i + 1)
                    }
                }
                Context::LineComment if c == b'\n' || c == b'\r' => (Context::Code, i + 1),
                Context::BlockComment(depth) => match (c, peek(i + 1)) {
                    (b'/', b'*') => (Context::BlockComment(depth + 1), i + 2),
                    (b'*', b'/') if depth == 1 => (Context::Code, i + 2),
                    (b'*', b'/') => (Context::BlockComment(depth - 1), i + 2),
                    _ => (self.context, i + 1),
                },
                other => (other, i + 1),
            };
            // The server ends a body at the first occurrence of its
            // delimiter in the raw text, even in the middle of what would be
            // a word or an escape inside it: no step may pass over one.
            match self.ends_body_within(b, i, next) {
                Some(j) => self.pos = j,
                None => {
                    self.context = context;
                    self.pos = next;
                }
            }
        }
        Ok(())
    }

    /// The outermost open body whose delimiter starts at `i`, unless a body
    /// around it ends inside that delimiter: then the inner body's text is
    /// cut before its delimiter is complete, and nothing ends at `i`.
    fn closing_level(&self, b: &[u8], i: usize) -> Option<usize> {
        if b.get(i) != Some(&b'$') {
            return None;
        }
        let starts_at = |d: &std::string::String, j: usize| b[j..].starts_with(d.as_bytes());
        let k = self.dollars.iter().position(|d| starts_at(d, i))?;
        let end = i + self.dollars[k].len();
        let cut = (i + 1..end).any(|j| self.dollars[..k].iter().any(|d| starts_at(d, j)));
        (!cut).then_some(k)
    }

    /// The first position after `i` and before `end` where an open body's
    /// delimiter starts.
    fn ends_body_within(&self, b: &[u8], i: usize, end: usize) -> Option<usize> {
        if self.dollars.is_empty() {
            return None;
        }
        (i + 1..end.min(b.len())).find(|&j| self.closing_level(b, j).is_some())
    }
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
        for sql in ["SELECT 1", "'x'", "; x", "/* */ (", "\u{a0}", " \u{2003};"] {
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

    fn found(sql: &str) -> Option<(std::string::String, bool)> {
        session_statement(sql).map(|u| (u.statement, u.discard))
    }

    fn keyword(sql: &str) -> Option<std::string::String> {
        found(sql).map(|(k, _)| k)
    }

    #[test]
    fn session_statements_are_found_past_comments_and_literals() {
        assert_eq!(keyword("SET x = 1").as_deref(), Some("SET"));
        assert_eq!(
            keyword("  -- c\n /* x */ set x = 1").as_deref(),
            Some("SET")
        );
        assert_eq!(keyword(";; Begin;").as_deref(), Some("Begin"));
        assert_eq!(keyword("start transaction").as_deref(), Some("start"));
        for sql in [
            "RESET ALL",
            "DISCARD TEMP",
            "LISTEN ch",
            "UNLISTEN *",
            "COMMIT",
            "END",
            "ROLLBACK",
            "ABORT",
            "SAVEPOINT s",
            "RELEASE s",
            "SET ROLE admin",
            "SET SESSION AUTHORIZATION bob",
            "SET SESSION statement_timeout = 0",
            "set search_path to x",
            "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
            "CLOSE c",
            "PREPARE TRANSACTION 'x'",
            "COMMIT PREPARED 'x'",
        ] {
            assert_eq!(found(sql).map(|f| f.1), Some(false), "{sql}");
        }
        assert_eq!(
            keyword("CREATE TEMP TABLE t (a int)").as_deref(),
            Some("CREATE TEMP")
        );
        for sql in [
            "create global temporary table t (a int)",
            "CREATE LOCAL TEMP TABLE t (a int)",
            "CREATE OR REPLACE TEMP VIEW v AS SELECT 1",
            "CREATE TEMPORARY SEQUENCE s",
            "CREATE TABLE pg_temp.t (a int)",
            "CREATE TABLE \"pg_temp\".t (a int)",
            "CREATE VIEW pg_temp_3.v AS SELECT 1",
            "SELECT 1 AS a INTO TEMP t",
            "select * into temporary table t from u",
        ] {
            assert_eq!(found(sql).map(|f| f.1), Some(false), "{sql}");
        }
        assert_eq!(keyword(""), None);
        assert_eq!(keyword("-- only\n;"), None);
    }

    #[test]
    fn statements_that_cannot_be_reset_are_discarded() {
        for sql in [
            "PREPARE p AS SELECT 1",
            "prepare p (int) AS SELECT $1",
            "DEALLOCATE p",
            "DEALLOCATE ALL",
            "DISCARD ALL",
            "LOAD 'auto_explain'",
        ] {
            assert_eq!(found(sql).map(|f| f.1), Some(true), "{sql}");
        }
        assert_eq!(found("DISCARD PLANS").map(|f| f.1), Some(false));
        assert_eq!(
            keyword("PREPARE TRANSACTION 'g'").as_deref(),
            Some("PREPARE TRANSACTION")
        );
    }

    #[test]
    fn every_statement_of_a_multi_statement_text_is_looked_at() {
        assert_eq!(keyword("SELECT 1; SET x = 1").as_deref(), Some("SET"));
        assert_eq!(
            keyword("INSERT INTO t VALUES (1); /* c */ commit").as_deref(),
            Some("commit")
        );
        assert_eq!(
            keyword("SELECT ';'; CREATE TEMP TABLE t ()").as_deref(),
            Some("CREATE TEMP")
        );
        // The first one found is reported.
        assert_eq!(keyword("LISTEN a; BEGIN").as_deref(), Some("LISTEN"));
        assert_eq!(keyword("SELECT 1; SELECT 2;"), None);
        // A SQL-standard body's `;` and `END` belong to the CREATE.
        assert_eq!(
            keyword(
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC \
                 SELECT CASE WHEN true THEN 1 END; SELECT 2; END; SELECT 3"
            ),
            None
        );
        assert_eq!(
            keyword("CREATE PROCEDURE p() BEGIN ATOMIC SELECT 1; END; BEGIN").as_deref(),
            Some("BEGIN")
        );
    }

    #[test]
    fn transaction_scoped_settings_are_not_session_state() {
        for sql in [
            "SET LOCAL statement_timeout = '1s'",
            "set local role admin",
            "SET CONSTRAINTS ALL DEFERRED",
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "SELECT set_config('a.b', 'c', true)",
            "SELECT pg_catalog.set_config('a.b', $1, TRUE)",
            "SELECT pg_advisory_xact_lock(1)",
            "SELECT pg_try_advisory_xact_lock_shared(1, 2)",
            "SELECT pg_advisory_unlock(1)",
        ] {
            assert_eq!(keyword(sql), None, "{sql}");
        }
    }

    #[test]
    fn session_calls_are_found_anywhere() {
        for (sql, name) in [
            ("SELECT pg_advisory_lock(1)", "pg_advisory_lock"),
            (
                "select PG_ADVISORY_LOCK_SHARED(1, 2)",
                "PG_ADVISORY_LOCK_SHARED",
            ),
            (
                "SELECT x FROM t WHERE pg_try_advisory_lock(t.id)",
                "pg_try_advisory_lock",
            ),
            (
                "SELECT pg_catalog.pg_try_advisory_lock_shared (7)",
                "pg_try_advisory_lock_shared",
            ),
            ("SELECT \"pg_advisory_lock\"(1)", "\"pg_advisory_lock\""),
            ("SELECT 1; SELECT pg_advisory_lock(1)", "pg_advisory_lock"),
            (
                "WITH a AS (SELECT pg_advisory_lock(1)) SELECT 1",
                "pg_advisory_lock",
            ),
            ("SELECT set_config('a', 'b', false)", "set_config"),
            ("SELECT set_config('a', 'b', $1)", "set_config"),
            ("SELECT set_config('a', 'b', 'true')", "set_config"),
            ("SELECT set_config('a', 'b', NOT true)", "set_config"),
            ("SELECT set_config('a', 'b', (true))", "set_config"),
            ("SELECT pg_catalog.set_config('a', 'b')", "set_config"),
            ("SELECT set_config('a', 'b', false", "set_config"),
            (
                "SELECT set_config('a', set_config('b', 'c', true), true)",
                "set_config",
            ),
            (
                "DO $$ BEGIN PERFORM pg_advisory_lock(1); END $$",
                "pg_advisory_lock",
            ),
            (
                "do $body$ BEGIN PERFORM set_config('a', 'b', false); END $body$",
                "set_config",
            ),
        ] {
            assert_eq!(keyword(sql).as_deref(), Some(name), "{sql}");
        }
    }

    #[test]
    fn session_words_elsewhere_are_not_statements() {
        for sql in [
            "/* SET */ SELECT 1",
            "SELECT 'BEGIN'",
            "SELECT 'SET x = 1; BEGIN'",
            "-- BEGIN\nSELECT 1",
            "\"set\"",
            "SELECT begin FROM t",
            "SELECT \"begin\", \"set\" FROM t",
            "UPDATE t SET a = 1",
            "INSERT INTO listen (begin, commit) VALUES (1, 2)",
            "SELECT CASE WHEN a THEN 1 END FROM t",
            "CREATE TABLE temp (a int)",
            "CREATE TABLE t (temp int)",
            "INSERT INTO temp VALUES (1)",
            "SELECT 'pg_advisory_lock(1)'",
            "SELECT pg_advisory_lock FROM t",
            "SELECT \"PG_ADVISORY_LOCK\"(1)",
            "SELECT my_pg_advisory_lock(1)",
            "SELECT $$ SET x $$",
            "ALTER TABLE t ALTER COLUMN a SET DEFAULT 1",
            "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_lock(1); END $$",
            "SELECT * FROM pg_temp_x.t",
        ] {
            assert_eq!(keyword(sql), None, "{sql}");
        }
    }

    #[test]
    fn refusal_names_the_statement_and_advice() {
        match refuse_session_state("SELECT 1; SET x = 1") {
            Err(crate::Error::SessionState(e)) => {
                assert_eq!(e.statement, "SET");
                assert!(e.advice.contains("server_settings"), "{}", e.advice);
            }
            other => panic!("expected SessionState, got {other:?}"),
        }
        match refuse_session_state("SELECT pg_advisory_lock(1)") {
            Err(crate::Error::SessionState(e)) => {
                assert!(e.advice.contains("pg_advisory_xact_lock"), "{}", e.advice);
            }
            other => panic!("expected SessionState, got {other:?}"),
        }
        assert!(refuse_session_state("SELECT 1").is_ok());
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

    fn split(sql: &str) -> Vec<&str> {
        statements(sql).into_iter().map(|r| &sql[r]).collect()
    }

    #[test]
    fn scripts_split_at_top_level_semicolons_only() {
        let script = "CREATE TABLE t (a text DEFAULT ';');\n-- a; comment\n\
            CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;;\n\
            CREATE FUNCTION g(x int) RETURNS int LANGUAGE sql BEGIN ATOMIC \
            SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END; SELECT 2; END;\n\
            INSERT INTO \"a;b\" VALUES (1) /* ; */";
        let parts = split(script);
        assert_eq!(parts.len(), 4, "{parts:#?}");
        assert_eq!(parts[0], "CREATE TABLE t (a text DEFAULT ';')");
        assert!(parts[1].ends_with("LANGUAGE plpgsql"));
        assert!(parts[2].ends_with("SELECT 2; END"), "{}", parts[2]);
        assert_eq!(parts[3], "INSERT INTO \"a;b\" VALUES (1)");
        assert!(split(" ;; -- nothing\n").is_empty());
    }

    #[test]
    fn transaction_control_is_recognised() {
        for sql in [
            "BEGIN",
            "begin work",
            "START TRANSACTION",
            "COMMIT",
            "end",
            "ABORT",
            "ROLLBACK",
            "COMMIT PREPARED 'x'",
        ] {
            assert!(is_transaction_control(sql), "{sql}");
        }
        for sql in [
            "ROLLBACK TO SAVEPOINT a",
            "SAVEPOINT a",
            "SELECT 'COMMIT'",
            "-- BEGIN\nSELECT 1",
            "CREATE TABLE begin_x ()",
        ] {
            assert!(!is_transaction_control(sql), "{sql}");
        }
    }
}
