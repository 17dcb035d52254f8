//! Building and running the service: storage, calendar, router, listener.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::calendar_source::{self, CalendarHandle};
use crate::callbacks::CallbackService;
use crate::cases::CaseDesk;
use crate::channels::counter::Counter;
use crate::channels::hotline::ingest::Ingestor;
use crate::channels::hotline::Hotline;
use crate::channels::website::routes::PublicSite;
use crate::channels::website::WebsiteDesk;
use crate::config::Settings;
use crate::http::{self, AppState};
use crate::intake::Intake;
use crate::oversight::DecisionNotices;
use crate::ratings::Ratings;
use crate::secrets::Secrets;
use crate::storage;
use crate::web::client::AddressKeys;
use crate::work::{instance_id, Stop};
use tokio::sync::Notify;

pub struct Application {
    listener: TcpListener,
    state: AppState,
    settings: Settings,
    /// Wakes the outbox worker when something queued a notification.
    outbox_wake: Arc<Notify>,
}

impl Application {
    /// Connects and migrates the database, loads the calendar and binds the port (port 0
    /// picks a free one, for tests).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let calendar = calendar_source::load(&settings)?;
        warn_about_provisional_years(&calendar);
        warn_about_plain_mail(&settings.mail);
        let store =
            storage::connect(&settings.database.url, settings.database.max_connections).await?;
        store.migrate().await.context("migrating the database")?;
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&address)
            .await
            .with_context(|| format!("listening on {address}"))?;
        let calendar = CalendarHandle::new(calendar);
        let secrets = Secrets::load(&settings)?;
        let rules = Arc::new(settings.intake_rules(&secrets));
        crate::cases::rekey_old_id_cards(store.as_ref(), &rules).await?;
        let case_prefix: Arc<str> = settings.intake.case_number_prefix.clone().into();
        let directory = crate::directory::Directory::new(store.clone());
        let outbox_wake = Arc::new(Notify::new());
        // An arrival in working hours owed a call back wakes the list job at once.
        let daytime_wake = Arc::new(Notify::new());
        let intake = Intake::spawn(
            store.clone(),
            calendar.clone(),
            case_prefix,
            outbox_wake.clone(),
        )
        .wake_callbacks(daytime_wake.clone());
        let ingestor = Ingestor::new(
            store.clone(),
            intake.clone(),
            rules.clone(),
            &settings.hotline,
        )?;
        let ratings = Ratings::new(store.clone(), calendar.clone(), settings.oversight.clone());
        let desk = WebsiteDesk::new(
            store.clone(),
            intake.clone(),
            ratings.clone(),
            calendar.clone(),
            rules.clone(),
            chrono::Duration::minutes(settings.website.fold_window_minutes as i64),
            crate::channels::website::Confirmations {
                base_url: settings
                    .mail
                    .enabled()
                    .then(|| settings.website.public_base_url.clone()),
                per_recipient_per_day: settings.website.confirmations_per_recipient_per_day,
            },
            directory.clone(),
        );
        let site = Arc::new(PublicSite::new(desk, settings.website.clone(), &secrets));
        let callbacks = CallbackService::new(
            store.clone(),
            calendar.clone(),
            settings.callbacks.clone(),
            settings.mail.enabled(),
            &settings.webhooks,
            crate::callbacks::CaseTerms {
                rules: rules.clone(),
                prefix: settings.intake.case_number_prefix.clone(),
            },
        )
        .with_daytime_wake(daytime_wake);
        let cases = CaseDesk::new(
            store.clone(),
            calendar.clone(),
            DecisionNotices::new(
                store.clone(),
                calendar.clone(),
                &settings.webhooks,
                settings.mail.enabled(),
            ),
            outbox_wake.clone(),
        );
        let auth = crate::web::Auth {
            store: store.clone(),
            staff: Arc::new(settings.staff.clone()),
            addresses: AddressKeys::new(secrets.derive("client-address")),
            trust_forwarded_for: settings.website.trust_forwarded_for,
            token_uses: Default::default(),
        };
        let counter = Counter {
            directory: directory.clone(),
            intake: intake.clone(),
            rules: rules.clone(),
            calendar: calendar.clone(),
            store: store.clone(),
        };
        let calls = crate::channels::hotline::cti::CallDesk::new(
            store.clone(),
            calendar.clone(),
            rules.clone(),
            settings.hotline_lines(),
            ingestor.clone(),
        );
        let hotline = Hotline {
            directory: directory.clone(),
            intake: intake.clone(),
            rules: rules.clone(),
            calendar: calendar.clone(),
            store: store.clone(),
            ingestor,
            calls,
            cti: Arc::new(crate::channels::hotline::routes::cti::CtiGate::new(
                settings.hotline.cti.events_per_second,
                settings.hotline.cti.burst,
            )),
            transcribing: settings.hotline.transcription.enabled(),
        };
        let seeded = store
            .seed_directory(&settings.directory(), crate::clock::now())
            .await
            .context("seeding the directory")?;
        if seeded > 0 {
            tracing::info!(
                entries = seeded,
                "directory entries added from the configuration"
            );
        }
        let state = AppState {
            evaluation: settings.evaluation.clone(),
            directory,
            cases,
            store,
            calendar,
            rules,
            intake,
            counter,
            hotline,
            site,
            ratings,
            callbacks,
            auth,
            oversight: settings.oversight.clone(),
            readiness: Arc::new(crate::http::health::Targets {
                audio_dir: settings.hotline.audio_dir.clone(),
                spool_dir: (!settings.hotline.spool_dir.as_os_str().is_empty())
                    .then(|| settings.hotline.spool_dir.clone()),
                smtp: settings.mail.smtp().then(|| {
                    (
                        settings.mail.smtp_host.trim().to_owned(),
                        settings.mail.smtp_port,
                    )
                }),
            }),
        };
        Ok(Self {
            listener,
            state,
            settings,
            outbox_wake,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// What wakes the outbox worker (a test or a tool that queued notifications itself).
    pub fn outbox_wake(&self) -> Arc<Notify> {
        self.outbox_wake.clone()
    }

    /// Serves until `shutdown` resolves, then lets requests in flight finish (bounded by
    /// `server.shutdown_grace_seconds`).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = Stop::new();
        let mut jobs = crate::jobs::spawn_all(
            &crate::jobs::Context {
                settings: &self.settings,
                store: self.state.store.clone(),
                calendar: self.state.calendar.clone(),
                ingestor: &self.state.hotline.ingestor,
                calls: &self.state.hotline.calls,
                callbacks: &self.state.callbacks,
                outbox_wake: self.outbox_wake.clone(),
                rules: self.state.rules.clone(),
            },
            &stop,
        )?;
        let address = self.listener.local_addr()?;
        tracing::info!(%address, backend = self.state.store.backend(), instance = instance_id(), "youmen is listening on http://{address}");
        let grace = Duration::from_secs(self.settings.server.shutdown_grace_seconds);
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let stop_jobs = stop.clone();
        let calls_stopping = self.state.hotline.calls.stopping().clone();
        let signal = async move {
            shutdown.await;
            calls_stopping.cancel();
            tracing::info!(
                "shutting down: no new connections or jobs, finishing what is in flight"
            );
            stop_jobs.cancel();
            let _ = stopping_tx.send(());
        };
        let store = self.state.store.clone();
        let router = http::router(
            self.state,
            &self.settings.server,
            self.settings.hotline.max_recording_bytes,
        );
        let header_read_timeout =
            Duration::from_secs(self.settings.server.header_read_timeout_seconds.max(1));
        let server = tokio::spawn(http::serve::serve(
            self.listener,
            router,
            header_read_timeout,
            signal,
        ));
        let deadline = async {
            let _ = stopping_rx.await;
            tokio::time::sleep(grace).await
        };
        tokio::pin!(deadline);
        let result = tokio::select! {
            r = server => r.context("server task"),
            _ = &mut deadline => {
                tracing::warn!(seconds = grace.as_secs(), "requests still in flight after the grace period; exiting");
                Ok(())
            }
        };
        // The server has stopped (or the grace period is over); jobs finish the piece of
        // work in hand within what is left of it.
        stop.cancel();
        let finishing = futures_util::future::join_all(jobs.iter_mut());
        if tokio::select! { _ = finishing => false, _ = &mut deadline => true } {
            tracing::warn!("background jobs still busy after the grace period; stopping them");
        }
        for job in &jobs {
            job.abort();
        }
        match store.release_claims(instance_id()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(released = n, "handed back leases for another instance"),
            Err(e) => {
                tracing::warn!(error = %e, "could not hand back leases; they run out by themselves")
            }
        }
        tracing::info!("youmen stopped");
        result
    }
}

