//! Rebuild when a migration is added or changed: `sqlx::migrate!` embeds the migration files
//! at compile time, and without this Cargo does not know it read them (a new or edited
//! migration would otherwise be left out of an incremental build).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
