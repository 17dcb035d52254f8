//! `calendar_reload`: the calendar folder is checked every minute for a new or changed year
//! file, and the calendar replaced whole when one is found.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::{periodic, Schedule, Stop};
use crate::calendar_source::{fingerprint, CalendarHandle};
use crate::config::Settings;

const EVERY: Duration = Duration::from_secs(60);

pub fn spawn(calendar: CalendarHandle, settings: Settings, stop: Stop) -> JoinHandle<()> {
    let mut seen = fingerprint(&settings.calendar.dir);
    let schedule = Schedule {
        every: EVERY,
        wait_first: true,
        wake: None,
    };
    periodic("calendar_reload", schedule, stop, move || {
        calendar.reload_if_changed(&settings, &mut seen);
        async { Ok(()) }
    })
}
