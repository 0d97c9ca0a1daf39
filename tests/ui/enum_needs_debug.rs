// tokio-postgres' `ToSql` requires `Debug`, so a derived enum needs it too.
#[derive(pgdbm::Enum)]
enum Status {
    Pending,
    Paid,
}

fn main() {}
