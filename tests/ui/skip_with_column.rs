#[derive(pgdbm::FromRow)]
struct User {
    email: String,
    #[pgdbm(skip, column = "cache")]
    cache: Vec<u8>,
}

fn main() {}
