// Every error in the input is reported in one build.
#[derive(pgdbm::Table)]
#[pgdbm(table = "users")]
struct User {
    #[pgdbm(primary_key, auto_increment)]
    id: i64,
    #[pgdbm(column = "id")]
    user_id: i64,
    #[pgdbm(skip, json)]
    cache: Vec<u8>,
}

fn main() {}
