#[derive(pgdbm::Table)]
#[pgdbm(schema = "accounts", table = "users")]
struct User {
    #[pgdbm(primary_key)]
    id: i64,
}

fn main() {}
