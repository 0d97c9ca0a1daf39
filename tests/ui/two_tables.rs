#[derive(pgdbm::Table)]
#[pgdbm(table = "users")]
#[pgdbm(table = "people")]
struct User {
    #[pgdbm(primary_key)]
    id: i64,
}

fn main() {}
