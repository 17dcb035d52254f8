//! `youmen retention`: the retention rules applied now, or what is due listed.

use crate::config::Settings;
use crate::storage;

pub(super) async fn retention(
    settings: &Settings,
    dry_run: bool,
    as_of: Option<&str>,
    format: &str,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        matches!(format, "table" | "json"),
        "--format must be table or json, not `{format}`"
    );
    let store = storage::connect(&settings.database.url, 2).await?;
    store.migrate().await?;
    let retention = crate::retention::Retention::new(
        store,
        crate::recordings::AudioStore::new(&settings.hotline.audio_dir),
        settings.retention.clone(),
    );
    let tz = settings.timezone()?;
    let now = match as_of {
        None => chrono::Utc::now(),
        Some(day) => {
            let day: chrono::NaiveDate = day
                .parse()
                .map_err(|_| anyhow::anyhow!("--as-of `{day}` is not a date like 2027-06-30"))?;
            day.and_time(chrono::NaiveTime::MIN)
                .and_local_timezone(tz)
                .earliest()
                .ok_or_else(|| anyhow::anyhow!("--as-of `{day}` has no midnight here"))?
                .with_timezone(&chrono::Utc)
        }
    };
    if !dry_run {
        let done = retention
            .run(now, "cli:retention".into(), &crate::work::Stop::new())
            .await?;
        match format {
            "json" => println!("{}", serde_json::to_string_pretty(&done)?),
            _ => println!("{done}"),
        }
        anyhow::ensure!(
            done.failures == 0,
            "{} files could not be deleted (see the log); run again after fixing the audio folder",
            done.failures
        );
        return Ok(());
    }
    let plan = retention.plan(now, u32::MAX).await?;
    if format == "json" {
        println!("{}", serde_json::to_string_pretty(&plan)?);
        return Ok(());
    }
    let day =
        |at: chrono::DateTime<chrono::Utc>| at.with_timezone(&tz).format("%Y-%m-%d").to_string();
    match plan.recordings_closed_before {
        None => println!("Recordings are kept (retention.recordings_days = 0)."),
        Some(before) => {
            println!(
                "Recordings of cases finished before {} would be deleted: {}",
                day(before),
                plan.recordings.len()
            );
            for r in &plan.recordings {
                println!(
                    "  {}  recording #{}  {} bytes  finished {}",
                    r.case_number,
                    r.id,
                    r.bytes.unwrap_or(0),
                    day(r.closed_at)
                );
            }
            println!(
                "Quarantine entries not seen since then would be deleted: {}",
                plan.quarantine.len()
            );
            for (id, path) in &plan.quarantine {
                println!("  #{id}  {path}");
            }
            println!(
                "Announced recordings received before then whose caller and address would be cleared: {}",
                plan.downloads
            );
        }
    }
    match plan.anonymize_closed_before {
        None => println!("Cases are never anonymized (retention.anonymize_after_years = 0)."),
        Some(before) => {
            println!(
                "Cases finished before {} would be anonymized: {}",
                day(before),
                plan.cases.len()
            );
            for c in &plan.cases {
                println!("  {}  finished {}", c.case_number, day(c.closed_at));
            }
        }
    }
    println!("Nothing was changed (dry run).");
    Ok(())
}
