#[derive(pgdbm::Table)]
struct User {
    #[pgdbm(primary_key)]
    id: i64,
    name: String,
    #[pgdbm(column = "name")]
    display_name: String,
}

fn main() {}
