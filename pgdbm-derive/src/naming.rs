//! Default names: the table of a struct and the constant of a field.

/// Splits `name` into words at case boundaries and underscores, then joins
/// them lower-cased with `_`: `OrderLine` → `order_line`,
/// `HTTPRequest` → `http_request`, `already_snake` stays as it is.
pub(crate) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let boundary = prev.is_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_uppercase() && next_is_lower);
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The constant name of a field: `full_name` → `FULL_NAME`,
/// `createdAt` → `CREATED_AT`.
pub(crate) fn screaming_snake_case(name: &str) -> String {
    snake_case(name).to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_of_struct_names() {
        assert_eq!(snake_case("User"), "user");
        assert_eq!(snake_case("OrderLine"), "order_line");
        assert_eq!(snake_case("HTTPRequest"), "http_request");
        assert_eq!(snake_case("UserV2"), "user_v2");
        assert_eq!(snake_case("Order2Line"), "order2_line");
        assert_eq!(snake_case("already_snake"), "already_snake");
        assert_eq!(snake_case("Weird_Name"), "weird_name");
        assert_eq!(snake_case("A"), "a");
    }

    #[test]
    fn screaming_snake_case_of_field_names() {
        assert_eq!(screaming_snake_case("id"), "ID");
        assert_eq!(screaming_snake_case("full_name"), "FULL_NAME");
        assert_eq!(screaming_snake_case("createdAt"), "CREATED_AT");
        assert_eq!(screaming_snake_case("_hidden"), "_HIDDEN");
        assert_eq!(screaming_snake_case("a__b"), "A__B");
    }
}
