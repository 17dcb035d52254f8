//! Layered configuration: `config/default.toml` (the copy in the working directory, or the
//! one built into the binary), then the file given with `--config`, then environment
//! variables `YOUMEN__SECTION__KEY`. Later layers win; the environment always wins.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::Duration;
use serde::Deserialize;

use crate::domain::calendar::WorkingPeriod;
use crate::domain::{IntakeRules, LocalDialing, Matter};

const BUILT_IN_DEFAULTS: &str = include_str!("../config/default.toml");
const DEFAULTS_PATH: &str = "config/default.toml";

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub calendar: CalendarSettings,
    pub intake: IntakeSettings,
    pub hotline: HotlineSettings,
    pub website: WebsiteSettings,
    pub mail: MailSettings,
    pub callbacks: CallbackSettings,
    pub staff: StaffSettings,
    pub oversight: OversightSettings,
    pub retention: RetentionSettings,
    pub secrets: SecretSettings,
    /// Group-robot and other webhooks that receive alerts.
    #[serde(default)]
    pub webhooks: Vec<WebhookSettings>,
    /// The bureau's departments (科室), to refer cases to.
    #[serde(default)]
    pub departments: Vec<DepartmentSettings>,
    /// The business counters (窗口) of the service hall.
    #[serde(default)]
    pub counters: Vec<CounterSettings>,
    /// The weights of the evaluation (流动红旗, 服务之星).
    #[serde(default)]
    pub evaluation: EvaluationSettings,
    pub log: LogSettings,
}

mod directory;
pub use directory::{CounterSettings, DepartmentSettings, EvaluationSettings};

/// The instance's secret key (see `secrets`).
#[derive(Clone, Deserialize)]
pub struct SecretSettings {
    /// At least 32 bytes; empty: generated into `dir` on first start.
    pub key: String,
    pub dir: PathBuf,
}

impl std::fmt::Debug for SecretSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSettings")
            .field("key", &if self.key.is_empty() { "" } else { "…" })
            .field("dir", &self.dir)
            .finish()
    }
}

