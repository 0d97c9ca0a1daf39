#[derive(pgdbm::Table, Debug)]
struct Event {
    kind: String,
}

async fn first(db: &pgdbm::Database) -> pgdbm::Result<Option<Event>> {
    db.find::<Event>(&1).await
}

fn main() {
    let _ = first;
}
