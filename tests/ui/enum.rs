#[derive(pgdbm::Table)]
enum Status {
    Active,
    Banned,
}

fn main() {}
