//! Website messages (官网留言): the public form's rules, tracking codes, duplicate folding
//! (and the plan of a whole batch: limits and folds), and the promise of when the window
//! will respond.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc, Weekday};
use sha2::{Digest, Sha256};

use std::collections::HashMap;

use super::calendar::{CalendarError, WorkingCalendar};
use super::registration::{register, FieldError, IntakeRules, RegistrationForm};
use super::submission::Submission;
use super::vocab::{CallbackKind, Channel};

/// The actor recorded on the timeline for messages from the public.
pub const WEBSITE_ACTOR: &str = "website";

/// The message form as the visitor filled it in.
#[derive(Debug, Clone, Default)]
pub struct MessageForm {
    pub name: String,
    pub phone: String,
    pub email: String,
    pub matter: String,
    pub description: String,
    pub consent: bool,
    /// The counter the visitor tried before (a directory code), when they say.
    pub counter: String,
}

/// A message that passed every rule, ready to be submitted (the channel adds its evidence).
#[derive(Debug, Clone)]
pub struct ValidMessage {
    /// Owing a call back: the window answers every message.
    pub submission: Submission,
    pub email: Option<String>,
    /// The same phone with the same text gives the same key.
    pub fold_key: String,
}

/// Checks the form. Every field's problem is reported at once, under the form's own field
/// names (`name`, `phone`, `email`, `matter`, `description`, `consent`).
pub fn validate(
    form: &MessageForm,
    rules: &IntakeRules,
    now: DateTime<Utc>,
) -> Result<ValidMessage, Vec<FieldError>> {
    let mut errors = Vec::new();
    if form.name.trim().is_empty() {
        errors.push(FieldError::new(
            "name",
            "required",
            "请填写您的姓名，方便我们称呼您",
            "Please enter your name",
        ));
    }
    if form.phone.trim().is_empty() {
        errors.push(FieldError::new(
            "phone",
            "required",
            "请填写电话号码，我们要用它给您回电话",
            "Please enter a phone number: it is how we call you back",
        ));
    }
    let email = form.email.trim();
    let email = (!email.is_empty()).then(|| email.to_owned());
    if email.as_deref().is_some_and(|e| !looks_like_email(e)) {
        errors.push(FieldError::new(
            "email",
            "invalid_email",
            "电子邮箱格式不对，应类似 name@example.com；不用邮箱可以空着",
            "Enter an e-mail address like name@example.com, or leave it empty",
        ));
    }
    let registration = register(
        RegistrationForm {
            channel: Channel::Website.as_str().to_owned(),
            citizen_name: Some(form.name.clone()),
            phone: Some(form.phone.clone()),
            id_card: None,
            matter: form.matter.clone(),
            description: form.description.clone(),
            received_at: None,
        },
        rules,
        WEBSITE_ACTOR.into(),
        now,
    );
    let case = match registration {
        Ok(case) => Some(case),
        Err(found) => {
            for mut e in found {
                if e.field == "citizen_name" {
                    e.field = "name";
                }
                if e.field == "matter" {
                    e.zh = "请选择事项类别".into();
                    e.en = "Choose what your matter is about".into();
                }
                // An empty field was reported above in plainer words.
                if !errors.iter().any(|known| known.field == e.field) {
                    errors.push(e);
                }
            }
            None
        }
    };
    if !form.consent {
        errors.push(FieldError::new(
            "consent",
            "consent_required",
            "请勾选同意，我们才能使用您填写的信息办理此事",
            "Please agree, so that we may use your details to handle this matter",
        ));
    }
    let order = ["name", "phone", "email", "matter", "description", "consent"];
    errors.sort_by_key(|e| order.iter().position(|f| *f == e.field));
    match case {
        Some(mut submission) if errors.is_empty() => {
            submission.callback = Some(CallbackKind::Message);
            let phone = submission.citizen.phone.as_ref().map_or("", |p| p.e164());
            let fold_key = fold_key(phone, &submission.description);
            Ok(ValidMessage {
                submission,
                email,
                fold_key,
            })
        }
        _ => Err(errors),
    }
}

/// What a message that cannot be given its terms (a calendar that cannot count from its
/// arrival) is told.
pub fn calendar_error(e: CalendarError) -> Vec<FieldError> {
    vec![FieldError::new(
        "description",
        "calendar",
        format!("暂时无法受理：{e}"),
        e.to_string(),
    )]
}

