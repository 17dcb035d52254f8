//! Transcripts of voicemail by a speech recognizer on the bureau's own network. Every
//! recording is queued with the recording itself (`storage::voicemail`); this worker claims
//! due rows under a lease (so with several instances each is sent once), sends the audio
//! through a [`Recognizer`], and records the text, or why not: retrying with exponential
//! backoff while the server is down, slow or answering nonsense, and giving up after
//! `max_attempts` with the reason. Ingest never waits for it. The text is never logged.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::config::TranscriptionSettings;
use crate::domain::transcript::{check, Heard};
use crate::recordings::AudioStore;
use crate::storage::transcripts::{TranscriptJob, TranscriptOutcome};
use crate::storage::Store;
use crate::work::{backoff, instance_id, Stop};

/// Why a recognizer gave no transcript, and whether asking again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecognizerError {
    Transient(String),
    Permanent(String),
}

/// A speech recognizer: audio in, the text it heard out.
#[async_trait::async_trait]
pub trait Recognizer: Send + Sync {
    async fn transcribe(&self, wav: Vec<u8>) -> Result<String, RecognizerError>;
    /// The model, as stored with each transcript.
    fn model(&self) -> &str;
    fn language(&self) -> &str;
}

/// The OpenAI-style `POST /v1/audio/transcriptions` (multipart `file`, `model`, `language`,
/// `response_format=json`; answered `{"text": …}`), as FunASR's server, whisper.cpp's
/// server, vLLM and LocalAI serve it.
pub struct OpenAiStyle {
    client: reqwest::Client,
    settings: TranscriptionSettings,
}

impl OpenAiStyle {
    pub fn new(settings: TranscriptionSettings) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_seconds.max(1)))
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self { client, settings })
    }
}

/// The largest answer read: a transcript of a voicemail is a few kilobytes.
const MAX_ANSWER_BYTES: usize = 1 << 20;

#[async_trait::async_trait]
impl Recognizer for OpenAiStyle {
    async fn transcribe(&self, wav: Vec<u8>) -> Result<String, RecognizerError> {
        use RecognizerError::*;
        let file = reqwest::multipart::Part::bytes(wav)
            .file_name("voicemail.wav")
            .mime_str("audio/wav")
            .map_err(|e| Permanent(e.to_string()))?;
        let form = reqwest::multipart::Form::new()
            .part("file", file)
            .text("model", self.settings.model.clone())
            .text("language", self.settings.language.clone())
            .text("response_format", "json");
        let mut request = self.client.post(self.settings.url.trim()).multipart(form);
        if !self.settings.key.is_empty() {
            request = request.bearer_auth(&self.settings.key);
        }
        let mut response = request.send().await.map_err(|e| {
            Transient(match e.is_timeout() {
                true => "the recognizer did not answer in time".to_owned(),
                false => format!("the recognizer could not be reached: {}", without_url(&e)),
            })
        })?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| Transient(format!("the answer broke off: {}", without_url(&e))))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_ANSWER_BYTES {
                return Err(Permanent(format!(
                    "the answer is over {MAX_ANSWER_BYTES} bytes"
                )));
            }
        }
        if !status.is_success() {
            return Err(Transient(format!("the recognizer answered HTTP {status}")));
        }
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|_| Transient("the answer is not JSON".to_owned()))?;
        match value.get("text") {
            Some(serde_json::Value::String(text)) => Ok(text.clone()),
            _ => Err(Transient("the answer has no \"text\"".to_owned())),
        }
    }

    fn model(&self) -> &str {
        &self.settings.model
    }

    fn language(&self) -> &str {
        &self.settings.language
    }
}

/// An error's text without the URL (which may hold a key in its query).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "the recognizer");
    }
    text
}

/// The worker.
#[derive(Clone)]
pub struct Transcriber {
    store: Arc<dyn Store>,
    audio: AudioStore,
    recognizer: Arc<dyn Recognizer>,
    concurrency: usize,
    max_attempts: i64,
    retry_base_seconds: u64,
    lease: chrono::Duration,
    description_max_chars: usize,
    wake: Arc<Notify>,
}

