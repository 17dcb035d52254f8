//! Times as clients type them: an RFC 3339 instant, or a local date.

use chrono::{DateTime, NaiveDate, Utc};

use super::error::{ApiError, Text};

/// An optional instant: absent or blank is None; otherwise as [`parse_instant_or_day`].
pub fn optional_instant(
    field: &str,
    raw: Option<&str>,
    tz: chrono_tz::Tz,
    days_after: u64,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    raw.filter(|s| !s.trim().is_empty())
        .map(|s| parse_instant_or_day(field, s, tz, days_after))
        .transpose()
}

/// An RFC 3339 instant or a local date (its start), for the field `field`.
pub fn parse_instant(field: &str, raw: &str, tz: chrono_tz::Tz) -> Result<DateTime<Utc>, ApiError> {
    parse_instant_or_day(field, raw, tz, 0)
}

/// An RFC 3339 instant, or a local date meaning the start of that day plus `days_after`
/// days (1 for an inclusive "to" date: the start of the next day).
pub fn parse_instant_or_day(
    field: &str,
    raw: &str,
    tz: chrono_tz::Tz,
    days_after: u64,
) -> Result<DateTime<Utc>, ApiError> {
    use chrono::SubsecRound;
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        // Microseconds: what both databases keep.
        return Ok(t.with_timezone(&Utc).trunc_subsecs(6));
    }
    if let Some(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.checked_add_days(chrono::Days::new(days_after)))
    {
        if let Some(t) = d
            .and_hms_opt(0, 0, 0)
            .and_then(|n| n.and_local_timezone(tz).earliest())
        {
            return Ok(t.with_timezone(&Utc));
        }
    }
    Err(ApiError::invalid(
        field,
        "invalid_time",
        Text::new(
            format!("时间格式不对：请用 2026-11-28T09:30:00+08:00 或 2026-11-28（{raw}）"),
            format!("Not a time: use 2026-11-28T09:30:00+08:00 or 2026-11-28 (got `{raw}`)"),
        ),
    ))
}
