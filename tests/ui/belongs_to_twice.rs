#[derive(pgdbm::Table)]
struct Customer {
    #[pgdbm(primary_key)]
    id: i64,
}

#[derive(pgdbm::Table)]
struct Shipment {
    #[pgdbm(primary_key)]
    id: i64,
    #[pgdbm(belongs_to = Customer)]
    sender: i64,
    #[pgdbm(belongs_to = Customer)]
    receiver: i64,
}

fn main() {}
