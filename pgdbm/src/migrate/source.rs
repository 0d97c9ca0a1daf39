//! Migration files: names parsed into versions, contents checked and
//! checksummed the way the Python library does, so both recognise each
//! other's tracking rows.

use std::borrow::Cow;
use std::ops::Range;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::MigrationSourceError;
use crate::error::{Error, Result};
use crate::lex;

/// The first-line marker of a migration that must run outside a
/// transaction (`CREATE INDEX CONCURRENTLY` and the like).
const NO_TRANSACTION: &str = "-- pgdbm:no-transaction";

/// One migration file.
///
/// ```
/// let m = pgdbm::Migrator::from_files([("002_add_index.sql", "CREATE INDEX i ON {{tables.t}} (a);")])?;
/// let file = &m.migrations()[0];
/// assert_eq!(file.version(), 2);
/// assert_eq!(file.name(), "add_index");
/// assert_eq!(file.checksum().len(), 64);
/// # Ok::<(), pgdbm::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Migration {
    version: u64,
    name: String,
    filename: String,
    sql: Cow<'static, str>,
    checksum: String,
    no_transaction: bool,
    /// The statements of `sql`, each with the line it starts on.
    statements: Vec<(Range<usize>, usize)>,
}

impl Migration {
    /// Checks one file: its name gives the version, its content must hold a
    /// statement and, unless marked `-- pgdbm:no-transaction`, none that
    /// ends the transaction it runs in.
    pub(crate) fn parse(filename: String, sql: Cow<'static, str>) -> Result<Migration> {
        let Some((version, name)) = parse_filename(&filename) else {
            return Err(source_error(
                &filename,
                "the name must be NNN_name.sql, VNNN__name.sql or YYYYMMDDHHMMSS_name.sql",
            ));
        };
        let statements: Vec<_> = lex::statements(&sql)
            .into_iter()
            .map(|range| {
                let line = line_of(&sql, range.start);
                (range, line)
            })
            .collect();
        if statements.is_empty() {
            return Err(source_error(&filename, "the file holds no statement"));
        }
        let no_transaction = sql
            .lines()
            .next()
            .is_some_and(|first| first.trim_end().starts_with(NO_TRANSACTION));
        if !no_transaction {
            if let Some((range, line)) = statements
                .iter()
                .find(|(range, _)| lex::is_transaction_control(&sql[range.clone()]))
            {
                let word = sql[range.clone()].split_whitespace().next().unwrap_or("");
                return Err(source_error(
                    &filename,
                    &format!(
                        "line {line}: `{word}` would end the transaction the migration runs in; \
                         remove it (each migration is one transaction already), or put \
                         `{NO_TRANSACTION}` on the first line to run the file outside one"
                    ),
                ));
            }
        }
        Ok(Migration {
            version,
            name,
            checksum: checksum(&sql),
            filename,
            sql,
            no_transaction,
            statements,
        })
    }

    /// The number the file name starts with; migrations run in its order.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The file name without its number and `.sql`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file name, as recorded in the tracking table.
    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// The file's SQL, templates not yet expanded.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// SHA-256 (hex) of the content with line endings turned to `\n` and
    /// surrounding whitespace stripped: the Python library's checksum.
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    /// Whether the file runs outside a transaction (`-- pgdbm:no-transaction`
    /// on its first line).
    pub fn no_transaction(&self) -> bool {
        self.no_transaction
    }

    /// The statements, each with its 1-based line in the file.
    pub(crate) fn statements(&self) -> impl Iterator<Item = (&str, usize)> {
        self.statements
            .iter()
            .map(|(range, line)| (&self.sql[range.clone()], *line))
    }
}

