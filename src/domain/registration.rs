//! Registration: turning what staff typed into a [`Submission`], or saying plainly what is
//! wrong.

use chrono::{DateTime, Duration, Utc};

use super::case::Citizen;
use super::citizen::{plain_text, IdCardNumber, InvalidIdCard, TextError};
use super::phone::{LocalDialing, PhoneNumber};
use super::submission::{Evidence, Submission};
use super::vocab::Channel;

/// A matter category of the configured list, with its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matter {
    pub code: String,
    pub zh: String,
    pub en: String,
}

/// The bureau's intake rules, from configuration.
#[derive(Debug, Clone)]
pub struct IntakeRules {
    pub dialing: LocalDialing,
    pub matters: Vec<Matter>,
    pub description_max_chars: usize,
    pub name_max_chars: usize,
    /// The salt of ID-card digests (as it always was: digests made with it keep matching).
    pub id_card_pepper: String,
    /// The key ID-card digests are made under (derived from the instance's secret).
    pub id_card_key: [u8; 32],
    /// How far in the future a `received_at` may be (clock skew between machines).
    pub future_tolerance: Duration,
    /// The bureau's departments a case can be referred to (转办).
    pub departments: Vec<Department>,
}

/// A department (科室) of the bureau: its code and Chinese name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    pub code: String,
    pub name: String,
}

impl IntakeRules {
    pub fn matter(&self, code: &str) -> Option<&Matter> {
        self.matters.iter().find(|m| m.code == code)
    }

    pub fn department(&self, code: &str) -> Option<&Department> {
        self.departments.iter().find(|d| d.code == code)
    }
}

/// The registration form as typed, before validation.
#[derive(Debug, Clone, Default)]
pub struct RegistrationForm {
    pub channel: String,
    pub citizen_name: Option<String>,
    pub phone: Option<String>,
    pub id_card: Option<String>,
    pub matter: String,
    pub description: String,
    pub received_at: Option<DateTime<Utc>>,
}

/// One problem with one field, in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub code: &'static str,
    pub zh: String,
    pub en: String,
}

impl FieldError {
    pub fn new(
        field: &'static str,
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        Self {
            field,
            code,
            zh: zh.into(),
            en: en.into(),
        }
    }
}

pub(super) fn text_error(
    field: &'static str,
    label_zh: &str,
    label_en: &str,
    e: TextError,
) -> FieldError {
    match e {
        TextError::Empty => FieldError::new(
            field,
            "required",
            format!("请填写{label_zh}"),
            format!("Please enter the {label_en}"),
        ),
        TextError::TooLong { max, count } => FieldError::new(
            field,
            "too_long",
            format!("{label_zh}最多{max}个字，现在有{count}个字"),
            format!("The {label_en} may be at most {max} characters; it has {count}"),
        ),
        TextError::ControlCharacters => FieldError::new(
            field,
            "invalid_characters",
            format!("{label_zh}中有无法显示的字符，请重新输入"),
            format!("The {label_en} contains invisible control characters"),
        ),
    }
}

/// Parses a phone number field, mapping failure to a field error.
pub fn parse_phone(
    field: &'static str,
    raw: &str,
    dialing: &LocalDialing,
) -> Result<Option<PhoneNumber>, FieldError> {
    let invalid = || {
        FieldError::new(
            field,
            "invalid_phone",
            "电话号码无效，请填写11位手机号或带区号的固定电话",
            "The phone number is not valid: give an 11-digit mobile or a landline with its area code",
        )
    };
    match PhoneNumber::parse(raw, dialing) {
        // A short extension is no number to call a citizen back on.
        Ok(None) if raw.chars().any(|c| c.is_ascii_digit()) => Err(invalid()),
        Ok(phone) => Ok(phone),
        Err(_) => Err(invalid()),
    }
}

