//! The website channel: a message from the public form or the bureau's own website becomes
//! a case (or folds into the one the same message opened), with a tracking code, a promise of
//! when we will respond, and a confirmation e-mail queued in the same transaction. This file
//! is the adapter (the form into a `Submission`, tracking and ratings for the public); its
//! routes are in [`routes`]; the form's rules are `domain::website`.

pub mod routes;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::calendar_source::CalendarHandle;
use crate::domain::website::{
    self, new_tracking_code, tracking_digest, MessageForm, ResponsePromise, ValidMessage,
};
use crate::domain::{
    Case, CaseNumber, Evidence, FieldError, IntakeRules, Notification, RateCheck, Status,
    WebsiteForm,
};
use crate::intake::{Intake, IntakeError};
use crate::ratings::{RatingError, Ratings};
use crate::storage::{Registered, Store, StoreError};

#[derive(Clone)]
pub struct WebsiteDesk {
    /// The counters a visitor may say they tried.
    directory: crate::directory::Directory,
    store: Arc<dyn Store>,
    /// Messages arriving together are committed together (one fsync for the batch).
    intake: Intake,
    ratings: Ratings,
    calendar: CalendarHandle,
    rules: Arc<IntakeRules>,
    fold_window: Duration,
    confirmations: Confirmations,
}

/// The confirmation e-mail a visitor may ask for.
#[derive(Clone)]
pub struct Confirmations {
    /// The public site's address, for the tracking link; None: mail is not configured, so
    /// no confirmation is queued.
    pub base_url: Option<String>,
    /// Confirmations one recipient address gets in a day, however many messages name it (so
    /// the form cannot be used to flood someone's mailbox); counted in the registration's own
    /// transaction.
    pub per_recipient_per_day: u32,
}

/// What the visitor is told after submitting.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub case_number: CaseNumber,
    /// None when the message folded into an earlier case: the code was shown then.
    pub tracking_code: Option<String>,
    pub promise: ResponsePromise,
    pub duplicate: bool,
    pub received_at: DateTime<Utc>,
    pub confirmation_queued: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the message has {} problem(s)", .0.len())]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the working calendar cannot say when we will respond: {0}")]
    Calendar(#[from] crate::domain::calendar::CalendarError),
    /// Over the sender's per-address limit: nothing was stored.
    #[error("too many messages from this address")]
    Limited,
}

/// What the public tracking page may show: no names, no internal notes, no staff.
#[derive(Debug, Clone)]
pub struct PublicStatus {
    pub case_number: CaseNumber,
    pub status: Status,
    pub matter: String,
    pub received_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub overdue: bool,
    /// Replies staff chose to publish, oldest first.
    pub replies: Vec<(DateTime<Utc>, String)>,
    /// The citizen's (or a recorded) rating, once given.
    pub rating: Option<crate::domain::Rating>,
    /// Finished and not rated yet: the page offers the rating.
    pub can_rate: bool,
}

impl WebsiteDesk {
    pub fn new(
        store: Arc<dyn Store>,
        intake: Intake,
        ratings: Ratings,
        calendar: CalendarHandle,
        rules: Arc<IntakeRules>,
        fold_window: Duration,
        confirmations: Confirmations,
        directory: crate::directory::Directory,
    ) -> Self {
        Self {
            directory,
            store,
            intake,
            ratings,
            calendar,
            rules,
            fold_window,
            confirmations,
        }
    }

    pub fn rules(&self) -> &IntakeRules {
        &self.rules
    }

