#[derive(pgdbm::Enum)]
struct Status {
    paid: bool,
}

fn main() {}
