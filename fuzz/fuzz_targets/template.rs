//! Template expansion never panics, and whatever the schema, a name stays
//! inside the context its placeholder stands in: the expansion lexes into
//! the same tokens (kinds and depths, dollar-quoted bodies included) as the
//! expansion for the plain schema `s`, or it is refused.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pgdbm::__fuzz;

/// Token kinds and depths, with the bodies of dollar-quoted strings read
/// as SQL too, as the template expansion reads them.
fn shape(sql: &str, out: &mut Vec<(&'static str, u32)>, level: u32) {
    for (kind, range, depth) in __fuzz::tokens(sql) {
        out.push((kind, depth));
        let text = &sql[range];
        if kind == "string" && text.starts_with('$') && level < 8 {
            if let Some(body) = dollar_body(text) {
                out.push(("body", level));
                shape(body, out, level + 1);
                out.push(("end of body", level));
            }
        }
    }
}

fn dollar_body(token: &str) -> Option<&str> {
    let close = token[1..].find('$')? + 2;
    let tag = &token[..close];
    token[close..].strip_suffix(tag)
}

fn shape_of(sql: &str) -> Vec<(&'static str, u32)> {
    let mut out = Vec::new();
    shape(sql, &mut out, 0);
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The schema, then the template, split at the first NUL (a name never
    // holds one).
    let (schema, template) = text.split_once('\0').unwrap_or(("s", text));

    let plain = __fuzz::expand(template, Some("s"));
    let none = __fuzz::expand(template, None);
    if !template.contains("{{") {
        assert_eq!(plain.as_deref().ok(), Some(template));
        assert_eq!(none.as_deref().ok(), Some(template));
    }
    let Ok(hostile) = __fuzz::expand(template, Some(schema)) else {
        return;
    };
    // Every refusal that depends on the name is for a name that would
    // leave its context, which `s` never does.
    let plain = plain
        .unwrap_or_else(|e| panic!("{template:?}: refused for `s` ({e}) but not for {schema:?}"));
    assert_eq!(
        shape_of(&hostile),
        shape_of(&plain),
        "{template:?} with {schema:?}: {hostile:?} vs {plain:?}"
    );
});
