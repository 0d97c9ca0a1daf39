// The directory is a string literal.
fn main() {
    let _ = pgdbm::embed_migrations!(migrations);
}