/// A light check; the mail server has the last word, and an address it refuses is kept on
/// the outbox row with the reason.
fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    s.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@')
}

/// The key under which the same message from the same phone folds into one case: the text
/// with its whitespace collapsed, so a resubmission with a trailing space still folds.
pub fn fold_key(phone_e164: &str, text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    hex::encode(Sha256::digest(format!("{phone_e164}\n{text}")))
}

/// The tracking code alphabet: Crockford's base 32, no I, L, O or U to misread.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new tracking code, `K7QM3-XPA9D`: ten symbols (50 random bits), read out and typed
/// easily; look-ups are rate-limited.
pub fn new_tracking_code(rng: &mut impl rand::Rng) -> String {
    let symbols: String = (0..10)
        .map(|_| ALPHABET[rng.gen_range(0..32)] as char)
        .collect();
    format!("{}-{}", &symbols[..5], &symbols[5..])
}

/// The link that opens a case's tracking page with its code: both ride in the fragment,
/// which browsers never send to a server, so no access log on the way records the code.
/// `track_url` is the tracking page's address (`https://…/track`).
pub fn tracking_link(track_url: &str, case_number: &str, code: &str) -> String {
    format!("{track_url}#case={case_number}&code={code}")
}

/// The digest stored for a tracking code as typed: case, spaces and dashes do not matter,
/// and the letters people confuse with digits are read as those digits.
pub fn tracking_digest(typed: &str) -> String {
    let normal: String = typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    hex::encode(Sha256::digest(normal.as_bytes()))
}

/// What one message of a batch becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Over its sender's limit: nothing is stored.
    Limited,
    /// Folded into a stored case with the same key: that case's id.
    FoldStored(i64),
    /// Folded into the new case of an earlier message of the batch: its place among the new
    /// cases.
    FoldBatch(usize),
    /// A new case: its place among the new cases.
    New(usize),
}

/// One message of a batch, as the plan sees it.
#[derive(Debug, Clone, Copy)]
pub struct Planned<'a> {
    pub fold_key: &'a str,
    /// Folds only into what was registered since then.
    pub fold_since: DateTime<Utc>,
    /// The keyed digest of the sender's address, when a limit applies.
    pub sender: Option<&'a str>,
}

/// A batch's plan: each message's fate, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPlan {
    pub plans: Vec<Plan>,
    /// The messages that make new cases, in order (a [`Plan::New`]'s place indexes this).
    pub creating: Vec<usize>,
    /// The messages let through their sender's limit: each is a hit to count.
    pub counted: Vec<usize>,
}

/// Decides a whole batch of website messages from what was read beforehand: each sender's
/// hits per window of `limits` (`counts`, keyed by sender; the batch's own messages are
/// counted on top, in order), and the stored messages each key could fold into (`earlier`:
/// key → when it was registered, its case). A message over its sender's limit is refused;
/// otherwise it folds into a recent stored message with its key, or into an earlier message
/// of the batch, or becomes a new case.
pub fn plan_batch(
    messages: &[Planned<'_>],
    limits: &[(chrono::Duration, u32)],
    mut counts: HashMap<String, Vec<i64>>,
    earlier: &HashMap<String, (DateTime<Utc>, i64)>,
) -> BatchPlan {
    let mut plan = BatchPlan {
        plans: Vec::with_capacity(messages.len()),
        creating: Vec::new(),
        counted: Vec::new(),
    };
    let mut first_of_key: HashMap<&str, usize> = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        if let Some(sender) = m.sender {
            let hits = counts
                .entry(sender.to_owned())
                .or_insert_with(|| vec![0; limits.len()]);
            let over = limits
                .iter()
                .zip(hits.iter())
                .any(|((_, most), n)| *n >= i64::from(*most));
            if over {
                plan.plans.push(Plan::Limited);
                continue;
            }
            hits.iter_mut().for_each(|n| *n += 1);
            plan.counted.push(i);
        }
        let stored = earlier
            .get(m.fold_key)
            .filter(|(at, _)| *at >= m.fold_since);
        plan.plans.push(if let Some((_, case_id)) = stored {
            Plan::FoldStored(*case_id)
        } else if let Some(&j) = first_of_key.get(m.fold_key) {
            Plan::FoldBatch(j)
        } else {
            first_of_key.insert(m.fold_key, plan.creating.len());
            plan.creating.push(i);
            Plan::New(plan.creating.len() - 1)
        });
    }
    plan
}

