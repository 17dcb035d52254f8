//! Voicemail from the Asterisk spool into the case queue, each message exactly once.
//!
//! For each complete message: parse the `.txt`, pick the readable audio, probe it off the
//! runtime, store it by content hash, then in one transaction record the message as
//! ingested and open (or extend) its case. Anything unreadable goes to the quarantine with
//! its reason and path; nothing in the spool is moved or deleted.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use futures_util::StreamExt;

use chrono::{DateTime, Utc};

use super::asterisk_message::{parse_message, MessageMeta};
use super::audio::{probe_wav, AudioProbe};
use super::spool::{self, read_capped, SpoolMessage};
use crate::config::{HotlineLine, HotlineSettings, TwilioSettings};
use crate::domain::{
    CallbackKind, Channel, Citizen, Evidence, IntakeRules, NewRecording, PhoneNumber, Submission,
    VoicemailEvidence,
};
use crate::intake::Intake;
use crate::recordings::{sha256_hex, AudioStore};
use crate::storage::{Registered, Store};

/// The metadata file is a few hundred bytes; anything this large is not one.
const MAX_TXT_BYTES: u64 = 64 * 1024;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IngestSummary {
    pub seen: usize,
    pub ingested: usize,
    /// Attached to an open case of the same caller and stretch (part of `ingested`).
    pub attached: usize,
    /// Calls that left no message: on the callback list as missed calls, not cases.
    pub missed: usize,
    pub already: usize,
    pub quarantined: usize,
    /// In mailboxes no hotline is configured for.
    pub unmapped: usize,
    pub orphans: usize,
}

impl std::fmt::Display for IngestSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} messages seen: {} ingested ({} added to an existing case), {} missed calls without a \
             message, {} already ingested, {} quarantined, {} in unmapped mailboxes, {} orphaned audio files",
            self.seen,
            self.ingested,
            self.attached,
            self.missed,
            self.already,
            self.quarantined,
            self.unmapped,
            self.orphans
        )
    }
}

/// Messages prepared ahead of the database step.
const PREPARE_AHEAD: usize = 4;

/// Audio probed and stored, ready to be registered.
#[derive(Debug)]
pub struct PreparedAudio {
    /// None for a silent recording: a missed call, whose silence is not kept.
    recording: Option<NewRecording>,
    probe: AudioProbe,
}

enum Prepared {
    Finished(Outcome),
    Quarantine {
        identity: String,
        path: std::path::PathBuf,
        reason: String,
    },
    Ready {
        arrival: Box<Arrival>,
        audio: PreparedAudio,
    },
}

impl Prepared {
    fn quarantine(identity: String, path: &Path, reason: String) -> Self {
        Prepared::Quarantine {
            identity,
            path: path.to_owned(),
            reason,
        }
    }
}

enum Outcome {
    Ingested { attached: bool },
    Missed,
    Already,
    Quarantined,
    Unmapped,
}

#[derive(Clone)]
pub struct Ingestor {
    store: Arc<dyn Store>,
    intake: Intake,
    rules: Arc<IntakeRules>,
    audio: AudioStore,
    lines: Vec<(Channel, HotlineLine)>,
    max_bytes: u64,
    orphan_after: Duration,
    twilio: Arc<TwilioSettings>,
    download_wake: Arc<tokio::sync::Notify>,
    /// Wakes the transcription worker when a recording is stored.
    transcripts_wake: Arc<tokio::sync::Notify>,
}

