#[derive(pgdbm::FromRow)]
struct Row {
    #[pgdbm(primary_key)]
    id: i64,
}

fn main() {}