/// When the window will answer a message received at some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponsePromise {
    /// In working hours: today.
    Today,
    /// In the lunch break: when the afternoon opens.
    LaterToday(NaiveTime),
    /// Off hours: first thing on that working day.
    OnDay(NaiveDate),
}

impl ResponsePromise {
    pub fn for_arrival(
        calendar: &WorkingCalendar,
        at: DateTime<Utc>,
    ) -> Result<Self, CalendarError> {
        if calendar.is_working_time(at) {
            return Ok(Self::Today);
        }
        let opening = calendar
            .next_opening(at)?
            .at
            .with_timezone(&calendar.timezone());
        Ok(match opening.date_naive() == calendar.local_date(at) {
            true => Self::LaterToday(opening.time()),
            false => Self::OnDay(opening.date_naive()),
        })
    }

    /// 我们将于2026年10月8日（星期四）上班后第一时间与您联系
    pub fn zh(&self) -> String {
        match self {
            Self::Today => "我们将在今天工作时间内与您联系".into(),
            Self::LaterToday(t) => {
                format!("我们将于今天{}上班后第一时间与您联系", t.format("%H:%M"))
            }
            Self::OnDay(d) => format!(
                "我们将于{}年{}月{}日（{}）上班后第一时间与您联系",
                d.year(),
                d.month(),
                d.day(),
                weekday_zh(d.weekday())
            ),
        }
    }

    pub fn en(&self) -> String {
        match self {
            Self::Today => "We will contact you today, during working hours".into(),
            Self::LaterToday(t) => format!(
                "We will contact you first thing when we reopen today at {}",
                t.format("%H:%M")
            ),
            Self::OnDay(d) => format!(
                "We will contact you first thing on the next working day, {}",
                d.format("%A %-d %B %Y")
            ),
        }
    }

    pub fn text(&self, english: bool) -> String {
        match english {
            true => self.en(),
            false => self.zh(),
        }
    }
}

