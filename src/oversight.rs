//! Oversight at the edge of the domain: what the duty leader is told of escalations and
//! approval requests, the deadline scanner (reminders before a deadline, an alarm when it
//! passes, to the case's owner and the day's duty leader, once each across instances; the
//! `deadline_scan` job runs it), and the duty roster's gaps.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::calendar_source::CalendarHandle;
use crate::config::OversightSettings;
use crate::domain::Notification;
use crate::domain::{Case, Topic};
use crate::storage::{Store, StoreResult};

/// The notifications an escalation or an approval request owes the day's duty leader: by
/// e-mail when the leader has an address and mail is on, and to the webhooks subscribed to
/// `awaiting_decision`.
#[derive(Clone)]
pub struct DecisionNotices {
    store: Arc<dyn Store>,
    calendar: CalendarHandle,
    /// `webhook:<name>` recipients.
    hooks: Arc<[String]>,
    mail_enabled: bool,
}

impl DecisionNotices {
    pub fn new(
        store: Arc<dyn Store>,
        calendar: CalendarHandle,
        webhooks: &[crate::config::WebhookSettings],
        mail_enabled: bool,
    ) -> Self {
        Self {
            store,
            calendar,
            hooks: crate::notify::subscribers(webhooks, Topic::AwaitingDecision).into(),
            mail_enabled,
        }
    }

    /// What `t`, about to be applied to `case`, owes the duty leader (nothing for most
    /// changes).
    pub async fn owed(
        &self,
        case: &Case,
        t: &crate::domain::Transition,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Notification>> {
        use crate::domain::ActionKind;
        let what = match t.kind {
            ActionKind::Escalate => "escalated",
            ActionKind::RequestApproval => "approval",
            _ => return Ok(Vec::new()),
        };
        let calendar = self.calendar.current();
        let tz = calendar.timezone();
        let mut to: Vec<String> = self.hooks.to_vec();
        if self.mail_enabled {
            if let Some(leader) = self.store.duty_leader_on(calendar.local_date(now)).await? {
                if let Some((_, Some(email))) = self
                    .store
                    .user_by_display_name(&leader.display_name)
                    .await?
                {
                    to.push(email);
                }
            }
        }
        let payload = serde_json::json!({
            "case_number": case.number.as_str(),
            "what": what,
            "tier": t.tier.label_zh(),
            "owner_group": t.tier.owner_group_zh(),
            "deadline": t.deadline.with_timezone(&tz).format("%Y年%-m月%-d日 %H:%M").to_string(),
            "note": t.note,
        });
        Ok(to
            .into_iter()
            .map(|recipient| Notification {
                topic: Topic::AwaitingDecision,
                recipient,
                payload: payload.clone(),
            })
            .collect())
    }
}

#[derive(Clone)]
pub struct DeadlineScanner {
    store: Arc<dyn Store>,
    calendar: CalendarHandle,
    settings: OversightSettings,
    mail_enabled: bool,
    /// `webhook:<name>` recipients subscribed to deadline alerts.
    webhooks: Vec<String>,
}

/// What one scan did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanResult {
    pub due_soon: usize,
    pub overdue: usize,
    pub notifications: usize,
    /// Callback entries past their deadline, told to the duty leader this scan.
    pub late_callbacks: usize,
    /// Bad ratings' verify and rectify deadlines coming or passed, told this scan.
    pub rating_alarms: usize,
}

impl DeadlineScanner {
    pub fn new(
        store: Arc<dyn Store>,
        calendar: CalendarHandle,
        settings: OversightSettings,
        mail_enabled: bool,
    ) -> Self {
        Self {
            store,
            calendar,
            settings,
            mail_enabled,
            webhooks: Vec::new(),
        }
    }

    /// Also alert the webhooks subscribed to `deadline_alert`.
    pub fn with_webhooks(mut self, webhooks: &[crate::config::WebhookSettings]) -> Self {
        self.webhooks = crate::notify::subscribers(webhooks, Topic::DeadlineAlert);
        self
    }

