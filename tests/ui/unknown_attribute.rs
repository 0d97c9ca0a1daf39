#[derive(pgdbm::Table)]
struct User {
    #[pgdbm(primary_key, rename = "user_id")]
    id: i64,
}

fn main() {}
