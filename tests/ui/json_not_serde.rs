#[derive(Debug)]
struct Prefs {
    theme: String,
}

#[derive(pgdbm::Table)]
struct User {
    #[pgdbm(primary_key)]
    id: i64,
    #[pgdbm(json)]
    prefs: Prefs,
}

fn main() {
    let _ = |p: Prefs| p.theme;
}
