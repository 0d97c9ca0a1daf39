struct Address {
    street: String,
}

#[derive(pgdbm::Table)]
struct User {
    #[pgdbm(primary_key)]
    id: i64,
    address: Address,
}

fn main() {
    let _ = |a: Address| a.street;
}
