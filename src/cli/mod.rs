//! The command line. `main` calls [`run`]; every command is a thin call into the library,
//! one file per group of subcommands.

mod audit;
mod calendar;
mod callbacks;
mod ingest;
mod report;
mod retention;
mod token;
mod transfer;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{shutdown_signal, Application};
use crate::config::Settings;
use crate::{storage, telemetry};

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
    Token(token::TokenCommand),
    /// The working calendar: openings, holidays and make-up working days.
    #[command(subcommand)]
    Calendar(calendar::CalendarCommand),
    /// Take in what the channels left: voicemail from the PBX spool.
    #[command(subcommand)]
    Ingest(ingest::IngestCommand),
    /// The tamper-evident audit trail.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Staff accounts for the web UI at /staff.
    #[command(subcommand)]
    User(user::UserCommand),
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
    /// Check that a running instance answers (for a container's HEALTHCHECK): exits 0 when
    /// `GET /healthz` answers 200 within 3 seconds.
    Health {
        /// Default: http://127.0.0.1:<server.port>/healthz
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
    /// The conduct bulletin (行风建设通报) of a month (2026-11) or an ISO week (2026-W48).
    Report {
        #[arg(long, value_name = "PERIOD")]
        period: String,
        /// table (default), csv, xlsx or json
        #[arg(long, default_value = "table")]
        format: String,
        /// Write to this file (required for xlsx).
        #[arg(long, value_name = "FILE")]
        output: Option<String>,
    },
    /// The next-morning callback list of a working day (today by default).
    #[command(args_conflicts_with_subcommands = true)]
    Callbacks {
        #[command(subcommand)]
        command: Option<callbacks::CallbacksCommand>,
        /// The working day, e.g. 2026-10-08.
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
        /// table (default), csv or json
        #[arg(long, default_value = "table")]
        format: String,
    },
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
        Command::Token(command) => token::token(&settings, command).await,
        Command::Calendar(command) => calendar::calendar(&settings, command),
        Command::User(command) => user::user(&settings, command).await,
        Command::Audit(audit::AuditCommand::Verify) => audit::audit_verify(&settings).await,
        Command::Export { to } => transfer::export(&settings, &to).await,
        Command::Import { from } => transfer::import(&settings, &from).await,
        Command::Retention {
            dry_run,
            as_of,
            format,
        } => retention::retention(&settings, dry_run, as_of.as_deref(), &format).await,
        Command::Callbacks {
            command,
            date,
            format,
        } => callbacks::callbacks(&settings, command, date, &format).await,
        Command::Report {
            period,
            format,
            output,
        } => report::report(&settings, &period, &format, output.as_deref()).await,
        Command::Health { url } => {
            let url =
                url.unwrap_or_else(|| format!("http://127.0.0.1:{}/healthz", settings.server.port));
            let response = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(3))
                .build()?
                .get(&url)
                .send()
                .await?;
            anyhow::ensure!(
                response.status().is_success(),
                "{url} answered {}",
                response.status()
            );
            println!("ok");
            Ok(())
        }
        Command::Ingest(ingest::IngestCommand::Voicemail {
            spool,
            quarantine,
            all,
        }) => {
            if quarantine {
                ingest::list_quarantine(&settings, all).await
            } else {
                ingest::ingest_voicemail(&settings, spool).await
            }
        }
    }
}
