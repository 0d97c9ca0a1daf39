#[derive(pgdbm::Table)]
struct User {
    #[pgdbm(primary_key, skip)]
    id: i64,
    email: String,
}

fn main() {}
