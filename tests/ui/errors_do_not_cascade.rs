// One real error; the code using the derived items compiles against the
// fallback's stubs instead of adding errors of its own.
use pgdbm::Table;

#[derive(pgdbm::Table)]
#[pgdbm(table = "users", tabel = "x")]
struct User {
    #[pgdbm(primary_key)]
    id: i64,
    email: String,
}

fn main() {
    let _ = User::EMAIL.name();
    let _ = <User as Table>::TABLE;
    let _: <User as Table>::Key = 5i64;
}
