#[derive(pgdbm::FromRow)]
struct Nothing;

fn main() {}
