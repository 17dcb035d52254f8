//! `youmen report`: the conduct bulletin (行风建设通报) of a month or an ISO week, as a text
//! table, CSV, XLSX or JSON.

use std::io::Write;

use anyhow::Context;

use crate::bulletin::{compile, rows, to_csv, to_xlsx};
use crate::calendar_source;
use crate::config::Settings;
use crate::domain::bulletin::Period;
use crate::storage;

pub(super) async fn report(
    settings: &Settings,
    period: &str,
    format: &str,
    output: Option<&str>,
) -> anyhow::Result<()> {
    let calendar = calendar_source::load(settings)?;
    let today = calendar.local_date(crate::clock::now());
    let period = Period::parse(period, today).map_err(anyhow::Error::msg)?;
    let store = storage::connect(&settings.database.url, 2).await?;
    store.migrate().await?;
    let secrets = crate::secrets::Secrets::load(settings)?;
    let rules = settings.intake_rules(&secrets);
    let report = compile(store.as_ref(), calendar.timezone(), period).await?;
    let table = rows(&report, &rules);
    let title = format!("{}行风建设通报", report.period.title_zh());
    let body: Vec<u8> = match format {
        "html" | "table" | "text" => {
            let mut out = format!("{title}\n");
            for [section, item, n, of, note] in &table {
                out.push_str(&format!("{section}\t{item}\t{n}\t{of}\t{note}\n"));
            }
            out.into_bytes()
        }
        "csv" => to_csv(&table)?,
        "xlsx" => to_xlsx(&title, &table)?,
        "json" => serde_json::to_vec_pretty(&serde_json::json!({
            "period": report.period.code,
            "title": title,
            "rows": table,
            "counts": report.counts,
        }))?,
        other => anyhow::bail!("unknown format `{other}`: use table, csv, xlsx or json"),
    };
    match output {
        Some(path) => std::fs::write(path, &body).with_context(|| format!("writing {path}"))?,
        None if format == "xlsx" => anyhow::bail!("XLSX is binary: give --output FILE"),
        None => std::io::stdout().write_all(&body)?,
    }
    Ok(())
}
