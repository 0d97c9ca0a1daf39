//! The lexer and every check built on it never panic, and keep the
//! invariants their callers rely on.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pgdbm::__fuzz;

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };

    // Tokens are non-empty, in order, apart, and cut at character
    // boundaries (slicing would panic otherwise).
    let tokens = __fuzz::tokens(sql);
    let mut last_end = 0;
    for (kind, range, _) in &tokens {
        assert!(
            range.start >= last_end,
            "{sql:?}: overlapping {kind} at {range:?}"
        );
        assert!(range.start < range.end, "{sql:?}: empty {kind}");
        assert!(
            sql.get(range.clone()).is_some(),
            "{sql:?}: {kind} {range:?} splits a character"
        );
        last_end = range.end;
    }
    // The text outside the tokens is only whitespace and comments: a
    // letter there would be a word the checks never looked at.
    let mut gaps = String::new();
    let mut at = 0;
    for (_, range, _) in &tokens {
        gaps.push_str(&sql[at..range.start]);
        gaps.push(' ');
        at = range.end;
    }
    gaps.push_str(&sql[at..]);
    assert!(
        __fuzz::tokens(&gaps).is_empty(),
        "{sql:?}: tokens hide in {gaps:?}"
    );

    assert_eq!(
        __fuzz::is_blank(sql),
        tokens
            .iter()
            .all(|(kind, range, _)| *kind == "punctuation" && &sql[range.clone()] == ";"),
        "{sql:?}"
    );

    if let Some((statement, advice, _)) = __fuzz::session_statement(sql) {
        assert!(!statement.is_empty() && !advice.is_empty(), "{sql:?}");
    }

    if let Some((end, arity)) = __fuzz::single_row_insert(sql) {
        assert!(arity >= 1, "{sql:?}");
        let head = &sql[..end];
        assert!(
            head.to_ascii_uppercase().ends_with("VALUES"),
            "{sql:?}: {head:?}"
        );
    }

    let _ = __fuzz::has_top_level_returning(sql);
    // The clause and one separating space are added, nothing is removed.
    let with = __fuzz::append_returning(sql, "id");
    let added = "RETURNING \"id\"".len() + usize::from(!sql.is_empty());
    assert_eq!(with.len(), sql.len() + added, "{sql:?}");
    assert!(with.contains("RETURNING \"id\""), "{sql:?}");
});
