//! Rebuilds when a migration file is added: `embed_migrations!` includes
//! each file it finds, which covers edits and removals, but stable Rust lets
//! no macro watch a directory for new files.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
