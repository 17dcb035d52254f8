//! `youmen token`: API tokens for staff and systems, printed once and stored as hashes.

use clap::Subcommand;

use crate::config::Settings;
use crate::domain::Role;
use crate::{auth, storage};

#[derive(Subcommand)]
pub(super) enum TokenCommand {
    /// Create a bearer token; it is printed once and stored only as a hash.
    Create {
        /// Who or what uses the token; recorded as the actor of its actions.
        #[arg(long)]
        name: String,
        /// counter, hotline, callback, duty_leader or admin.
        #[arg(long)]
        role: String,
    },
}

pub(super) async fn create_token(
    settings: &Settings,
    name: &str,
    role: &str,
) -> anyhow::Result<()> {
    let role: Role = role.parse()?;
    let name = name.trim();
    anyhow::ensure!(!name.is_empty(), "--name must not be empty");
    let store = storage::connect(&settings.database.url, 1).await?;
    store.migrate().await?;
    let token = auth::generate_token();
    let record = store
        .insert_token(name, role, &auth::hash_token(&token), crate::clock::now())
        .await?;
    eprintln!(
        "token #{} for `{}` with role {} ({}); it is shown only this once:",
        record.id,
        record.name,
        role,
        role.label_zh()
    );
    println!("{token}");
    Ok(())
}
