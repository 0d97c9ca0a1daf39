// A `uuid::Uuid` field while pgdbm's `uuid` feature is off. This test
// crate enables every feature, so a local `uuid::Uuid` without `ToSql`
// stands in for the real one: without the feature, the real type implements
// neither `ToSql` nor `FromSql` either, and the derive picks the message by
// the type's name.
mod uuid {
    pub struct Uuid(pub [u8; 16]);
}

#[derive(pgdbm::Table)]
struct Session {
    #[pgdbm(primary_key)]
    id: uuid::Uuid,
    user_id: i64,
}

fn main() {
    let _ = |s: Session| (s.id.0, s.user_id);
}
