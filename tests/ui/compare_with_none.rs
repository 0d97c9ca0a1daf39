#[derive(pgdbm::Table)]
struct Item {
    #[pgdbm(primary_key)]
    id: i64,
    note: Option<String>,
}

fn main() {
    let _ = Item::NOTE.eq(None);
}
