#[derive(pgdbm::Table)]
struct Item {
    #[pgdbm(primary_key)]
    id: i64,
    qty: i32,
}

fn main() {
    let _ = Item::QTY.eq(5i64);
}