/// How long personal data of closed cases is kept (PIPL); 0 keeps it.
#[derive(Debug, Clone, Deserialize)]
pub struct RetentionSettings {
    /// Recordings are deleted this many days after their case closed.
    pub recordings_days: u32,
    /// Personal fields are anonymized this many years after the case closed.
    pub anonymize_after_years: u32,
    /// How often the job looks for what is due.
    pub check_minutes: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WebhookSettings {
    pub name: String,
    pub url: String,
    /// `json` (youmen's own body), `wecom` (企业微信 group robot) or `dingtalk` (钉钉 robot).
    pub format: String,
    /// HMAC-SHA256 key. json (required) and wecom: `X-Youmen-Timestamp: <unix seconds>` and
    /// `X-Youmen-Signature: sha256=<hex>` over `<timestamp>.<body>`; for dingtalk, the robot's
    /// own signed timestamp in the URL.
    #[serde(default)]
    pub secret: String,
    /// Post to a plain `http://` URL (a receiver on the same host or a lab only).
    #[serde(default)]
    pub allow_http: bool,
    /// Which alerts it receives: deadline_alert, callback_list.
    pub topics: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OversightSettings {
    /// How often the deadline scanner runs.
    pub scan_seconds: u64,
    /// A reminder goes out this long before a deadline.
    pub remind_before_minutes: i64,
    /// A bad rating is verified within this many working days...
    pub rating_verify_days: u32,
    /// ...and rectified within this many.
    pub rating_rectify_days: u32,
    /// Who receives the conduct bulletins (e-mail addresses, `webhook:<name>`), on the first
    /// working day of each week and month: the week's and the month's before.
    #[serde(default)]
    pub bulletin_recipients: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StaffSettings {
    /// A session unused this long ends.
    pub session_idle_minutes: i64,
    /// And any session ends this long after sign-in.
    pub session_max_hours: i64,
    /// Wrong passwords in a row an account may have before each next attempt waits (1, 2,
    /// 4… seconds, at most `sign_in_delay_max_seconds`).
    pub sign_in_free_failures: i64,
    pub sign_in_delay_max_seconds: i64,
    /// Sign-in attempts one client address may make in 15 minutes, whatever the accounts.
    pub sign_in_per_address: u32,
    /// Send the session cookie only over HTTPS (browsers also accept it on localhost).
    pub secure_cookies: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CallbackSettings {
    /// Minutes a claimed entry stays with its caller.
    pub claim_minutes: u32,
    pub max_attempts: u32,
    pub retry_after_minutes: u32,
    /// "First thing": working minutes after the opening.
    pub deadline_working_minutes: u32,
    /// The morning shift's address; the list is mailed at each opening. Empty: no mail.
    pub morning_shift_email: String,
    /// How often the job checks whether an opening has come.
    pub check_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WebsiteSettings {
    pub enabled: bool,
    /// Where citizens reach youmen (for links in e-mails), e.g. https://youmen.example.gov.cn
    pub public_base_url: String,
    /// Signs the form tokens; shared by every instance. Empty: a random key per process.
    pub form_secret: String,
    pub min_fill_seconds: u64,
    pub form_max_age_hours: u64,
    pub per_ip_per_hour: u32,
    pub per_ip_per_day: u32,
    pub track_per_ip_per_hour: u32,
    /// Wrong tracking codes one case number takes in an hour, from all addresses together.
    pub track_failures_per_case_per_hour: u32,
    /// The number the public pages give for help (a lost tracking code, say).
    pub help_phone: String,
    /// Confirmation e-mails one address receives in a day.
    pub confirmations_per_recipient_per_day: u32,
    pub fold_window_minutes: u64,
    /// Origins allowed to call the JSON API from a browser (CORS). Empty: none.
    pub cors_origins: Vec<String>,
    /// Take the client address from X-Forwarded-For (only behind a trusted reverse proxy).
    pub trust_forwarded_for: bool,
    /// Shown on the privacy notice: who handles the data and how to reach them.
    pub privacy_contact: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MailSettings {
    /// `smtp`, or `file`: each message written as an `.eml` file into `file_dir` (a laptop
    /// without an SMTP server still sees its mail).
    pub transport: String,
    pub file_dir: PathBuf,
    /// Empty (with the `smtp` transport): no mail is sent, and none is queued.
    pub smtp_host: String,
    pub smtp_port: u16,
    /// `none` (plain, for a relay on the same host), `starttls` or `tls`.
    pub tls: String,
    pub username: String,
    pub password: String,
    pub from: String,
    pub timeout_seconds: u64,
    pub retry_base_seconds: u64,
    pub max_attempts: u32,
    pub poll_seconds: u64,
    /// How long a claimed row is one instance's before another may take it (the longest a
    /// crashed instance's mail waits).
    pub lease_seconds: u64,
}

impl MailSettings {
    pub fn enabled(&self) -> bool {
        match self.transport.as_str() {
            "file" => !self.file_dir.as_os_str().is_empty(),
            _ => !self.smtp_host.trim().is_empty(),
        }
    }

    /// Mail goes out through an SMTP server (which readiness then checks).
    pub fn smtp(&self) -> bool {
        self.transport != "file" && self.enabled()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct HotlineSettings {
    pub spool_dir: PathBuf,
    pub rescan_seconds: u64,
    pub audio_dir: PathBuf,
    pub max_recording_bytes: u64,
    pub orphan_after_seconds: u64,
    pub lines: Vec<HotlineLine>,
    pub twilio: TwilioSettings,
    pub cti: CtiSettings,
    pub ami: AmiSettings,
    pub transcription: TranscriptionSettings,
}

/// Transcripts of recordings from a speech recognizer on the bureau's own network, through
/// the OpenAI-style `POST /v1/audio/transcriptions` (FunASR, whisper.cpp, vLLM, LocalAI).
/// Off while `url` is empty (recordings still queue, and are transcribed once it is set).
#[derive(Debug, Clone, Deserialize)]
pub struct TranscriptionSettings {
    /// The full URL, e.g. `http://10.0.0.5:8000/v1/audio/transcriptions`.
    pub url: String,
    /// A bearer key, when the server wants one.
    pub key: String,
    pub model: String,
    pub language: String,
    pub timeout_seconds: u64,
    /// Recordings sent at once, by each instance.
    pub concurrency: usize,
    pub max_attempts: u32,
    pub retry_base_seconds: u64,
}

impl TranscriptionSettings {
    pub fn enabled(&self) -> bool {
        !self.url.trim().is_empty()
    }
}

/// Call events pushed by a PBX (`POST /api/v1/cti/{token}`).
#[derive(Debug, Clone, Deserialize)]
pub struct CtiSettings {
    /// Events one token may push per second, on average...
    pub events_per_second: u32,
    /// ...and at once.
    pub burst: u32,
}

/// The Asterisk Manager Interface listener: off while `host` is empty.
#[derive(Debug, Clone, Deserialize)]
pub struct AmiSettings {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub secret: String,
    /// The longest wait between reconnection attempts.
    pub reconnect_max_seconds: u64,
}

impl Settings {
    /// Each hotline's number and channel (lines with an unknown channel are left out: the
    /// configuration check names them).
    pub fn hotline_lines(&self) -> Vec<(String, crate::domain::Channel)> {
        self.hotline
            .lines
            .iter()
            .filter_map(|l| {
                let digits: String = l.number.chars().filter(char::is_ascii_digit).collect();
                l.channel.parse().ok().map(|c| (digits, c))
            })
            .collect()
    }
}

impl AmiSettings {
    pub fn enabled(&self) -> bool {
        !self.host.trim().is_empty()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct TwilioSettings {
    pub auth_token: String,
    pub public_base_url: String,
    pub account_sid: String,
    /// The hosts recordings are fetched from (a host, or any name under it); a callback
    /// naming another is taken as a call without its recording.
    pub media_hosts: Vec<String>,
    /// Fetch recordings over plain http too (a test's or a lab's media server only).
    pub allow_http_media: bool,
    pub download_timeout_seconds: u64,
    pub retry_base_seconds: u64,
    pub max_attempts: u32,
}

impl TwilioSettings {
    /// Whether recordings may be fetched from `url`, with the account's credentials: https
    /// (or http when allowed) to one of `media_hosts`.
    pub fn media_url_allowed(&self, url: &str) -> bool {
        let Ok(url) = reqwest::Url::parse(url) else {
            return false;
        };
        let scheme_ok =
            url.scheme() == "https" || (self.allow_http_media && url.scheme() == "http");
        let host = url.host_str().unwrap_or("").to_ascii_lowercase();
        scheme_ok
            && url.username().is_empty()
            && self.media_hosts.iter().any(|allowed| {
                let allowed = allowed.trim().trim_start_matches('.').to_ascii_lowercase();
                !allowed.is_empty() && (host == allowed || host.ends_with(&format!(".{allowed}")))
            })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct HotlineLine {
    /// `complaint_hotline` or `business_hotline`.
    pub channel: String,
    pub number: String,
    /// `context/mailbox` paths in the voicemail spool.
    pub mailboxes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub body_limit_bytes: usize,
    pub shutdown_grace_seconds: u64,
    pub header_read_timeout_seconds: u64,
    pub request_timeout_seconds: u64,
    pub max_concurrent_requests: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CalendarSettings {
    pub dir: PathBuf,
    pub timezone: String,
    pub working_periods: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IntakeSettings {
    pub case_number_prefix: String,
    pub area_code: String,
    pub local_number_length: usize,
    pub description_max_chars: usize,
    pub name_max_chars: usize,
    pub id_card_pepper: String,
    pub matters: Vec<MatterSetting>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MatterSetting {
    pub code: String,
    pub zh: String,
    pub en: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: String,
    pub level: String,
}

impl Settings {
    /// Loads the layers. `file` is the `--config` argument, if any.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        use config::{Config, Environment, File, FileFormat};
        let mut builder = Config::builder();
        builder = if Path::new(DEFAULTS_PATH).is_file() {
            builder.add_source(File::new(DEFAULTS_PATH, FileFormat::Toml))
        } else {
            builder.add_source(File::from_str(BUILT_IN_DEFAULTS, FileFormat::Toml))
        };
        if let Some(path) = file {
            anyhow::ensure!(
                path.is_file(),
                "configuration file {} does not exist",
                path.display()
            );
            builder = builder.add_source(File::from(path).format(FileFormat::Toml));
        }
        let settings: Settings = builder
            .add_source(
                Environment::with_prefix("YOUMEN")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("calendar.working_periods")
                    .with_list_parse_key("website.cors_origins")
                    .with_list_parse_key("hotline.twilio.media_hosts"),
            )
            .build()
            .context("reading the configuration")?
            .try_deserialize()
            .context("the configuration has a missing or mistyped key")?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.working_periods()?;
        self.timezone()?;
        anyhow::ensure!(
            !self.intake.matters.is_empty(),
            "intake.matters must list at least one matter"
        );
        for line in &self.hotline.lines {
            let channel: crate::domain::Channel = line
                .channel
                .parse()
                .map_err(|e| anyhow::anyhow!("hotline.lines: {e}"))?;
            anyhow::ensure!(
                matches!(
                    channel,
                    crate::domain::Channel::ComplaintHotline
                        | crate::domain::Channel::BusinessHotline
                ),
                "hotline.lines: channel `{}` is not a hotline",
                line.channel
            );
        }
        anyhow::ensure!(
            !self.intake.case_number_prefix.is_empty()
                && self
                    .intake
                    .case_number_prefix
                    .chars()
                    .all(|c| c.is_ascii_uppercase()),
            "intake.case_number_prefix must be capital letters, like YM"
        );
        anyhow::ensure!(
            matches!(self.mail.transport.as_str(), "smtp" | "file"),
            "mail.transport must be smtp or file (it is `{}`)",
            self.mail.transport
        );
        anyhow::ensure!(
            matches!(self.mail.tls.as_str(), "none" | "starttls" | "tls"),
            "mail.tls must be none, starttls or tls (it is `{}`)",
            self.mail.tls
        );
        for hook in &self.webhooks {
            anyhow::ensure!(
                matches!(hook.format.as_str(), "json" | "wecom" | "dingtalk"),
                "webhooks `{}`: format must be json, wecom or dingtalk",
                hook.name
            );
            let scheme = reqwest::Url::parse(&hook.url)
                .map(|u| u.scheme().to_owned())
                .unwrap_or_default();
            anyhow::ensure!(
                scheme == "https" || (scheme == "http" && hook.allow_http),
                "webhooks `{}`: url must be https:// (set allow_http = true for a plain http receiver you trust, such as one on the same host)",
                hook.name
            );
            anyhow::ensure!(
                hook.format != "json" || hook.secret.len() >= 16,
                "webhooks `{}`: a json webhook needs a secret of at least 16 characters; it signs every post (X-Youmen-Signature) so the receiver can tell youmen's from anyone's",
                hook.name
            );
        }
        for origin in &self.website.cors_origins {
            anyhow::ensure!(
                origin.starts_with("http://") || origin.starts_with("https://"),
                "website.cors_origins: `{origin}` is not an origin like https://www.example.gov.cn"
            );
        }
        Ok(())
    }

    pub fn working_periods(&self) -> anyhow::Result<Vec<WorkingPeriod>> {
        let mut periods = self
            .calendar
            .working_periods
            .iter()
            .map(|p| p.parse::<WorkingPeriod>().map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<Vec<_>>>()?;
        periods.sort_by_key(|p| p.start);
        Ok(periods)
    }

    pub fn timezone(&self) -> anyhow::Result<chrono_tz::Tz> {
        self.calendar.timezone.parse().map_err(|_| {
            anyhow::anyhow!(
                "calendar.timezone `{}` is not a time zone name",
                self.calendar.timezone
            )
        })
    }

    /// The intake rules, ID-card digests keyed under the instance's secrets.
    pub fn intake_rules(&self, secrets: &crate::secrets::Secrets) -> IntakeRules {
        IntakeRules {
            dialing: LocalDialing {
                area_code: self.intake.area_code.clone(),
                local_length: self.intake.local_number_length,
            },
            matters: self
                .intake
                .matters
                .iter()
                .map(|m| Matter {
                    code: m.code.clone(),
                    zh: m.zh.clone(),
                    en: m.en.clone(),
                })
                .collect(),
            description_max_chars: self.intake.description_max_chars,
            name_max_chars: self.intake.name_max_chars,
            id_card_pepper: self.intake.id_card_pepper.clone(),
            id_card_key: secrets.derive("id-card-digest"),
            future_tolerance: Duration::minutes(5),
            departments: self
                .departments
                .iter()
                .map(|d| crate::domain::Department {
                    code: d.code.clone(),
                    name: d.name.clone(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn twilio(hosts: &[&str], allow_http: bool) -> TwilioSettings {
        TwilioSettings {
            auth_token: "t".into(),
            public_base_url: String::new(),
            account_sid: "AC1".into(),
            media_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            allow_http_media: allow_http,
            download_timeout_seconds: 30,
            retry_base_seconds: 10,
            max_attempts: 8,
        }
    }

    #[test]
    fn media_is_fetched_over_https_from_the_listed_hosts_and_names_under_them_only() {
        let s = twilio(&["api.twilio.com", "signalwire.com"], false);
        for ok in [
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
            "https://API.Twilio.com/x",
            "https://example.signalwire.com/api/laml/recordings/1",
        ] {
            assert!(s.media_url_allowed(ok), "{ok}");
        }
        for refused in [
            "http://api.twilio.com/x",
            "https://api.twilio.com.evil.example/x",
            "https://evilsignalwire.com/x",
            "https://user:pass@api.twilio.com/x",
            "https://169.254.169.254/latest/meta-data",
            "file:///etc/passwd",
            "not a url",
            "",
        ] {
            assert!(!s.media_url_allowed(refused), "{refused}");
        }
        assert!(twilio(&["127.0.0.1"], true).media_url_allowed("http://127.0.0.1:9/x"));
        assert!(!twilio(&[""], true).media_url_allowed("http://127.0.0.1:9/x"));
    }

    #[test]
    fn webhooks_need_https_and_json_ones_a_secret() {
        let hook = |url: &str, format: &str, secret: &str, allow_http: bool| WebhookSettings {
            name: "ops".into(),
            url: url.into(),
            format: format.into(),
            secret: secret.into(),
            allow_http,
            topics: vec!["deadline_alert".into()],
        };
        let check = |h: WebhookSettings| {
            let mut s = Settings::load(None).unwrap();
            s.webhooks = vec![h];
            s.validate()
        };
        let secret = "a-long-enough-secret";
        assert!(check(hook("https://ops.example/hook", "json", secret, false)).is_ok());
        let e = check(hook("http://ops.example/hook", "json", secret, false)).unwrap_err();
        assert!(e.to_string().contains("https://"), "{e}");
        assert!(check(hook("http://127.0.0.1/hook", "json", secret, true)).is_ok());
        let e = check(hook("https://ops.example/hook", "json", "", false)).unwrap_err();
        assert!(e.to_string().contains("needs a secret"), "{e}");
        assert!(check(hook(
            "https://qyapi.weixin.qq.com/x?key=1",
            "wecom",
            "",
            false
        ))
        .is_ok());
        assert!(check(hook("ftp://ops.example", "json", secret, true)).is_err());
    }
}