/// The migrations among `files`, in version order: every `.sql` file is one
/// (hidden files aside), and two with one version are an error.
pub(crate) fn collect(
    files: impl IntoIterator<Item = (String, Cow<'static, str>)>,
) -> Result<Vec<Migration>> {
    let mut migrations = Vec::new();
    for (filename, sql) in files {
        if is_migration_file(&filename) {
            migrations.push(Migration::parse(filename, sql)?);
        }
    }
    migrations.sort_by(|a, b| (a.version, &a.filename).cmp(&(b.version, &b.filename)));
    if let Some(pair) = migrations.windows(2).find(|w| w[0].version == w[1].version) {
        return Err(source_error(
            &pair[1].filename,
            &format!(
                "version {} is also used by {}",
                pair[1].version, pair[0].filename
            ),
        ));
    }
    Ok(migrations)
}

/// Whether a directory entry named `filename` is a migration.
pub(crate) fn is_migration_file(filename: &str) -> bool {
    filename.ends_with(".sql") && !filename.starts_with('.')
}

/// The files of `dir` that [`collect`] takes, read as UTF-8.
pub(crate) fn read_dir(dir: &Path) -> Result<Vec<(String, Cow<'static, str>)>> {
    let io = |e: std::io::Error, path: &Path| {
        Error::MigrationSource(Box::new(MigrationSourceError {
            file: path.display().to_string(),
            message: e.to_string(),
        }))
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io(e, dir))? {
        let entry = entry.map_err(|e| io(e, dir))?;
        let path = entry.path();
        let Some(filename) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !is_migration_file(filename) || !path.is_file() {
            continue;
        }
        let sql = std::fs::read_to_string(&path).map_err(|e| io(e, &path))?;
        files.push((filename.to_owned(), Cow::Owned(sql)));
    }
    Ok(files)
}

/// Writes the next migration file of `dir` (created if missing): one more
/// than the highest version, as wide as the widest existing number (three
/// digits in an empty directory).
pub(crate) fn create(dir: &Path, name: &str) -> Result<PathBuf> {
    let valid = !name.is_empty()
        && name.len() <= 200
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.starts_with('_');
    if !valid {
        return Err(source_error(
            name,
            "a migration name is letters, digits and underscores, not starting with `_`",
        ));
    }
    let io = |e: std::io::Error| {
        Error::MigrationSource(Box::new(MigrationSourceError {
            file: dir.display().to_string(),
            message: e.to_string(),
        }))
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    // Names only: the newest file may still be the empty one made last time.
    let mut next = 1;
    let mut width = 3;
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let name = entry.map_err(io)?.file_name();
        let Some(name) = name.to_str().filter(|n| is_migration_file(n)) else {
            continue;
        };
        if let Some((version, _)) = parse_filename(name) {
            next = next.max(version + 1);
            width = width.max(name.bytes().take_while(u8::is_ascii_digit).count());
        }
    }
    let path = dir.join(format!("{next:0width$}_{name}.sql"));
    let body = format!(
        "-- {name}\n-- Runs in one transaction; {{{{tables.NAME}}}} and {{{{schema}}}} expand to the manager's schema.\n"
    );
    // `create_new`: two runs at once never overwrite each other's file.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, body.as_bytes()))
        .map_err(io)?;
    Ok(path)
}

/// The version and name of a migration file: `NNN_name.sql`,
/// `VNNN__name.sql`, `YYYYMMDDHHMMSS_name.sql`, or the Python library's
/// `YYYYMMDD_HHMMSS_name.sql` (whose version is the whole timestamp, so two
/// files of one day do not collide).
pub(crate) fn parse_filename(filename: &str) -> Option<(u64, String)> {
    let stem = filename.strip_suffix(".sql")?;
    let (digits, rest) = match stem.strip_prefix('V') {
        Some(flyway) => {
            let end = flyway.find("__")?;
            (&flyway[..end], &flyway[end + 2..])
        }
        None => {
            let end = stem.find('_')?;
            let (date, rest) = (&stem[..end], &stem[end + 1..]);
            let time_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            if date.len() == 8 && time_len == 6 && rest.as_bytes().get(6) == Some(&b'_') {
                let version = format!("{date}{}", &rest[..6]).parse().ok()?;
                return Some((version, rest[7..].to_owned())).filter(|(_, n)| !n.is_empty());
            }
            (date, rest)
        }
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || rest.is_empty() {
        return None;
    }
    Some((digits.parse().ok()?, rest.to_owned()))
}

/// The Python library's checksum: it reads files with universal newlines
/// (`\r\n` and a lone `\r` become `\n`) and strips `str.isspace()` characters
/// from both ends before hashing.
pub(crate) fn checksum(sql: &str) -> String {
    let normalized = sql.replace("\r\n", "\n").replace('\r', "\n");
    let trimmed = normalized.trim_matches(is_python_space);
    let digest = Sha256::digest(trimmed.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
    }
    hex
}

/// Python's `str.isspace()`: Rust's whitespace plus the four ASCII
/// information separators.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// The 1-based line of byte `at` in `text`.
pub(crate) fn line_of(text: &str, at: usize) -> usize {
    text[..at].bytes().filter(|&b| b == b'\n').count() + 1
}

fn source_error(file: &str, message: &str) -> Error {
    Error::MigrationSource(Box::new(MigrationSourceError {
        file: file.to_owned(),
        message: message.to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_give_numeric_versions() {
        let cases = [
            ("001_users.sql", Some((1, "users"))),
            ("10_later.sql", Some((10, "later"))),
            ("V7__flyway_style.sql", Some((7, "flyway_style"))),
            ("20240101120000_stamp.sql", Some((20240101120000, "stamp"))),
            (
                "20240101_120000_python.sql",
                Some((20240101120000, "python")),
            ),
            ("20240101_users.sql", Some((20240101, "users"))),
            ("users.sql", None),
            ("001_.sql", None),
            ("V__x.sql", None),
            ("1a_x.sql", None),
            ("001_x.txt", None),
        ];
        for (file, want) in cases {
            let got = parse_filename(file);
            assert_eq!(got, want.map(|(v, n)| (v, n.to_owned())), "{file}");
        }
    }

    #[test]
    fn order_is_numeric_and_duplicates_are_refused() {
        let files = |names: &[&str]| {
            names
                .iter()
                .map(|n| (n.to_string(), Cow::Borrowed("SELECT 1;")))
                .collect::<Vec<_>>()
        };
        let order: Vec<_> = collect(files(&["10_c.sql", "2_b.sql", "1_a.sql", "notes.md"]))
            .unwrap()
            .into_iter()
            .map(|m| m.version)
            .collect();
        assert_eq!(order, [1, 2, 10]);
        let err = collect(files(&["001_a.sql", "1_b.sql"])).unwrap_err();
        assert!(err.to_string().contains("1_b.sql"), "{err}");
        let err = collect(files(&["x.sql"])).unwrap_err();
        assert!(matches!(err, Error::MigrationSource(_)), "{err}");
    }

    #[test]
    fn checksums_ignore_line_endings_and_surrounding_space() {
        let lf = checksum("CREATE TABLE t ();\nSELECT 1;\n");
        assert_eq!(
            lf,
            checksum("\r\n  CREATE TABLE t ();\r\nSELECT 1;\r\n\r\n")
        );
        assert_eq!(lf, checksum("CREATE TABLE t ();\rSELECT 1;\x1c"));
        assert_ne!(lf, checksum("CREATE TABLE t ();\nSELECT 2;\n"));
        // sha256 of the empty string, as Python's hashlib gives it.
        assert_eq!(
            checksum(" \n"),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn contents_are_checked_before_anything_runs() {
        let parse = |sql: &'static str| Migration::parse("001_x.sql".into(), Cow::Borrowed(sql));
        assert!(parse("-- only a comment\n").is_err());
        let err = parse("CREATE TABLE t ();\nCOMMIT;\nCREATE TABLE u ();").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let ok = parse("-- pgdbm:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);").unwrap();
        assert!(ok.no_transaction());
        let fine =
            parse("CREATE FUNCTION f() RETURNS void AS $$ BEGIN COMMIT; END $$ LANGUAGE plpgsql;")
                .unwrap();
        assert_eq!(fine.statements().count(), 1);
        let lines: Vec<_> = parse("SELECT 1;\n\nSELECT 2;")
            .unwrap()
            .statements()
            .map(|s| s.1)
            .collect();
        assert_eq!(lines, [1, 3]);
    }
}
