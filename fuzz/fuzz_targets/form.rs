//! Untrusted form input: an `application/x-www-form-urlencoded` body decoded into the
//! website message form (`domain::website::validate`) and into a registration form
//! (`domain::registration::register`, the staff/hotline API path), and each admitted
//! (`domain::submission::Submission::admit`).
//!
//! The HTTP layer's own decoding struct (`http::website::pages::MessageFields`) and its
//! `consent()` helper are private, so this harness mirrors them: same field names, same
//! accepted consent words. Keys starting with `_` are harness knobs, not form fields.
#![no_main]

use std::sync::LazyLock;

use chrono::{DateTime, Duration, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use youmen::domain::calendar::{parse_year_file, WorkingCalendar};
use youmen::domain::phone::LocalDialing;
use youmen::domain::registration::{register, IntakeRules, Matter, RegistrationForm};
use youmen::domain::website::{validate, MessageForm};

static CALENDAR: LazyLock<WorkingCalendar> = LazyLock::new(|| {
    let years = [
        include_str!("../../config/calendar/2025.toml"),
        include_str!("../../config/calendar/2026.toml"),
    ]
    .map(|t| parse_year_file(t, None).expect("shipped calendar file"));
    let periods = vec![
        "08:30-12:00".parse().unwrap(),
        "13:00-17:00".parse().unwrap(),
    ];
    WorkingCalendar::new(chrono_tz::Asia::Shanghai, periods, years).unwrap()
});

static RULES: LazyLock<IntakeRules> = LazyLock::new(|| IntakeRules {
    dialing: LocalDialing::default(),
    matters: vec![
        Matter {
            code: "pensions".into(),
            zh: "养老保险".into(),
            en: "Pensions".into(),
        },
        Matter {
            code: "wages".into(),
            zh: "工资拖欠".into(),
            en: "Unpaid wages".into(),
        },
    ],
    description_max_chars: 2000,
    name_max_chars: 50,
    id_card_pepper: "fuzz".into(),
    id_card_key: [5; 32],
    future_tolerance: Duration::minutes(5),
});

fn consent(raw: &str) -> bool {
    matches!(raw.trim(), "yes" | "on" | "true" | "1")
}

fuzz_target!(|data: &[u8]| {
    let mut form = MessageForm::default();
    let mut reg = RegistrationForm {
        channel: "counter".into(),
        ..Default::default()
    };
    // Base: 2026-11-27 10:00 Asia/Shanghai, a working Friday morning.
    let base = Utc.with_ymd_and_hms(2026, 11, 27, 2, 0, 0).unwrap();
    let mut now = base;
    for (key, value) in form_urlencoded::parse(data) {
        match &*key {
            "name" => {
                form.name = value.to_string();
                reg.citizen_name = Some(value.to_string());
            }
            "phone" => {
                form.phone = value.to_string();
                reg.phone = Some(value.to_string());
            }
            "email" => form.email = value.to_string(),
            "matter" => {
                form.matter = value.to_string();
                reg.matter = value.to_string();
            }
            "description" => {
                form.description = value.to_string();
                reg.description = value.to_string();
            }
            "consent" => form.consent = consent(&value),
            "channel" => reg.channel = value.to_string(),
            "id_card" => reg.id_card = Some(value.to_string()),
            // As the case API reads it: an RFC 3339 instant.
            "received_at" => {
                reg.received_at = DateTime::parse_from_rfc3339(value.trim())
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            }
            // Harness knob: move the clock within about ±3 years of the base.
            "_now" => {
                if let Ok(secs) = value.trim().parse::<i64>() {
                    now = base + Duration::seconds(secs.clamp(-100_000_000, 100_000_000));
                }
            }
            _ => {}
        }
    }
    match validate(&form, &RULES, now) {
        Ok(message) => {
            assert!(message.submission.callback.is_some());
            assert_eq!(message.fold_key.len(), 64);
            // Admission may refuse a time the calendar cannot count from, never panic.
            if let Ok(admission) = message.submission.admit(&CALENDAR) {
                assert!(admission.case.callback.is_some());
            }
        }
        Err(errors) => assert!(!errors.is_empty()),
    }
    match register(reg, &RULES, "fuzz".into(), now) {
        Ok(submission) => {
            let _ = submission.admit(&CALENDAR);
        }
        Err(errors) => assert!(!errors.is_empty()),
    }
});