/// An ingestor for a one-off pass from the command line (no HTTP server).
pub async fn ingestor(settings: &Settings) -> anyhow::Result<Ingestor> {
    let calendar = CalendarHandle::new(calendar_source::load(settings)?);
    let store = storage::connect(&settings.database.url, settings.database.max_connections).await?;
    store.migrate().await.context("migrating the database")?;
    let prefix: Arc<str> = settings.intake.case_number_prefix.clone().into();
    let intake = Intake::spawn(store.clone(), calendar, prefix, Arc::new(Notify::new()));
    let secrets = Secrets::load(settings)?;
    Ingestor::new(
        store,
        intake,
        Arc::new(settings.intake_rules(&secrets)),
        &settings.hotline,
    )
}

/// Mail to a server elsewhere without TLS crosses the network in clear: say so.
fn warn_about_plain_mail(mail: &crate::config::MailSettings) {
    let host = mail.smtp_host.trim();
    let local = matches!(host, "localhost" | "127.0.0.1" | "::1");
    if mail.smtp() && mail.tls == "none" && !local {
        tracing::warn!(
            host,
            "mail.tls = \"none\": mail to {host} (names, case numbers, tracking codes) crosses the network unencrypted; set mail.tls to starttls or tls"
        );
    }
}

fn warn_about_provisional_years(calendar: &crate::domain::WorkingCalendar) {
    let today = calendar.local_date(chrono::Utc::now());
    for year in calendar.provisional_years(today, 30) {
        tracing::warn!(
            year,
            "no official calendar file for {year}: deadlines in {year} use the statutory holidays only and are marked provisional; add config/calendar/{year}.toml"
        );
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
