//! Loads the working calendar from `config/calendar/*.toml`, with the years shipped in the
//! binary as a base, and keeps it fresh while the service runs: an administrator drops in
//! next year's file and it is used within a minute, no rebuild or restart needed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use anyhow::Context;

use crate::config::Settings;
use crate::domain::calendar::{parse_year_file, suspicious_makeup_days, YearCalendar};
use crate::domain::WorkingCalendar;

/// The official years compiled in, so a binary copied anywhere knows them.
const BUILT_IN: [(i32, &str); 2] = [
    (2025, include_str!("../config/calendar/2025.toml")),
    (2026, include_str!("../config/calendar/2026.toml")),
];

/// Reads the calendar from the built-in years and the configured folder.
pub fn load(settings: &Settings) -> anyhow::Result<WorkingCalendar> {
    let mut years: BTreeMap<i32, YearCalendar> = BTreeMap::new();
    for (year, text) in BUILT_IN {
        years.insert(
            year,
            parse_year_file(text, Some(year)).expect("built-in calendar is valid"),
        );
    }
    let dir = &settings.calendar.dir;
    if dir.is_dir() {
        for (year, path) in year_files(dir)? {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading calendar file {}", path.display()))?;
            let parsed = parse_year_file(&text, Some(year))
                .with_context(|| format!("calendar file {} is not valid", path.display()))?;
            for date in suspicious_makeup_days(&parsed) {
                tracing::warn!(%date, file = %path.display(), "make-up working day is not a weekend day");
            }
            years.insert(year, parsed);
        }
    } else {
        tracing::info!(dir = %dir.display(), "calendar folder not found; using the built-in years");
    }
    WorkingCalendar::new(
        settings.timezone()?,
        settings.working_periods()?,
        years.into_values(),
    )
    .context("building the working calendar")
}

/// `<year>.toml` files of a folder, by year.
fn year_files(dir: &Path) -> anyhow::Result<Vec<(i32, std::path::PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        let year = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|_| path.extension().is_some_and(|e| e == "toml"))
            .and_then(|s| s.parse::<i32>().ok());
        if let Some(year) = year {
            out.push((year, path));
        }
    }
    out.sort();
    Ok(out)
}

/// What the calendar folder looks like: its files' names, times and sizes.
pub type Fingerprint = Vec<(String, Option<SystemTime>, u64)>;

/// What the folder looks like now; a change means "reload".
pub fn fingerprint(dir: &Path) -> Fingerprint {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            Some((
                e.file_name().to_string_lossy().into_owned(),
                meta.modified().ok(),
                meta.len(),
            ))
        })
        .collect();
    out.sort();
    out
}

/// The calendar shared by requests and jobs; replaced whole when the files change.
#[derive(Clone)]
pub struct CalendarHandle(Arc<RwLock<Arc<WorkingCalendar>>>);

impl CalendarHandle {
    pub fn new(calendar: WorkingCalendar) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(calendar))))
    }

    pub fn current(&self) -> Arc<WorkingCalendar> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn replace(&self, calendar: WorkingCalendar) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(calendar);
    }

    /// Reloads the calendar if the folder changed since `seen` (which is then updated); a
    /// broken file is logged and the previous calendar kept.
    pub fn reload_if_changed(&self, settings: &Settings, seen: &mut Fingerprint) {
        let now = fingerprint(&settings.calendar.dir);
        if now == *seen {
            return;
        }
        *seen = now;
        match load(settings) {
            Ok(calendar) => {
                let years: Vec<i32> = calendar.official_years().collect();
                tracing::info!(?years, "working calendar reloaded");
                self.replace(calendar);
            }
            Err(e) => tracing::error!(
                error = format!("{e:#}"),
                "calendar not reloaded; keeping the previous one"
            ),
        }
    }
}
