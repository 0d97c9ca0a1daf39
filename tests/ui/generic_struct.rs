#[derive(pgdbm::Table)]
struct Wrapper<T> {
    #[pgdbm(primary_key)]
    id: i64,
    value: T,
}

fn main() {}
