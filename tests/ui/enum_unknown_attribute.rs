#[derive(pgdbm::Enum, Debug)]
#[pgdbm(schema = "billing", case = "snake")]
enum Status {
    #[pgdbm(label = "pending")]
    Pending,
    Paid,
}

fn main() {}
