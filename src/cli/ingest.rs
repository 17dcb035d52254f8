//! `youmen ingest voicemail`: one pass over the PBX's spool, or the quarantine's list.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use crate::config::Settings;
use crate::{storage, telemetry};

#[derive(Subcommand)]
pub(super) enum IngestCommand {
    /// One pass over the Asterisk voicemail spool (each message exactly once), or with
    /// --quarantine, the list of what could not be ingested and why.
    Voicemail {
        /// The spool folder (<astspooldir>/voicemail); defaults to hotline.spool_dir.
        #[arg(long, value_name = "DIR")]
        spool: Option<PathBuf>,
        /// List the quarantine instead of ingesting.
        #[arg(long)]
        quarantine: bool,
        /// With --quarantine: include entries already resolved by a later ingest.
        #[arg(long, requires = "quarantine")]
        all: bool,
    },
}

pub(super) async fn ingest_voicemail(
    settings: &Settings,
    spool: Option<PathBuf>,
) -> anyhow::Result<()> {
    let spool = spool
        .or_else(|| Some(settings.hotline.spool_dir.clone()).filter(|p| !p.as_os_str().is_empty()))
        .context("give --spool DIR or set hotline.spool_dir")?;
    telemetry::init(&crate::config::LogSettings {
        format: "pretty".into(),
        level: "warn".into(),
    });
    let ingestor = crate::app::ingestor(settings).await?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} messages {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let progress = |done: usize, total: usize| {
        if let Some(bar) = &bar {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    };
    let summary = ingestor.ingest_spool(&spool, &progress).await?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    println!("{summary}");
    if summary.quarantined + summary.orphans > 0 {
        println!("see them with: youmen ingest voicemail --quarantine");
    }
    Ok(())
}

pub(super) async fn list_quarantine(settings: &Settings, all: bool) -> anyhow::Result<()> {
    let store = storage::connect(&settings.database.url, 1).await?;
    store.migrate().await?;
    let items = store.quarantine_list(all).await?;
    if items.is_empty() {
        println!("the quarantine is empty");
    }
    for item in items {
        let state = match item.resolved_at {
            Some(at) => format!("resolved {}", at.to_rfc3339()),
            None => format!(
                "{} attempt(s), last {}",
                item.attempts,
                item.last_seen_at.to_rfc3339()
            ),
        };
        println!("{}\n  reason: {}\n  {state}", item.path, item.reason);
    }
    Ok(())
}