/// Validates the form. Collects every field's problem, so the person fixes all at once.
pub fn register(
    form: RegistrationForm,
    rules: &IntakeRules,
    registered_by: super::audit::By<'_>,
    now: DateTime<Utc>,
) -> Result<Submission, Vec<FieldError>> {
    let mut errors = Vec::new();
    let channel = form.channel.parse::<Channel>().map_err(|_| {
        FieldError::new(
            "channel",
            "unknown_channel",
            format!("受理渠道无效，可选：{}", Channel::codes()),
            format!("Unknown channel; use one of: {}", Channel::codes()),
        )
    });
    let name = match form
        .citizen_name
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => Ok(None),
        Some(raw) => plain_text(raw, rules.name_max_chars)
            .map(Some)
            .map_err(|e| text_error("citizen_name", "姓名", "name", e)),
    };
    let phone = parse_phone("phone", form.phone.as_deref().unwrap_or(""), &rules.dialing);
    let id_card = match form
        .id_card
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => Ok(None),
        Some(raw) => IdCardNumber::parse(raw).map(Some).map_err(|e| {
            let zh = match e {
                InvalidIdCard::Shape => "身份证号码应为18位：17位数字加1位数字或X",
                InvalidIdCard::BirthDate => "身份证号码中的出生日期不存在，请核对",
                InvalidIdCard::Checksum => "身份证号码校验位不对，请核对是否输错",
            };
            FieldError::new("id_card", "invalid_id_card", zh, e.to_string())
        }),
    };
    let matter = rules.matter(form.matter.trim()).cloned().ok_or_else(|| {
        let codes: Vec<&str> = rules.matters.iter().map(|m| m.code.as_str()).collect();
        // Staff read the categories by name; an integrator also needs the codes.
        let names: Vec<String> = rules
            .matters
            .iter()
            .map(|m| format!("{}（{}）", m.zh, m.code))
            .collect();
        let zh = match form.matter.trim() {
            "" => format!("请选择事项类别：{}", names.join("、")),
            _ => format!("事项类别无效，可选：{}", names.join("、")),
        };
        FieldError::new(
            "matter",
            "unknown_matter",
            zh,
            format!("Unknown matter category; use one of: {}", codes.join(", ")),
        )
    });
    let description = plain_text(&form.description, rules.description_max_chars)
        .map_err(|e| text_error("description", "问题描述", "description", e));
    let received_at = match form.received_at {
        Some(t) if t > now + rules.future_tolerance => Err(FieldError::new(
            "received_at",
            "in_future",
            "受理时间不能晚于现在",
            "The time received cannot be in the future",
        )),
        Some(t) => Ok(t),
        None => Ok(now),
    };

    macro_rules! take {
        ($r:expr) => {
            match $r {
                Ok(v) => Some(v),
                Err(e) => {
                    errors.push(e);
                    None
                }
            }
        };
    }
    let (channel, name, phone, id_card, matter, description, received_at) = (
        take!(channel),
        take!(name),
        take!(phone),
        take!(id_card),
        take!(matter),
        take!(description),
        take!(received_at),
    );
    let (
        Some(channel),
        Some(name),
        Some(phone),
        Some(id_card),
        Some(matter),
        Some(description),
        Some(received_at),
    ) = (
        channel,
        name,
        phone,
        id_card,
        matter,
        description,
        received_at,
    )
    else {
        return Err(errors);
    };

    Ok(Submission {
        channel,
        received_at,
        citizen: Citizen {
            name,
            phone,
            id_card_masked: id_card.as_ref().map(IdCardNumber::masked),
            id_card_digest: id_card
                .as_ref()
                .map(|id| id.digest(&rules.id_card_pepper, &rules.id_card_key)),
        },
        matter: matter.code,
        description,
        urgent: false,
        callback: None,
        answer: None,
        registered_by: registered_by.name.to_owned(),
        registered_by_id: registered_by.id.map(str::to_owned),
        evidence: Evidence::Typed,
        notify: Vec::new(),
        failed_at: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::fixtures::{at, calendar};

    pub fn rules() -> IntakeRules {
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
            future_tolerance: Duration::minutes(5),
            departments: Vec::new(),
        }
    }

    fn form() -> RegistrationForm {
        RegistrationForm {
            channel: "counter".into(),
            citizen_name: Some("张三".into()),
            phone: Some("138 0013 8000".into()),
            id_card: Some("11010519491231002X".into()),
            matter: "pensions".into(),
            description: "养老金资格认证在社保窗口办不了".into(),
            received_at: None,
        }
    }

    #[test]
    fn a_complete_form_becomes_a_simple_case_due_the_next_working_day() {
        let now = at("2026-11-27T10:00:00+08:00");
        let c = register(form(), &rules(), "counter-1".into(), now)
            .unwrap()
            .admit(&calendar())
            .unwrap()
            .case;
        assert_eq!(c.citizen.phone.unwrap().e164(), "+8613800138000");
        assert_eq!(
            c.citizen.id_card_masked.as_deref(),
            Some("11**************2X")
        );
        assert_eq!(c.deadline, at("2026-11-30T17:00:00+08:00"));
        assert!(!c.off_hours);
    }

    #[test]
    fn a_back_dated_evening_entry_is_off_hours() {
        let now = at("2026-11-30T09:00:00+08:00");
        let f = RegistrationForm {
            received_at: Some(at("2026-11-27T20:00:00+08:00")),
            ..form()
        };
        assert!(
            register(f, &rules(), "x".into(), now)
                .unwrap()
                .admit(&calendar())
                .unwrap()
                .case
                .off_hours
        );
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let f = RegistrationForm {
            channel: "fax".into(),
            phone: Some("12345".into()),
            id_card: Some("110105194912310021".into()),
            matter: "lottery".into(),
            description: " ".into(),
            received_at: Some(at("2030-01-01T00:00:00Z")),
            ..form()
        };
        let errors = register(f, &rules(), "x".into(), at("2026-11-27T10:00:00Z")).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "channel",
                "phone",
                "id_card",
                "matter",
                "description",
                "received_at"
            ]
        );
        assert!(errors[4].zh.contains("问题描述"));
    }
}