    /// The time zone pages show times in.
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.calendar.current().timezone()
    }

    /// Counts one request of an address (its keyed digest) against `limits` in `scope`;
    /// false, and nothing counted, when it is over them.
    pub async fn limit_hit(
        &self,
        scope: &str,
        key: &str,
        limits: &[(chrono::Duration, u32)],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.store.rate_hit(scope, key, limits, now).await
    }

    /// Takes back the hit counted at `at` (a look-up that proved its case).
    pub async fn limit_forgive(
        &self,
        scope: &str,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.store.rate_forgive(scope, key, at).await
    }

    /// The visitor's rating of their finished case (the case proven theirs by its code).
    pub async fn rate(
        &self,
        case: &Case,
        level: crate::domain::Rating,
        comment: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), RatingError> {
        self.ratings
            .rate(case, level, comment, "citizen", "citizen".into(), now)
            .await
    }

    /// Checks a message against the form's rules, without storing anything.
    pub async fn validate(
        &self,
        form: &MessageForm,
        now: DateTime<Utc>,
    ) -> Result<ValidMessage, Vec<FieldError>> {
        let checked = website::validate(form, &self.rules, now);
        // The counter tried before, when the visitor says (a code from the list offered).
        let failed = self.directory.check(&form.counter, "", "").await;
        match (checked, failed) {
            (Ok(mut message), Ok(failed_at)) => {
                message.submission.failed_at = failed_at;
                Ok(message)
            }
            (Ok(_), Err(errors)) | (Err(errors), Ok(_)) => Err(errors),
            (Err(mut errors), Err(more)) => {
                errors.extend(more);
                Err(errors)
            }
        }
    }

    /// The counters a visitor may say they tried: (code, name).
    pub async fn counters(&self) -> Vec<(String, String)> {
        self.directory
            .active(crate::domain::directory::EntryKind::Counter)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.code, c.name))
            .collect()
    }

    /// Validates and stores a message.
    pub async fn submit(
        &self,
        form: &MessageForm,
        now: DateTime<Utc>,
    ) -> Result<Receipt, SubmitError> {
        let message = self
            .validate(form, now)
            .await
            .map_err(SubmitError::Invalid)?;
        self.store(message, now, None).await
    }

    /// Stores a validated message. The answer comes after the commit: an acknowledged
    /// message is durable, and so is its confirmation e-mail.
    pub async fn store(
        &self,
        message: ValidMessage,
        now: DateTime<Utc>,
        rate: Option<RateCheck>,
    ) -> Result<Receipt, SubmitError> {
        let calendar = self.calendar.current();
        let code = new_tracking_code(&mut rand::thread_rng());
        let promise = ResponsePromise::for_arrival(&calendar, now)?;
        let wanted = match (&self.confirmations.base_url, &message.email) {
            (Some(base), Some(email)) => Some((base, email)),
            _ => None,
        };
        let confirmation = match wanted {
            Some((base, email)) => Some(Notification {
                topic: crate::domain::Topic::WebsiteConfirmation,
                recipient: email.clone(),
                payload: serde_json::json!({
                    "tracking_code": code,
                    "track_url_base": format!("{}/track", base.trim_end_matches('/')),
                    "promise_zh": promise.zh(),
                    "promise_en": promise.en(),
                }),
            }),
            _ => None,
        };
        let confirmation_queued = confirmation.is_some();
        let mut submission = message.submission;
        submission.evidence = Evidence::Website(WebsiteForm {
            tracking_digest: tracking_digest(&code),
            email: message.email,
            fold_key: message.fold_key,
            fold_since: now - self.fold_window,
            limit: rate,
            confirmations_per_day: self.confirmations.per_recipient_per_day,
        });
        submission.notify = confirmation.into_iter().collect();
        let registered = self
            .intake
            .submit(submission, now)
            .await
            .map_err(|e| match e {
                IntakeError::Calendar(e) => SubmitError::Invalid(website::calendar_error(e)),
                IntakeError::Store(e) => SubmitError::Store(e),
            })?;
        match registered {
            Registered::Limited => Err(SubmitError::Limited),
            Registered::Created { case, notified, .. } => Ok(Receipt {
                case_number: case.number,
                tracking_code: Some(code),
                promise,
                duplicate: false,
                received_at: case.received_at,
                confirmation_queued: confirmation_queued && notified,
            }),
            Registered::Attached { .. } | Registered::Missed { .. } | Registered::Already => {
                Err(SubmitError::Store(StoreError::Other(anyhow::anyhow!(
                    "a website message was taken for a voicemail"
                ))))
            }
            Registered::Folded(case) => {
                // The first message's promise, unless its time has passed.
                let promise = match case.callback {
                    Some(cb) if cb.due_at >= now => {
                        ResponsePromise::for_arrival(&calendar, case.received_at)?
                    }
                    _ => promise,
                };
                Ok(Receipt {
                    case_number: case.number,
                    tracking_code: None,
                    promise,
                    duplicate: true,
                    received_at: case.received_at,
                    confirmation_queued: false,
                })
            }
        }
    }

    /// The public status of a case proven the visitor's (see [`Self::case_if_matches`]).
    pub async fn status_of(
        &self,
        case: &Case,
        now: DateTime<Utc>,
    ) -> Result<PublicStatus, StoreError> {
        let rating = self.store.rating_of(case.id).await?.map(|r| r.level);
        let can_rate = rating.is_none()
            && matches!(
                case.status,
                Status::Resolved | Status::Closed | Status::Refused
            );
        let replies =
            crate::cases::visibility::public_replies(&self.store.timeline(case.id).await?);
        Ok(PublicStatus {
            overdue: case.is_overdue(now),
            case_number: case.number.clone(),
            status: case.status,
            matter: case.matter.clone(),
            received_at: case.received_at,
            deadline: case.deadline,
            replies,
            rating,
            can_rate,
        })
    }

    /// The case, if `code` is its tracking code (the one on the latest printed receipt, or
    /// else the website's); None otherwise, the same for an unknown case. Only the code proves
    /// a case: a phone number is known to too many people (an employer, a landlord).
    pub async fn case_if_matches(
        &self,
        number: &str,
        code: &str,
    ) -> Result<Option<Case>, StoreError> {
        let Ok(number) = number.parse::<CaseNumber>() else {
            return Ok(None);
        };
        let Some(case) = self.store.case_by_number(&number).await? else {
            return Ok(None);
        };
        Ok(self.matches(&case, code).await?.then_some(case))
    }

    async fn matches(&self, case: &Case, code: &str) -> Result<bool, StoreError> {
        let digest = tracking_digest(code);
        // A receipt printed by staff replaces every earlier code, the website's included.
        let known = match self.store.tracking_code(case.id).await? {
            Some(issued) => Some(issued),
            None => self
                .store
                .website_record(case.id)
                .await?
                .map(|r| r.tracking_digest),
        };
        Ok(
            known
                .is_some_and(|known| crate::auth::same_secret(known.as_bytes(), digest.as_bytes())),
        )
    }
}
