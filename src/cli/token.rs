//! `youmen token`: API tokens for staff and systems, printed once and stored as hashes;
//! listed with when each was last used, and revoked.

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
        /// counter, hotline, callback, duty_leader, admin, or pbx (a PBX: voicemail and call events only).
        #[arg(long)]
        role: String,
        /// Days until it stops working (1 to 3650); without it, until revoked.
        #[arg(long)]
        expires_days: Option<u32>,
    },
    /// List every token: its number, name, role, expiry, last use, and whether revoked.
    List,
    /// Revoke a token by its number (from `token list`); it stops working at once.
    Revoke { id: i64 },
}

/// The actor the audit trail records for the command line (run by whoever holds the server).
const CLI_ACTOR: &str = "命令行 (youmen token)";

pub(super) async fn token(settings: &Settings, command: TokenCommand) -> anyhow::Result<()> {
    let store = storage::connect(&settings.database.url, 1).await?;
    store.migrate().await?;
    let now = crate::clock::now();
    match command {
        TokenCommand::Create {
            name,
            role,
            expires_days,
        } => {
            let role: Role = role.parse()?;
            let (token, record) =
                auth::issue_token(store.as_ref(), &name, role, expires_days, now).await?;
            store
                .audit(
                    CLI_ACTOR.into(),
                    "create_token",
                    &format!("token #{}", record.id),
                    Some(&format!("{} ({})", record.name, role.as_str())),
                    now,
                )
                .await?;
            let until = record.expires_at.map_or("until revoked".to_owned(), |at| {
                format!("until {}", at.format("%Y-%m-%d %H:%M UTC"))
            });
            eprintln!(
                "token #{} for `{}` with role {} ({}), {until}; it is shown only this once:",
                record.id,
                record.name,
                role,
                role.label_zh()
            );
            println!("{token}");
        }
        TokenCommand::List => {
            let day = |at: Option<chrono::DateTime<chrono::Utc>>, none: &str| {
                at.map_or(none.to_owned(), |at| {
                    at.format("%Y-%m-%d %H:%M").to_string()
                })
            };
            println!(
                "{:>5}  {:<12}  {:<16}  {:<16}  {:<16}  {:<16}  name",
                "id", "role", "created (UTC)", "expires", "last used", "revoked"
            );
            for t in store.list_tokens().await? {
                println!(
                    "{:>5}  {:<12}  {:<16}  {:<16}  {:<16}  {:<16}  {}",
                    t.id,
                    t.role.as_str(),
                    day(Some(t.created_at), ""),
                    day(t.expires_at, "never"),
                    day(t.last_used_at, "never"),
                    day(t.revoked_at, "-"),
                    t.name
                );
            }
        }
        TokenCommand::Revoke { id } => match store.revoke_token(id, now).await? {
            Some(true) => {
                store
                    .audit(
                        CLI_ACTOR.into(),
                        "revoke_token",
                        &format!("token #{id}"),
                        None,
                        now,
                    )
                    .await?;
                println!("token #{id} revoked");
            }
            Some(false) => println!("token #{id} was already revoked"),
            None => anyhow::bail!("there is no token #{id} (see `youmen token list`)"),
        },
    }
    Ok(())
}
