#[derive(pgdbm::Enum, Debug)]
#[pgdbm(rename_all = "lowercase")]
enum Status {
    Paid,
    #[pgdbm(rename = "paid")]
    AlsoPaid,
}

fn main() {}
