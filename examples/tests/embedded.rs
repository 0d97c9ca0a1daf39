//! `embed_migrations!` holds exactly what the directory holds. Edits and
//! removals rebuild through the macro's `include_str!`s, additions through
//! this package's build script (`build.rs`); `.ci/embed_rebuild.sh` adds,
//! edits and removes a file and runs this test after each change, so a
//! build that missed one fails here.

#[test]
fn the_embedded_set_is_the_directory() {
    let embedded = pgdbm::embed_migrations!("migrations/users").unwrap();
    let on_disk =
        pgdbm::Migrator::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/users"))
            .unwrap();
    let files = |m: &pgdbm::Migrator| -> Vec<(String, String)> {
        m.migrations()
            .iter()
            .map(|m| (m.filename().to_owned(), m.checksum().to_owned()))
            .collect()
    };
    assert_eq!(files(&embedded), files(&on_disk));
}
