#[derive(pgdbm::Table)]
struct Point(i32, i32);

fn main() {}
