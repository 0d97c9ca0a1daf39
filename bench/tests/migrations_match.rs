//! migrations/sqlx is migrations/pgdbm with every `{{tables.NAME}}` written
//! as `NAME`: the set-up benchmark's two sets must not drift. With
//! `BLESS=1` this test writes migrations/sqlx from migrations/pgdbm.

use std::fs;
use std::path::Path;

/// A pgdbm template as plain SQL for the `public` schema.
fn plain(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find("{{tables.") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "{{tables.".len()..];
        let end = after.find("}}").expect("a closed {{tables.NAME}}");
        out.push_str(&after[..end]);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    assert!(!out.contains("{{"), "only {{{{tables.NAME}}}} is supported");
    out
}

fn sql_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    names.sort();
    names
}

#[test]
fn sqlx_migrations_are_the_pgdbm_ones_untemplated() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let (pgdbm, sqlx) = (root.join("pgdbm"), root.join("sqlx"));
    let names = sql_files(&pgdbm);
    assert_eq!(names.len(), 20, "the benchmark's set has 20 migrations");
    let bless = std::env::var_os("BLESS").is_some_and(|v| v == "1");
    if bless {
        for stale in sql_files(&sqlx) {
            fs::remove_file(sqlx.join(stale)).unwrap();
        }
    }
    for name in &names {
        let want = plain(&fs::read_to_string(pgdbm.join(name)).unwrap());
        if bless {
            fs::write(sqlx.join(name), &want).unwrap();
        }
        let got = fs::read_to_string(sqlx.join(name))
            .unwrap_or_else(|e| panic!("migrations/sqlx/{name}: {e} (BLESS=1 writes it)"));
        assert_eq!(
            got, want,
            "migrations/sqlx/{name} differs from migrations/pgdbm/{name} untemplated (BLESS=1 rewrites it)"
        );
    }
    assert_eq!(sql_files(&sqlx), names, "the same files in both sets");
}
