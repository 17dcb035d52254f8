//! The durable job that fetches recordings announced by Twilio-style callbacks. The
//! callback only queues a row; this worker claims due rows (a lease, so a crashed instance's
//! job is picked up again), fetches with a timeout and a size cap, and retries with
//! exponential backoff. After the last attempt the call is still registered, as a missed
//! call without its recording: an outage at the provider loses no caller.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::sync::Notify;

use crate::work::{backoff, instance_id, Stop};

use super::asterisk_message::parse_callerid;
use super::ingest::{Arrival, Ingestor, TakenIn};
use super::twilio::wav_url;
use crate::config::TwilioSettings;
use crate::storage::{DownloadJob, Store};

/// How long a claimed job is ours before another instance may take it.
const LEASE: chrono::Duration = chrono::Duration::minutes(5);

#[derive(Clone)]
pub struct Downloader {
    store: Arc<dyn Store>,
    ingestor: Ingestor,
    client: reqwest::Client,
    settings: TwilioSettings,
    max_bytes: u64,
    wake: Arc<Notify>,
}

/// Why a fetch failed, and whether trying again can help.
enum FetchError {
    Transient(String),
    Permanent(String),
}

pub fn identity(recording_sid: &str) -> String {
    format!("twilio:{recording_sid}")
}

pub fn arrival(job_download: &crate::storage::NewDownload) -> Arrival {
    Arrival {
        identity: identity(&job_download.recording_sid),
        source: "twilio",
        source_path: job_download.url.clone(),
        channel: job_download.channel,
        received_at: job_download.received_at,
        caller: parse_callerid(job_download.caller.as_deref().unwrap_or("")),
        urgent: false,
        quarantine_key: None,
    }
}

impl Downloader {
    pub fn new(
        store: Arc<dyn Store>,
        ingestor: Ingestor,
        settings: TwilioSettings,
        max_bytes: u64,
        wake: Arc<Notify>,
    ) -> anyhow::Result<Self> {
        // Redirects (a provider's media may move to its storage) are followed over https only;
        // reqwest drops the credentials when one leaves the host.
        let allow_http = settings.allow_http_media;
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            let secure = attempt.url().scheme() == "https" || allow_http;
            match (secure, attempt.previous().len() < 5) {
                (true, true) => attempt.follow(),
                _ => attempt.stop(),
            }
        });
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(
                settings.download_timeout_seconds.max(1),
            ))
            .connect_timeout(Duration::from_secs(10))
            .redirect(redirects)
            .build()?;
        Ok(Self {
            store,
            ingestor,
            client,
            settings,
            max_bytes,
            wake,
        })
    }

    /// What wakes the worker when a job is queued.
    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Works every due job until none is left (or `stop`, checked between jobs: a stopping
    /// instance takes no new download); returns how many were settled.
    pub async fn run_due(&self, stop: &Stop) -> anyhow::Result<usize> {
        let mut settled = 0;
        while !stop.is_cancelled() {
            let now = crate::clock::now();
            let Some(job) = self
                .store
                .claim_download(now, now + LEASE, instance_id())
                .await?
            else {
                break;
            };
            self.work(job).await?;
            settled += 1;
        }
        Ok(settled)
    }

    async fn work(&self, job: DownloadJob) -> anyhow::Result<()> {
        let url = wav_url(&job.download.url);
        let arrival = arrival(&job.download);
        let now = crate::clock::now();
        match self.fetch(&url).await {
            Ok(audio) => match self
                .ingestor
                .take_in(arrival.clone(), Some(audio.clone()))
                .await?
            {
                TakenIn::Ingested { .. } | TakenIn::MissedCall { .. } | TakenIn::Already { .. } => {
                    self.store
                        .settle_download(job.id, "done", now, None)
                        .await?;
                }
                TakenIn::Rejected(reason) => {
                    let store = self.ingestor.audio().clone();
                    let kept =
                        tokio::task::spawn_blocking(move || store.keep_rejected(&audio)).await??;
                    self.store
                        .quarantine(
                            &format!("{}:audio", arrival.identity),
                            "twilio",
                            &kept.display().to_string(),
                            &reason,
                            now,
                        )
                        .await?;
                    self.give_up(&job, arrival, &reason, now).await?;
                }
            },
            Err(FetchError::Permanent(reason)) => self.give_up(&job, arrival, &reason, now).await?,
            Err(FetchError::Transient(reason))
                if job.attempts >= i64::from(self.settings.max_attempts) =>
            {
                self.give_up(
                    &job,
                    arrival,
                    &format!("gave up after {} attempts: {reason}", job.attempts),
                    now,
                )
                .await?
            }
            Err(FetchError::Transient(reason)) => {
                let next = now + backoff(self.settings.retry_base_seconds, job.attempts);
                tracing::warn!(
                    job = job.id,
                    attempts = job.attempts,
                    reason,
                    "recording download failed; will retry"
                );
                self.store
                    .settle_download(job.id, "pending", next, Some(&reason))
                    .await?;
            }
        }
        Ok(())
    }

    /// Registers the call without its recording, so the caller is still called back.
    async fn give_up(
        &self,
        job: &DownloadJob,
        arrival: Arrival,
        reason: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        tracing::error!(
            job = job.id,
            reason,
            "recording not fetched; registering the call as a missed call"
        );
        self.ingestor.take_in(arrival, None).await?;
        self.store
            .settle_download(job.id, "dead", now, Some(reason))
            .await?;
        Ok(())
    }

    async fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        // Announced before the media hosts were checked, or since taken off the list.
        if !self.settings.media_url_allowed(url) {
            return Err(FetchError::Permanent(
                "the recording's host is not in hotline.twilio.media_hosts (or not https)".into(),
            ));
        }
        let mut request = self.client.get(url);
        if !self.settings.account_sid.is_empty() {
            request =
                request.basic_auth(&self.settings.account_sid, Some(&self.settings.auth_token));
        }
        let response = request
            .send()
            .await
            .map_err(|e| FetchError::Transient(format!("request failed: {e}")))?;
        let status = response.status();
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 404 {
            // 404 too: a provider may announce a recording a moment before it serves it.
            return Err(FetchError::Transient(format!(
                "the media server answered {status}"
            )));
        }
        if !status.is_success() {
            return Err(FetchError::Permanent(format!(
                "the media server answered {status}"
            )));
        }
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes)
        {
            return Err(FetchError::Permanent(format!(
                "the recording is over {} bytes",
                self.max_bytes
            )));
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| FetchError::Transient(format!("download interrupted: {e}")))?;
            if body.len() as u64 + chunk.len() as u64 > self.max_bytes {
                return Err(FetchError::Permanent(format!(
                    "the recording is over {} bytes",
                    self.max_bytes
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}
