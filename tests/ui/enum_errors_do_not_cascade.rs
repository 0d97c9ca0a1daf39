// The enum's derive fails; the table and the filter that use it add no
// errors of their own.
#[derive(pgdbm::Enum, Debug)]
#[pgdbm(rename_all = "shouting")]
enum Status {
    Pending,
    Paid,
}

#[derive(pgdbm::Table)]
struct Order {
    #[pgdbm(primary_key)]
    id: i64,
    status: Status,
}

fn main() {
    let _ = Order::STATUS.eq(Status::Paid);
}
