//! `youmen user`: staff accounts for the pages at /staff.

use std::io::IsTerminal;

use clap::Subcommand;

use crate::config::Settings;
use crate::domain::Role;
use crate::{auth, storage};

#[derive(Subcommand)]
pub(super) enum UserCommand {
    /// Add a staff account; the password is asked for without echo, or read from stdin.
    Add {
        #[arg(long)]
        username: String,
        /// counter, hotline, callback, duty_leader or admin; repeat for several.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// The name shown on the timeline, e.g. "王芳".
        #[arg(long)]
        name: String,
        /// Where deadline reminders and alarms go.
        #[arg(long)]
        email: Option<String>,
    },
    /// Set (or with no --email, clear) where a user's alerts go.
    Email {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: Option<String>,
    },
    /// Set (or with no --extension, clear) the telephone extension a PBX rings the user
    /// at: calls naming it pop up on their screen.
    Extension {
        #[arg(long)]
        username: String,
        #[arg(long)]
        extension: Option<String>,
    },
    /// Set a new password (at least 12 characters); the user's sessions end.
    Passwd {
        #[arg(long)]
        username: String,
    },
    /// Disable an account and end its sessions (or --enable it again).
    Disable {
        #[arg(long)]
        username: String,
        #[arg(long)]
        enable: bool,
    },
}

/// A password from the terminal (twice, without echo) or one line of stdin.
pub(super) fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ")?;
        let again = rpassword::prompt_password("again: ")?;
        anyhow::ensure!(first == again, "the two passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

pub(super) async fn user(settings: &Settings, command: UserCommand) -> anyhow::Result<()> {
    let store = storage::connect(&settings.database.url, 1).await?;
    store.migrate().await?;
    let now = crate::clock::now();
    match command {
        UserCommand::Email { username, email } => {
            anyhow::ensure!(
                store
                    .set_user_email(&username, email.as_deref(), now)
                    .await?,
                "no user {username}"
            );
            println!(
                "alerts of {username} go to {}",
                email.as_deref().unwrap_or("nobody")
            );
        }
        UserCommand::Extension {
            username,
            extension,
        } => {
            anyhow::ensure!(
                store.set_extension(&username, extension.as_deref()).await?,
                "no user {username}"
            );
            println!(
                "calls ring {username} at {}",
                extension.as_deref().unwrap_or("no extension")
            );
        }
        UserCommand::Add {
            username,
            roles,
            name,
            email,
        } => {
            let username = username.trim().to_owned();
            anyhow::ensure!(
                !username.is_empty()
                    && username
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
                "--username must be letters, digits, dots, dashes or underscores"
            );
            let roles = roles
                .iter()
                .flat_map(|r| r.split(','))
                .map(|r| r.trim().parse::<Role>())
                .collect::<Result<Vec<_>, _>>()?;
            anyhow::ensure!(
                !roles.contains(&Role::Pbx),
                "the pbx role is for machines: use `youmen token create`"
            );
            anyhow::ensure!(!name.trim().is_empty(), "--name must not be empty");
            let hash = auth::hash_password(read_password()?).await?;
            let user = store
                .create_user(
                    &storage::NewUser {
                        username,
                        display_name: name.trim().to_owned(),
                        password_hash: hash,
                        roles,
                    },
                    now,
                )
                .await
                .map_err(|e| match e {
                    storage::StoreError::Duplicate => anyhow::anyhow!("that username is taken"),
                    other => other.into(),
                })?;
            if let Some(email) = email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
                store
                    .set_user_email(&user.username, Some(email), now)
                    .await?;
            }
            let roles: Vec<&str> = user.roles.iter().map(|r| r.as_str()).collect();
            println!(
                "user {} ({}) added with role(s) {}",
                user.username,
                user.display_name,
                roles.join(", ")
            );
        }
        UserCommand::Passwd { username } => {
            let hash = auth::hash_password(read_password()?).await?;
            anyhow::ensure!(
                store.set_password(&username, &hash, false, now).await?,
                "no user {username}"
            );
            println!("password of {username} changed");
        }
        UserCommand::Disable { username, enable } => {
            anyhow::ensure!(
                store.set_disabled(&username, !enable, now).await?,
                "no user {username}"
            );
            println!(
                "{username} {}",
                if enable {
                    "enabled"
                } else {
                    "disabled; their sessions are ended"
                }
            );
        }
    }
    Ok(())
}
