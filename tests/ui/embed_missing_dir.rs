// A migrations directory that does not exist is an error at the path.
fn main() {
    let _ = pgdbm::embed_migrations!("no/such/migrations");
}
