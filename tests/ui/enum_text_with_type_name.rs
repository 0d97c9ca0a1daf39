#[derive(pgdbm::Enum, Debug)]
#[pgdbm(text, type_name = "status")]
enum Status {
    Pending,
    Paid,
}

fn main() {}