    /// Raises every alert due at `now` that was not raised yet.
    pub async fn scan(&self, now: DateTime<Utc>) -> StoreResult<ScanResult> {
        let soon = Duration::minutes(self.settings.remind_before_minutes);
        let mut result = ScanResult::default();
        let calendar = self.calendar.current();
        let tz = calendar.timezone();
        let leader = self.store.duty_leader_on(calendar.local_date(now)).await?;
        let leader_email = match &leader {
            Some(l) => self
                .store
                .user_by_display_name(&l.display_name)
                .await?
                .and_then(|(_, e)| e),
            None => None,
        };
        for case in self.store.cases_due_before(now + soon, 1000).await? {
            let kind = if case.deadline <= now {
                "overdue"
            } else {
                "due_soon"
            };
            let mut to: Vec<String> = Vec::new();
            if let Some(owner) = &case.owner {
                if let Some((_, Some(email))) = self.store.user_by_display_name(owner).await? {
                    to.push(email);
                }
            }
            if let Some(email) = &leader_email {
                if !to.contains(email) {
                    to.push(email.clone());
                }
            }
            if !self.mail_enabled {
                to.clear();
            }
            let notifications: Vec<Notification> = to
                .into_iter()
                .chain(self.webhooks.iter().cloned())
                .map(|recipient| Notification {
                    topic: Topic::DeadlineAlert,
                    recipient,
                    payload: alert_payload(&case, kind, tz),
                })
                .collect();
            if self
                .store
                .raise_alert(case.id, kind, case.deadline, &notifications, now)
                .await?
            {
                tracing::info!(case = %case.number, kind, notifications = notifications.len(), "deadline alert raised");
                result.notifications += notifications.len();
                match kind {
                    "overdue" => result.overdue += 1,
                    _ => result.due_soon += 1,
                }
            }
        }
        // Bad ratings not followed up: their verify and rectify deadlines, like a case's.
        let leader_to: Vec<String> = leader_email
            .iter()
            .filter(|_| self.mail_enabled)
            .cloned()
            .chain(self.webhooks.iter().cloned())
            .collect();
        if !leader_to.is_empty() {
            for rating in self.store.open_bad_ratings().await? {
                for (step, due) in [
                    ("verify", rating.verify_due),
                    ("rectify", rating.rectify_due),
                ] {
                    let Some(due) = due else { continue };
                    let kind = match due <= now {
                        true => format!("rating_{step}_overdue"),
                        false if due <= now + soon => format!("rating_{step}_due_soon"),
                        false => continue,
                    };
                    let payload = serde_json::json!({
                        "case_number": rating.case_number,
                        "kind": kind,
                        "deadline": due.with_timezone(&tz).format("%Y年%-m月%-d日 %H:%M").to_string(),
                        "tier": "差评整改",
                        "owner": rating.recorded_by,
                    });
                    let notifications: Vec<Notification> = leader_to
                        .iter()
                        .map(|recipient| Notification {
                            topic: Topic::DeadlineAlert,
                            recipient: recipient.clone(),
                            payload: payload.clone(),
                        })
                        .collect();
                    if self
                        .store
                        .raise_alert(rating.case_id, &kind, due, &notifications, now)
                        .await?
                    {
                        tracing::info!(case = %rating.case_number, kind, "rating follow-up alert raised");
                        result.rating_alarms += 1;
                        result.notifications += notifications.len();
                    }
                }
            }
        }
        // Callers not called back by the end of "first thing": the duty leader, once each.
        let late_to: Vec<String> = leader_email
            .into_iter()
            .filter(|_| self.mail_enabled)
            .chain(self.webhooks.iter().cloned())
            .collect();
        if !late_to.is_empty() {
            result.late_callbacks = self.store.alert_late_callbacks(now, &late_to, tz).await?;
            if result.late_callbacks > 0 {
                tracing::info!(
                    entries = result.late_callbacks,
                    "late callbacks told to the duty leader"
                );
            }
        }
        Ok(result)
    }
}

fn alert_payload(case: &Case, kind: &str, tz: chrono_tz::Tz) -> serde_json::Value {
    serde_json::json!({
        "case_number": case.number.as_str(),
        "kind": kind,
        "deadline": case.deadline.with_timezone(&tz).format("%Y年%-m月%-d日 %H:%M").to_string(),
        "tier": case.tier.label_zh(),
        "owner": case.owner,
    })
}

/// Working days from `from` on, `days` days ahead, with no duty leader on the roster.
pub async fn roster_gaps(
    store: &dyn Store,
    calendar: &crate::domain::WorkingCalendar,
    from: NaiveDate,
    days: u64,
) -> StoreResult<Vec<NaiveDate>> {
    let to = from + chrono::Days::new(days);
    let set: std::collections::HashSet<NaiveDate> = store
        .roster(from, to)
        .await?
        .into_iter()
        .map(|(d, _, _)| d)
        .collect();
    Ok(from
        .iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| calendar.is_working_day(*d) && !set.contains(d))
        .collect())
}
