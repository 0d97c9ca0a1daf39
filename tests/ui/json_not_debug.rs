#[derive(serde::Serialize, serde::Deserialize)]
struct Prefs {
    theme: String,
}

#[derive(pgdbm::Table)]
struct User {
    #[pgdbm(primary_key)]
    id: i64,
    #[pgdbm(json)]
    prefs: Option<Prefs>,
}

fn main() {}
