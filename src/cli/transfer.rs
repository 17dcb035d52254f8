//! `youmen export` and `youmen import`: the whole database to a file and into a new
//! PostgreSQL database.

use anyhow::Context;

use crate::config::Settings;
use crate::storage;

pub(super) async fn export(settings: &Settings, to: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    let file = std::fs::File::create(to).with_context(|| format!("creating {}", to.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let counts = storage::transfer::export(&settings.database.url, &mut out).await?;
    out.flush()?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    let total: u64 = counts.values().sum();
    println!(
        "exported {total} rows from {} tables to {}",
        counts.len(),
        to.display()
    );
    for (table, n) in counts.iter().filter(|(_, n)| **n > 0) {
        println!("  {table:<24} {n}");
    }
    Ok(())
}

pub(super) async fn import(settings: &Settings, from: &std::path::Path) -> anyhow::Result<()> {
    let url = &settings.database.url;
    let store = storage::connect(url, 2).await?;
    store.migrate().await?;
    let file = std::fs::File::open(from).with_context(|| format!("opening {}", from.display()))?;
    let imported = storage::transfer::import(url, std::io::BufReader::new(file)).await?;
    // Builds the search index of the imported cases.
    store.migrate().await?;
    let total: u64 = imported.counts.values().sum();
    println!(
        "imported {total} rows from a {} export into {}",
        imported.source_backend,
        store.backend()
    );
    for (table, n) in &imported.counts {
        println!("  {table:<24} {n}");
    }
    for chain in ["case_events", "audit_events"] {
        let report = store.verify_chain(chain).await?;
        match report.broken {
            None => println!("{chain}: {} events, the chain is intact", report.checked),
            Some(b) => anyhow::bail!("{chain}: the chain is broken after the import: {b}"),
        }
    }
    let audio = crate::recordings::AudioStore::new(&settings.hotline.audio_dir);
    let missing = store
        .recording_digests()
        .await?
        .iter()
        .filter(|sha| !audio.path_of(sha).is_file())
        .count();
    match missing {
        0 => println!(
            "every recording's audio is in {}",
            settings.hotline.audio_dir.display()
        ),
        n => println!(
            "{n} recordings have no audio file in {}: copy the old audio folder there",
            settings.hotline.audio_dir.display()
        ),
    }
    Ok(())
}
