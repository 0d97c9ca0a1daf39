#[derive(pgdbm::Enum, Debug)]
enum Never {}

fn main() {}
