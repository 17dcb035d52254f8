//! `youmen audit verify`: every event chain walked, the first break reported.

use clap::Subcommand;

use crate::config::Settings;
use crate::storage;

#[derive(Subcommand)]
pub(super) enum AuditCommand {
    /// Walk every event chain and report the first event that was edited, inserted or
    /// deleted; exits non-zero if one was.
    Verify,
}

pub(super) async fn audit_verify(settings: &Settings) -> anyhow::Result<()> {
    let store = storage::connect(&settings.database.url, 2).await?;
    store.migrate().await?;
    let mut broken = 0;
    for (chain, what) in [
        ("case_events", "case timelines"),
        ("audit_events", "audit events"),
    ] {
        let report = store.verify_chain(chain).await?;
        let legacy = match report.legacy {
            0 => String::new(),
            n => format!(" ({n} older events from before the chain are not covered)"),
        };
        match &report.broken {
            None => println!(
                "{what}: {} events verified, the chain is intact{legacy}",
                report.checked
            ),
            Some(b) => {
                broken += 1;
                println!(
                    "{what}: BROKEN after {} good events: {b}{legacy}",
                    report.checked
                );
            }
        }
    }
    anyhow::ensure!(broken == 0, "the audit trail was tampered with");
    Ok(())
}
