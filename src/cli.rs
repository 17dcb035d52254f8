//! The command line. `main` calls [`run`]; every command is a thin call into the library.

use std::path::PathBuf;
use std::process::ExitCode;

use std::io::IsTerminal;

use anyhow::Context;
use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use clap::{Parser, Subcommand};

use crate::app::{shutdown_signal, Application};
use crate::calendar_source;
use crate::config::Settings;
use crate::domain::calendar::DayKind;
use crate::domain::Role;
use crate::{auth, storage, telemetry};

#[derive(Parser)]
#[command(
    name = "youmen",
    version,
    about = "有门 youmen: one case queue for the can't-get-it-done window (办不成事反映窗口)",
    long_about = "youmen takes reports from the counter, the two hotlines and the website into one case queue, \
                  with working-day deadlines from the official Chinese calendar.\n\n\
                  Configuration: config/default.toml, then --config FILE, then YOUMEN__SECTION__KEY \
                  environment variables (the environment wins)."
)]
struct Cli {
    /// A configuration file layered over config/default.toml.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (HTTP API), applying migrations first.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// API tokens for staff and systems.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The working calendar: openings, holidays and make-up working days.
    #[command(subcommand)]
    Calendar(CalendarCommand),
    /// Take in what the channels left: voicemail from the PBX spool.
    #[command(subcommand)]
    Ingest(IngestCommand),
    /// The tamper-evident audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Staff accounts for the web UI at /staff.
    #[command(subcommand)]
    User(UserCommand),
    /// Write the whole database (SQLite or PostgreSQL) to a file, to move it to PostgreSQL
    /// with `youmen import`. Stop the service first so nothing changes meanwhile.
    Export {
        /// The file to write (JSON Lines).
        #[arg(long, value_name = "FILE")]
        to: std::path::PathBuf,
    },
    /// Load a `youmen export` file into the configured PostgreSQL database, which must be new
    /// and empty; all or nothing, then the audit chains are verified.
    Import {
        /// The file `youmen export` wrote.
        #[arg(long, value_name = "FILE")]
        from: std::path::PathBuf,
    },
    /// Apply the retention rules ([retention]) now: delete the recordings and anonymize the
    /// personal fields of closed cases that are due. The service also does this by itself.
    Retention {
        /// List what is due without changing anything.
        #[arg(long)]
        dry_run: bool,
        /// With --dry-run: what will be due on this day (e.g. 2027-06-30) instead of now.
        #[arg(long, value_name = "DATE", requires = "dry_run")]
        as_of: Option<String>,
        /// table (default) or json
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// The next-morning callback list of a working day (today by default).
    #[command(args_conflicts_with_subcommands = true)]
    Callbacks {
        #[command(subcommand)]
        command: Option<CallbacksCommand>,
        /// The working day, e.g. 2026-10-08.
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
        /// table (default), csv or json
        #[arg(long, default_value = "table")]
        format: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk every event chain and report the first event that was edited, inserted or
    /// deleted; exits non-zero if one was.
    Verify,
}

#[derive(Subcommand)]
enum UserCommand {
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
    /// Set a new password (and lift a lock-out).
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

#[derive(Subcommand)]
enum CallbacksCommand {
    /// Generate the list of a working day now (idempotent; the server does it at each opening).
    Generate {
        #[arg(long, value_name = "DATE")]
        date: String,
    },
}

#[derive(Subcommand)]
enum IngestCommand {
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

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a bearer token; it is printed once and stored only as a hash.
    Create {
        /// Who or what uses the token; recorded as the actor of its actions.
        #[arg(long)]
        name: String,
        /// counter, hotline, callback, duty_leader or admin.
        #[arg(long)]
        role: String,
    },
}

#[derive(Subcommand)]
enum CalendarCommand {
    /// The next opening of the window at or after a time (RFC 3339), printed as RFC 3339.
    NextOpening {
        /// e.g. 2026-02-13T19:30:00+08:00; defaults to now.
        time: Option<String>,
    },
    /// Working days, holidays and make-up days of a month, e.g. 2026-10.
    Show {
        /// YYYY-MM
        month: String,
    },
    /// Check the calendar files and list which years are official.
    Check,
}

pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("youmen: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => {
            telemetry::init(&settings.log);
            Application::build(settings)
                .await?
                .run_until(shutdown_signal())
                .await
        }
        Command::Migrate => {
            let store = storage::connect(&settings.database.url, 1).await?;
            store.migrate().await?;
            println!("migrations applied ({})", store.backend());
            Ok(())
        }
        Command::Token(TokenCommand::Create { name, role }) => {
            create_token(&settings, &name, &role).await
        }
        Command::Calendar(command) => calendar(&settings, command),
        Command::User(command) => user(&settings, command).await,
        Command::Audit(AuditCommand::Verify) => audit_verify(&settings).await,
        Command::Export { to } => export(&settings, &to).await,
        Command::Import { from } => import(&settings, &from).await,
        Command::Retention {
            dry_run,
            as_of,
            format,
        } => retention(&settings, dry_run, as_of.as_deref(), &format).await,
        Command::Callbacks {
            command,
            date,
            format,
        } => callbacks(&settings, command, date, &format).await,
        Command::Ingest(IngestCommand::Voicemail {
            spool,
            quarantine,
            all,
        }) => {
            if quarantine {
                list_quarantine(&settings, all).await
            } else {
                ingest_voicemail(&settings, spool).await
            }
        }
    }
}

async fn create_token(settings: &Settings, name: &str, role: &str) -> anyhow::Result<()> {
    let role: Role = role.parse()?;
    let name = name.trim();
    anyhow::ensure!(!name.is_empty(), "--name must not be empty");
    let store = storage::connect(&settings.database.url, 1).await?;
    store.migrate().await?;
    let token = auth::generate_token();
    let record = store
        .insert_token(name, role, &auth::hash_token(&token), crate::clock::now())
        .await?;
    eprintln!(
        "token #{} for `{}` with role {} ({}); it is shown only this once:",
        record.id,
        record.name,
        role,
        role.label_zh()
    );
    println!("{token}");
    Ok(())
}

async fn ingest_voicemail(settings: &Settings, spool: Option<PathBuf>) -> anyhow::Result<()> {
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

async fn list_quarantine(settings: &Settings, all: bool) -> anyhow::Result<()> {
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

async fn export(settings: &Settings, to: &std::path::Path) -> anyhow::Result<()> {
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

async fn import(settings: &Settings, from: &std::path::Path) -> anyhow::Result<()> {
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

async fn retention(
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
            .run(now, "cli:retention", &crate::work::Stop::new())
            .await?;
        match format {
            "json" => println!("{}", serde_json::to_string_pretty(&done)?),
            _ => println!("{done}"),
        }
        anyhow::ensure!(
            done.failures == 0,
            "{} recordings could not be deleted (see the log); run again after fixing the audio folder",
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
                "Recordings of cases closed before {} would be deleted: {}",
                day(before),
                plan.recordings.len()
            );
            for r in &plan.recordings {
                println!(
                    "  {}  recording #{}  {} bytes  closed {}",
                    r.case_number,
                    r.id,
                    r.bytes.unwrap_or(0),
                    day(r.closed_at)
                );
            }
        }
    }
    match plan.anonymize_closed_before {
        None => println!("Cases are never anonymized (retention.anonymize_after_years = 0)."),
        Some(before) => {
            println!(
                "Cases closed before {} would be anonymized: {}",
                day(before),
                plan.cases.len()
            );
            for c in &plan.cases {
                println!("  {}  closed {}", c.case_number, day(c.closed_at));
            }
        }
    }
    println!("Nothing was changed (dry run).");
    Ok(())
}

async fn audit_verify(settings: &Settings) -> anyhow::Result<()> {
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

/// A password from the terminal (twice, without echo) or one line of stdin.
fn read_password() -> anyhow::Result<String> {
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

async fn user(settings: &Settings, command: UserCommand) -> anyhow::Result<()> {
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
                store.set_password(&username, &hash, now).await?,
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

async fn callbacks(
    settings: &Settings,
    command: Option<CallbacksCommand>,
    date: Option<String>,
    format: &str,
) -> anyhow::Result<()> {
    use crate::callbacks::CallbackService;
    let calendar = calendar_source::CalendarHandle::new(calendar_source::load(settings)?);
    let store = storage::connect(&settings.database.url, 2).await?;
    store.migrate().await?;
    let service = CallbackService::new(
        store,
        calendar.clone(),
        settings.callbacks.clone(),
        settings.mail.enabled(),
        &settings.webhooks,
    );
    let parse = |d: &str| {
        NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
            .with_context(|| format!("`{d}` is not a date like 2026-10-08"))
    };
    let now = crate::clock::now();
    if let Some(CallbacksCommand::Generate { date }) = command {
        let date = parse(&date)?;
        let actor = format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        );
        let created = service.generate_day(date, &actor, now).await?;
        println!("{date}: {created} new entries");
        return Ok(());
    }
    let date = match date {
        Some(d) => parse(&d)?,
        None => calendar.current().local_date(now),
    };
    let list = service.day(date, now).await?;
    match format {
        "json" => {
            let entries: Vec<serde_json::Value> = list
                .entries
                .iter()
                .chain(&list.unknown_numbers)
                .map(|e| {
                    serde_json::json!({
                        "phone": e.phone,
                        "case_numbers": e.cases.iter().map(|c| c.number.as_str()).collect::<Vec<_>>(),
                        "channels": e.cases.iter().map(|c| c.channel).collect::<Vec<_>>(),
                        "recording_seconds": e.recordings.iter().map(|r| r.duration_seconds).collect::<Vec<_>>(),
                        "due_at": e.due_at,
                        "deadline_at": e.deadline_at,
                        "urgent": e.urgent,
                        "kind": e.kind,
                        "status": e.status,
                        "carried_over": e.carried_over,
                        "attempts": e.attempts,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&entries)?);
        }
        "csv" => {
            use std::io::Write;
            std::io::stdout().write_all(&crate::callbacks::export::to_csv(&list)?)?;
        }
        "table" => {
            let p = list.progress;
            println!(
                "{} 回访清单{}: {} 人 (未联系 {}, 待再拨 {}, 已联系 {}, 已解决 {}, 无法联系 {}, 超时 {})",
                list.date,
                if list.generated { "" } else { "（预览，尚未生成）" },
                p.total,
                p.untried,
                p.to_retry,
                p.reached,
                p.resolved,
                p.unreachable,
                p.late
            );
            for (i, e) in list.entries.iter().chain(&list.unknown_numbers).enumerate() {
                let numbers: Vec<&str> = e.cases.iter().map(|c| c.number.as_str()).collect();
                let seconds: f64 = e.recordings.iter().map(|r| r.duration_seconds).sum();
                println!(
                    "{:>3}. {:<15} {}{} {} {} {}{}",
                    i + 1,
                    e.phone.as_deref().unwrap_or("(无来电号码)"),
                    if e.urgent { "[紧急] " } else { "" },
                    e.kind.label_zh(),
                    e.status.label_zh(),
                    e.first_arrival_at.format("%m-%d %H:%M"),
                    numbers.join(","),
                    if e.recordings.is_empty() {
                        String::new()
                    } else {
                        format!(" 录音{seconds:.0}秒")
                    },
                );
            }
        }
        other => anyhow::bail!("--format must be table, csv or json (not `{other}`)"),
    }
    Ok(())
}

fn weekday_zh(d: Weekday) -> &'static str {
    ["一", "二", "三", "四", "五", "六", "日"][d.num_days_from_monday() as usize]
}

fn calendar(settings: &Settings, command: CalendarCommand) -> anyhow::Result<()> {
    let calendar = calendar_source::load(settings)?;
    let tz = calendar.timezone();
    match command {
        CalendarCommand::NextOpening { time } => {
            let at = match time {
                Some(t) => DateTime::parse_from_rfc3339(t.trim())
                    .with_context(|| {
                        format!("`{t}` is not an RFC 3339 time like 2026-02-13T19:30:00+08:00")
                    })?
                    .with_timezone(&Utc),
                None => Utc::now(),
            };
            let next = calendar.next_opening(at)?;
            let mark = if next.provisional {
                "  (provisional: no official calendar for that year)"
            } else {
                ""
            };
            println!("{}{mark}", next.at.with_timezone(&tz).to_rfc3339());
        }
        CalendarCommand::Show { month } => {
            let first = NaiveDate::parse_from_str(&format!("{}-01", month.trim()), "%Y-%m-%d")
                .with_context(|| format!("`{month}` is not a month like 2026-10"))?;
            let days = calendar.month(first.year(), first.month());
            let working = days.iter().filter(|d| d.kind.is_working()).count();
            println!("{} 工作日 working days: {working}", first.format("%Y-%m"));
            for day in &days {
                let kind = match day.kind {
                    DayKind::Working => "工作日 working".to_owned(),
                    DayKind::MakeupWorking => "调休上班 make-up working day".to_owned(),
                    DayKind::Holiday => {
                        format!("放假 holiday {}", day.holiday.as_deref().unwrap_or(""))
                    }
                    DayKind::Weekend => "休息 weekend".to_owned(),
                };
                let mark = if day.provisional {
                    "  (provisional)"
                } else {
                    ""
                };
                println!(
                    "{} 周{} {kind}{mark}",
                    day.date,
                    weekday_zh(day.date.weekday())
                );
            }
        }
        CalendarCommand::Check => {
            let years: Vec<String> = calendar.official_years().map(|y| y.to_string()).collect();
            println!("official years: {}", years.join(", "));
            let periods: Vec<String> = calendar.periods().iter().map(|p| p.to_string()).collect();
            println!("working periods: {} ({})", periods.join(", "), tz);
            let today = calendar.local_date(Utc::now());
            for year in calendar.provisional_years(today, 30) {
                println!("warning: no official calendar for {year} (provisional statutory holidays are used)");
            }
        }
    }
    Ok(())
}
