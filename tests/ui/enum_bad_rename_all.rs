#[derive(pgdbm::Enum, Debug)]
#[pgdbm(rename_all = "snake-case")]
enum Status {
    Pending,
    Paid,
}

fn main() {}