impl Ingestor {
    pub fn new(
        store: Arc<dyn Store>,
        intake: Intake,
        rules: Arc<IntakeRules>,
        settings: &HotlineSettings,
    ) -> anyhow::Result<Self> {
        let lines = settings
            .lines
            .iter()
            .map(|l| Ok((l.channel.parse::<Channel>()?, l.clone())))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self {
            store,
            intake,
            rules,
            audio: AudioStore::new(&settings.audio_dir),
            lines,
            max_bytes: settings.max_recording_bytes,
            orphan_after: Duration::from_secs(settings.orphan_after_seconds),
            twilio: Arc::new(settings.twilio.clone()),
            download_wake: Arc::new(tokio::sync::Notify::new()),
            transcripts_wake: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// The transcription worker, sharing this ingestor's audio and wake-up.
    pub fn transcriber(
        &self,
        settings: &crate::config::TranscriptionSettings,
    ) -> anyhow::Result<super::transcribe::Transcriber> {
        let recognizer = Arc::new(super::transcribe::OpenAiStyle::new(settings.clone())?);
        Ok(super::transcribe::Transcriber::new(
            self.store.clone(),
            self.audio.clone(),
            recognizer,
            settings,
            self.rules.description_max_chars,
            self.transcripts_wake.clone(),
        ))
    }

    pub fn lines(&self) -> &[(Channel, HotlineLine)] {
        &self.lines
    }

    pub fn twilio(&self) -> &TwilioSettings {
        &self.twilio
    }

    pub fn max_recording_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The worker that fetches announced recordings, sharing this ingestor's wake-up.
    pub fn downloader(&self) -> anyhow::Result<super::downloads::Downloader> {
        super::downloads::Downloader::new(
            self.store.clone(),
            self.clone(),
            (*self.twilio).clone(),
            self.max_bytes,
            self.download_wake.clone(),
        )
    }

    /// Queues the download of a recording a provider announced, and wakes the download
    /// worker; false when it was already queued.
    pub async fn announce_download(
        &self,
        download: &crate::storage::NewDownload,
        now: DateTime<Utc>,
    ) -> Result<bool, crate::storage::StoreError> {
        let queued = self.store.enqueue_download(download, now).await?;
        if queued {
            self.download_wake.notify_one();
        }
        Ok(queued)
    }

    pub fn audio(&self) -> &AudioStore {
        &self.audio
    }

    fn channel_for(&self, mailbox_path: &str) -> Option<Channel> {
        self.lines
            .iter()
            .find(|(_, line)| line.mailboxes.iter().any(|m| m == mailbox_path))
            .map(|(channel, _)| *channel)
    }

    /// One pass over the spool. `progress(done, total)` is called after each message.
    pub async fn ingest_spool(
        &self,
        spool_dir: &Path,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> anyhow::Result<IngestSummary> {
        let dir = spool_dir.to_owned();
        let messages = tokio::task::spawn_blocking(move || spool::scan(&dir)).await??;
        let mut summary = IngestSummary {
            seen: messages.len(),
            ..Default::default()
        };
        // Reading, probing and storing audio run a few messages ahead in parallel; the
        // database step takes them in spool order, so a caller's later message finds the
        // case their earlier one opened.
        let total = messages.len();
        let this = self.clone();
        // Owned messages and a cloned ingestor: the spawned watcher needs this future to be
        // provably Send, which borrowing closures over async calls defeat.
        let mut prepared = futures_util::stream::iter(messages.into_iter().map(move |m| {
            let this = this.clone();
            async move { this.prepare_message(&m).await }
        }))
        .buffered(PREPARE_AHEAD);
        let mut done = 0;
        while let Some(step) = prepared.next().await {
            let outcome = match step? {
                Prepared::Finished(outcome) => outcome,
                Prepared::Quarantine {
                    identity,
                    path,
                    reason,
                } => {
                    self.quarantine(&identity, &path, &reason).await?;
                    Outcome::Quarantined
                }
                Prepared::Ready { arrival, audio } => {
                    match self.register(*arrival, Some(audio)).await? {
                        TakenIn::Ingested { attached, .. } => Outcome::Ingested { attached },
                        TakenIn::MissedCall { .. } => Outcome::Missed,
                        TakenIn::Already { .. } => Outcome::Already,
                        TakenIn::Rejected(_) => unreachable!("prepared audio is never rejected"),
                    }
                }
            };
            match outcome {
                Outcome::Ingested { attached } => {
                    summary.ingested += 1;
                    summary.attached += usize::from(attached);
                }
                Outcome::Missed => summary.missed += 1,
                Outcome::Already => summary.already += 1,
                Outcome::Quarantined => summary.quarantined += 1,
                Outcome::Unmapped => summary.unmapped += 1,
            }
            done += 1;
            progress(done, total);
        }
        let (dir, age) = (spool_dir.to_owned(), self.orphan_after);
        let orphans =
            tokio::task::spawn_blocking(move || spool::orphans(&dir, age, SystemTime::now()))
                .await?;
        for path in &orphans {
            let reason = format!(
                "audio file without its .txt for more than {} minutes: the recording never completed (orphan)",
                self.orphan_after.as_secs() / 60
            );
            self.quarantine(&format!("orphan:{}", path.display()), path, &reason)
                .await?;
        }
        summary.orphans = orphans.len();
        Ok(summary)
    }

    async fn quarantine(&self, identity: &str, path: &Path, reason: &str) -> anyhow::Result<()> {
        let attempts = self
            .store
            .quarantine(
                identity,
                "asterisk",
                &path.display().to_string(),
                reason,
                crate::clock::now(),
            )
            .await
            .context("recording a quarantine entry")?;
        // Every rescan meets the file again: say so once, not every minute.
        if attempts == 1 {
            tracing::warn!(identity, path = %path.display(), reason, "voicemail quarantined");
        } else {
            tracing::debug!(identity, attempts, "voicemail still in quarantine");
        }
        Ok(())
    }

    /// Everything for one message that does not write to the database: parse, read, probe,
    /// store the audio. Quarantine decisions are returned, not recorded, so the database
    /// step stays in order.
    async fn prepare_message(&self, message: &SpoolMessage) -> anyhow::Result<Prepared> {
        let Some(channel) = self.channel_for(&message.mailbox_path()) else {
            return Ok(Prepared::Finished(Outcome::Unmapped));
        };
        let txt_path = message.txt();
        let txt = match read_capped(&txt_path, MAX_TXT_BYTES).await {
            Ok(bytes) => bytes,
            Err(reason) => {
                return Ok(Prepared::quarantine(path_key(message), &txt_path, reason));
            }
        };
        let meta = match parse_message(&txt) {
            Ok(meta) => meta,
            Err(e) => {
                return Ok(Prepared::quarantine(
                    path_key(message),
                    &txt_path,
                    format!("the .txt cannot be used: {e}"),
                ));
            }
        };
        // Quarantine entries are kept under a key that survives the fix: the msg_id
        // identity when there is one (Asterisk renumbers files), else the file's path.
        let key = match meta.msg_id {
            Some(_) => identity_of(message, &meta, &txt, &[]),
            None => path_key(message),
        };
        let audio_files = message.audio_files();
        let Some((ext, audio_path)) = audio_files.first().cloned() else {
            return Ok(Prepared::quarantine(
                key,
                &txt_path,
                "no audio file beside the .txt".to_owned(),
            ));
        };
        // Identify before reading the audio, so a rescan skips ingested messages cheaply.
        if meta.msg_id.is_some() {
            let identity = identity_of(message, &meta, &txt, &[]);
            if self.store.is_ingested(&identity).await? {
                return Ok(Prepared::Finished(Outcome::Already));
            }
        }
        if ext != "wav" {
            let reason = match ext.as_str() {
                "WAV" => {
                    "codec GSM 6.10 (wav49) is not supported: set format=wav in voicemail.conf"
                        .to_owned()
                }
                "gsm" => {
                    "codec raw GSM 6.10 (.gsm) is not supported: set format=wav in voicemail.conf"
                        .to_owned()
                }
                other => format!(
                    "audio format .{other} is not supported: set format=wav in voicemail.conf"
                ),
            };
            return Ok(Prepared::quarantine(key, &audio_path, reason));
        }
        let audio = match read_capped(&audio_path, self.max_bytes).await {
            Ok(bytes) => bytes,
            Err(reason) => return Ok(Prepared::quarantine(key, &audio_path, reason)),
        };
        let identity = identity_of(message, &meta, &txt, &audio);
        if meta.msg_id.is_none() && self.store.is_ingested(&identity).await? {
            return Ok(Prepared::Finished(Outcome::Already));
        }
        let arrival = Arrival {
            identity: identity.clone(),
            source: "asterisk",
            source_path: audio_path.display().to_string(),
            channel,
            received_at: meta.received_at,
            caller: meta.caller.clone(),
            urgent: message.is_urgent_folder() || meta.urgent_flag,
            quarantine_key: Some(path_key(message)),
        };
        Ok(
            match self
                .prepare_audio(arrival.source, arrival.received_at, audio)
                .await?
            {
                Ok(audio) => Prepared::Ready {
                    arrival: Box::new(arrival),
                    audio,
                },
                Err(reason) => Prepared::quarantine(key, &audio_path, reason),
            },
        )
    }

    /// Takes one arrival in, whatever door it came through: probes the audio off the
    /// runtime, stores it by content hash, and opens or extends the case, exactly once per
    /// identity. `audio` is `None` for a call that left no recording. Unusable audio is
    /// `Rejected` with the reason; the caller decides where the bytes are kept.
    pub async fn take_in(
        &self,
        arrival: Arrival,
        audio: Option<Vec<u8>>,
    ) -> anyhow::Result<TakenIn> {
        let audio = match audio {
            Some(audio) => match self
                .prepare_audio(arrival.source, arrival.received_at, audio)
                .await?
            {
                Ok(prepared) => Some(prepared),
                Err(reason) => return Ok(TakenIn::Rejected(reason)),
            },
            None => None,
        };
        self.register(arrival, audio).await
    }

    /// Probes the audio off the runtime and stores it by content hash. `Ok(Err(reason))`
    /// when the audio cannot be used.
    async fn prepare_audio(
        &self,
        source: &'static str,
        received_at: DateTime<Utc>,
        audio: Vec<u8>,
    ) -> anyhow::Result<Result<PreparedAudio, String>> {
        let store = self.audio.clone();
        let prepared = tokio::task::spawn_blocking(
            move || -> anyhow::Result<Result<PreparedAudio, String>> {
                let probe = match probe_wav(&audio) {
                    Ok(p) => p,
                    Err(e) => return Ok(Err(e.to_string())),
                };
                // Silence (a hang-up after the tone) is no message: nothing to keep or play.
                if probe.is_silent() {
                    return Ok(Ok(PreparedAudio {
                        recording: None,
                        probe,
                    }));
                }
                let sha = store.put(&audio)?;
                let recording = NewRecording {
                    sha256: sha,
                    source,
                    media_type: "audio/wav".into(),
                    bytes: audio.len() as i64,
                    duration_ms: probe.duration_ms as i64,
                    sample_rate: i64::from(probe.sample_rate),
                    channels: i64::from(probe.channels),
                    rms: probe.rms,
                    peak: probe.peak,
                    silent: probe.is_silent(),
                    received_at,
                };
                Ok(Ok(PreparedAudio {
                    recording: Some(recording),
                    probe,
                }))
            },
        )
        .await??;
        Ok(prepared)
    }

    /// The database step: the arrival is submitted through the one intake path, which opens
    /// or extends its case, exactly once per identity.
    async fn register(
        &self,
        arrival: Arrival,
        audio: Option<PreparedAudio>,
    ) -> anyhow::Result<TakenIn> {
        let (recording, probe) = match audio {
            Some(a) => (a.recording, Some(a.probe)),
            None => (None, None),
        };
        let submission = self.submission(&arrival, probe.as_ref(), recording)?;
        let registered = self.intake.submit(submission, crate::clock::now()).await?;
        let (case, attached, recording_id) = match registered {
            Registered::Created {
                case, recording_id, ..
            } => (case, false, recording_id),
            Registered::Attached { case, recording_id } => (case, true, recording_id),
            Registered::Missed { call_id } => {
                tracing::info!(call = call_id, channel = %arrival.channel, source = arrival.source, "missed call taken in for the callback list");
                return Ok(TakenIn::MissedCall { call_id });
            }
            Registered::Already => {
                return Ok(TakenIn::Already {
                    number: self.store.ingested_case_number(&arrival.identity).await?,
                })
            }
            Registered::Folded(_) | Registered::Limited => {
                anyhow::bail!("a voicemail was taken for a website message")
            }
        };
        tracing::info!(case = %case.number, channel = %case.channel, attached, source = arrival.source, "voicemail ingested");
        if recording_id.is_some() {
            self.transcripts_wake.notify_one();
        }
        Ok(TakenIn::Ingested {
            case,
            attached,
            recording_id,
        })
    }

    /// What the arrival asks of the window: a call back, about its message, or about a
    /// missed call when the recording is silent or there is none.
    fn submission(
        &self,
        arrival: &Arrival,
        probe: Option<&AudioProbe>,
        recording: Option<NewRecording>,
    ) -> anyhow::Result<Submission> {
        let silent = probe.is_none_or(AudioProbe::is_silent);
        // A number that is not a phone number (garbage caller ID) is no callback number:
        // the case is still opened and listed among the unreachable.
        let phone = arrival
            .caller
            .number
            .as_deref()
            .and_then(|n| PhoneNumber::parse(n, &self.rules.dialing).ok().flatten());
        let seconds = probe.map_or(0, |p| p.duration_ms.div_ceil(1000));
        let description = match (probe, silent) {
            (None, _) => "来电未留言（没有录音）".to_owned(),
            (Some(_), true) => format!("来电未留言（录音{seconds}秒，无声或挂断）"),
            (Some(_), false) => format!("电话留言（录音{seconds}秒），请收听录音后回电"),
        };
        let matter = self
            .rules
            .matter("other")
            .or_else(|| self.rules.matters.last())
            .map(|m| m.code.clone())
            .context("no matter category configured")?;
        Ok(Submission {
            channel: arrival.channel,
            received_at: arrival.received_at,
            citizen: Citizen {
                name: arrival.caller.name.clone(),
                phone,
                id_card_masked: None,
                id_card_digest: None,
            },
            matter,
            description,
            urgent: arrival.urgent,
            callback: Some(match silent {
                true => CallbackKind::MissedCall,
                false => CallbackKind::Message,
            }),
            answer: None,
            registered_by: format!("voicemail:{}", arrival.source),
            registered_by_id: None,
            evidence: Evidence::Voicemail(VoicemailEvidence {
                identity: arrival.identity.clone(),
                quarantine_key: arrival
                    .quarantine_key
                    .clone()
                    .unwrap_or_else(|| arrival.identity.clone()),
                source_path: arrival.source_path.clone(),
                recording,
            }),
            notify: Vec::new(),
            failed_at: Default::default(),
        })
    }
}

pub use super::arrival::{Arrival, TakenIn};

/// The quarantine key of a message whose identity cannot be known (unreadable `.txt`, no
/// `msg_id`): its path.
fn path_key(message: &SpoolMessage) -> String {
    format!("asterisk-path:{}", message.txt().display())
}

/// `asterisk:<context>/<mailbox>:<msg_id>` (stable across renumbering and folder moves);
/// without a `msg_id`, the hash of the metadata and audio.
fn identity_of(message: &SpoolMessage, meta: &MessageMeta, txt: &[u8], audio: &[u8]) -> String {
    match &meta.msg_id {
        Some(id) => format!("asterisk:{}:{id}", message.mailbox_path()),
        None => {
            let mut both = txt.to_vec();
            both.extend_from_slice(audio);
            format!("asterisk-sha256:{}", sha256_hex(&both))
        }
    }
}