impl Transcriber {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn Store>,
        audio: AudioStore,
        recognizer: Arc<dyn Recognizer>,
        settings: &TranscriptionSettings,
        description_max_chars: usize,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            audio,
            recognizer,
            concurrency: settings.concurrency.max(1),
            max_attempts: i64::from(settings.max_attempts.max(1)),
            retry_base_seconds: settings.retry_base_seconds,
            // Long enough for a slow answer: another instance takes over only after it.
            lease: chrono::Duration::seconds(settings.timeout_seconds as i64 * 2 + 60),
            description_max_chars,
            wake,
        }
    }

    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Works every due transcription, `concurrency` at a time, until none is left (or
    /// `stop`, checked between rounds); returns how many were settled.
    pub async fn run_due(&self, stop: &Stop) -> anyhow::Result<usize> {
        let mut settled = 0;
        while !stop.is_cancelled() {
            let mut jobs = Vec::new();
            for _ in 0..self.concurrency {
                let now = crate::clock::now();
                match self
                    .store
                    .claim_transcription(now, now + self.lease, instance_id())
                    .await?
                {
                    Some(job) => jobs.push(job),
                    None => break,
                }
            }
            if jobs.is_empty() {
                break;
            }
            settled += jobs.len();
            let results =
                futures_util::future::join_all(jobs.into_iter().map(|job| self.work(job))).await;
            for r in results {
                r?;
            }
        }
        Ok(settled)
    }

    async fn work(&self, job: TranscriptJob) -> anyhow::Result<()> {
        let path = self.audio.path_of(&job.sha256);
        let outcome = match tokio::fs::read(&path).await {
            Err(e) => TranscriptOutcome::GiveUp {
                reason: format!("the recording's audio could not be read: {}", e.kind()),
            },
            Ok(wav) => match self.recognizer.transcribe(wav).await {
                Ok(text) => match check(&text) {
                    Ok(heard) => TranscriptOutcome::Done {
                        text: match heard {
                            Heard::Text(t) => t,
                            Heard::Nothing => String::new(),
                        },
                        language: self.recognizer.language().to_owned(),
                        model: self.recognizer.model().to_owned(),
                    },
                    Err(reason) => TranscriptOutcome::GiveUp { reason },
                },
                Err(RecognizerError::Permanent(reason)) => TranscriptOutcome::GiveUp { reason },
                Err(RecognizerError::Transient(reason)) if job.attempts >= self.max_attempts => {
                    TranscriptOutcome::GiveUp {
                        reason: format!("gave up after {} attempts: {reason}", job.attempts),
                    }
                }
                Err(RecognizerError::Transient(reason)) => TranscriptOutcome::Retry {
                    at: crate::clock::now() + backoff(self.retry_base_seconds, job.attempts),
                    reason,
                },
            },
        };
        match &outcome {
            TranscriptOutcome::Done { text, .. } => tracing::info!(
                job = job.id,
                recording = job.recording_id,
                heard_chars = text.chars().count(),
                "voicemail transcribed"
            ),
            TranscriptOutcome::Retry { reason, .. } => tracing::warn!(
                job = job.id,
                recording = job.recording_id,
                attempts = job.attempts,
                reason,
                "transcription failed; will retry"
            ),
            TranscriptOutcome::GiveUp { reason } => tracing::error!(
                job = job.id,
                recording = job.recording_id,
                attempts = job.attempts,
                reason,
                "transcription given up"
            ),
        }
        let kept = self
            .store
            .finish_transcription(
                job.id,
                instance_id(),
                &outcome,
                self.description_max_chars,
                crate::clock::now(),
            )
            .await?;
        if !kept {
            tracing::warn!(
                job = job.id,
                "the transcription was taken over by another instance; its answer stands"
            );
        }
        Ok(())
    }
}