pub fn weekday_zh(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "星期一",
        Weekday::Tue => "星期二",
        Weekday::Wed => "星期三",
        Weekday::Thu => "星期四",
        Weekday::Fri => "星期五",
        Weekday::Sat => "星期六",
        Weekday::Sun => "星期日",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::fixtures::{at, calendar};
    use crate::domain::registration::Matter;
    use crate::domain::LocalDialing;

    fn rules() -> IntakeRules {
        IntakeRules {
            dialing: LocalDialing::default(),
            matters: vec![Matter {
                code: "pensions".into(),
                zh: "养老保险".into(),
                en: "Pensions".into(),
            }],
            description_max_chars: 2000,
            name_max_chars: 50,
            id_card_pepper: "test".into(),
            id_card_key: [9; 32],
            future_tolerance: chrono::Duration::minutes(5),
            departments: Vec::new(),
        }
    }

    fn form() -> MessageForm {
        MessageForm {
            name: "王大爷".into(),
            phone: "13800138000".into(),
            email: String::new(),
            matter: "pensions".into(),
            description: "养老金资格认证办不了".into(),
            consent: true,
            counter: String::new(),
        }
    }

    #[test]
    fn an_evening_message_is_due_at_the_next_opening_on_the_website_channel() {
        let now = at("2026-09-30T20:00:00+08:00");
        let m = validate(&form(), &rules(), now).unwrap();
        assert_eq!(m.submission.channel, Channel::Website);
        let case = m.submission.admit(&calendar()).unwrap().case;
        assert!(case.off_hours);
        let cb = case.callback.unwrap();
        assert_eq!(cb.due_at, at("2026-10-08T08:30:00+08:00"));
        assert_eq!(cb.kind, CallbackKind::Message);
    }

    #[test]
    fn an_empty_form_names_every_missing_field_in_order() {
        let errors = validate(
            &MessageForm::default(),
            &rules(),
            at("2026-11-27T10:00:00+08:00"),
        )
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["name", "phone", "matter", "description", "consent"]
        );
        assert!(errors[1].zh.contains("回电话"));
    }

    #[test]
    fn a_bad_email_is_explained_and_an_empty_one_is_fine() {
        let now = at("2026-11-27T10:00:00+08:00");
        let bad = MessageForm {
            email: "wang at qq".into(),
            ..form()
        };
        let errors = validate(&bad, &rules(), now).unwrap_err();
        assert_eq!(errors[0].field, "email");
        let good = MessageForm {
            email: " wang@qq.com ".into(),
            ..form()
        };
        let m = validate(&good, &rules(), now).unwrap();
        assert_eq!(m.email.as_deref(), Some("wang@qq.com"));
    }

    #[test]
    fn a_batch_counts_its_own_messages_against_each_sender_and_folds_repeats() {
        let t = at("2026-11-30T10:00:00+08:00");
        let since = t - chrono::Duration::minutes(10);
        let m = |key, sender| Planned {
            fold_key: key,
            fold_since: since,
            sender: Some(sender),
        };
        // At most 2 an hour: sender A has 1 already, B none.
        let limits = [(chrono::Duration::hours(1), 2)];
        let counts = HashMap::from([("A".to_owned(), vec![1])]);
        let earlier = HashMap::from([
            ("stored".to_owned(), (t - chrono::Duration::minutes(5), 42)),
            ("old".to_owned(), (t - chrono::Duration::hours(2), 7)),
        ]);
        let batch = [
            m("k1", "A"),     // A's second: through, new
            m("k2", "A"),     // A's third: over the limit
            m("stored", "B"), // a recent stored repeat
            m("k1", "B"),     // the batch's own repeat
            m("old", "B"),    // B's third: over the limit
        ];
        let plan = plan_batch(&batch, &limits, counts, &earlier);
        assert_eq!(
            plan.plans,
            [
                Plan::New(0),
                Plan::Limited,
                Plan::FoldStored(42),
                Plan::FoldBatch(0),
                Plan::Limited
            ]
        );
        assert_eq!(plan.creating, [0]);
        assert_eq!(
            plan.counted,
            [0, 2, 3],
            "a repeat counts against its sender too"
        );
        // Alone, its stored copy is too old to fold into: a new case.
        assert_eq!(
            plan_batch(&batch[4..], &limits, HashMap::new(), &earlier).plans,
            [Plan::New(0)]
        );
    }

    #[test]
    fn without_limits_nothing_is_counted() {
        let t = at("2026-11-30T10:00:00+08:00");
        let batch = [Planned {
            fold_key: "k",
            fold_since: t,
            sender: None,
        }; 3];
        let plan = plan_batch(&batch, &[], HashMap::new(), &HashMap::new());
        assert_eq!(
            plan.plans,
            [Plan::New(0), Plan::FoldBatch(0), Plan::FoldBatch(0)]
        );
        assert!(plan.counted.is_empty());
    }

    #[test]
    fn the_same_words_from_the_same_phone_fold_whatever_the_spacing() {
        assert_eq!(
            fold_key("+8613800138000", "养老金  办不了\n"),
            fold_key("+8613800138000", "养老金 办不了")
        );
        assert_ne!(
            fold_key("+8613800138000", "养老金办不了"),
            fold_key("+8613800138001", "养老金办不了")
        );
    }

    #[test]
    fn tracking_codes_forgive_case_dashes_and_look_alike_letters() {
        let code = new_tracking_code(&mut rand::thread_rng());
        assert_eq!(code.len(), 11);
        assert_eq!(
            tracking_digest(&code),
            tracking_digest(&code.to_lowercase())
        );
        assert_eq!(tracking_digest("0I1-ab"), tracking_digest("OL1AB"));
        assert_ne!(
            tracking_digest("00000-00000"),
            tracking_digest("00000-00001")
        );
    }

    #[test]
    fn the_promise_spells_out_the_day_from_the_calendar() {
        let cal = calendar();
        let p = ResponsePromise::for_arrival(&cal, at("2026-09-30T20:00:00+08:00")).unwrap();
        assert_eq!(
            p.zh(),
            "我们将于2026年10月8日（星期四）上班后第一时间与您联系"
        );
        assert!(p.en().contains("Thursday 8 October 2026"));
        let lunch = ResponsePromise::for_arrival(&cal, at("2026-11-27T12:30:00+08:00")).unwrap();
        assert_eq!(lunch.zh(), "我们将于今天13:00上班后第一时间与您联系");
        let working = ResponsePromise::for_arrival(&cal, at("2026-11-27T10:00:00+08:00")).unwrap();
        assert_eq!(working, ResponsePromise::Today);
        // A make-up working day on a Saturday.
        let friday = ResponsePromise::for_arrival(&cal, at("2026-02-13T19:30:00+08:00")).unwrap();
        assert_eq!(
            friday.zh(),
            "我们将于2026年2月14日（星期六）上班后第一时间与您联系"
        );
    }
}
