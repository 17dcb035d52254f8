//! Correcting what was registered (更正): a mistyped name, phone number, ID card, matter or
//! description, with a reason. Pure: validates the typed values as registration does, and
//! says what changes, before and after, for the timeline.

use serde_json::{json, Map, Value};

use super::case::{Case, Citizen};
use super::citizen::{plain_text, IdCardNumber, InvalidIdCard};
use super::registration::{parse_phone, text_error, FieldError, IntakeRules};

/// The correction form as typed: an empty field keeps the registered value.
#[derive(Debug, Clone, Default)]
pub struct CorrectionForm {
    pub citizen_name: Option<String>,
    pub phone: Option<String>,
    pub id_card: Option<String>,
    pub matter: Option<String>,
    pub description: Option<String>,
    /// Where it failed: a counter's code, a department's code, the clerk.
    pub failed_counter: Option<String>,
    pub failed_department: Option<String>,
    pub failed_clerk: Option<String>,
    pub reason: Option<String>,
}

/// What a correction changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Correction {
    pub citizen: Citizen,
    pub matter: String,
    pub description: String,
    pub failed_at: super::directory::FailedAt,
    /// The changed fields before and after (the ID card masked).
    pub before: Value,
    pub after: Value,
    /// For the timeline: the reason, then each change.
    pub note: String,
    /// The callback goes to the new number.
    pub phone_changed: bool,
}

/// A name as the timeline keeps it: its first character (the timeline outlives retention's
/// anonymization, so it holds no more of a person than it must).
fn masked_name(name: &Option<String>) -> String {
    let name = name.as_deref().unwrap_or("");
    match name.chars().next() {
        Some(first) => format!("{first}{}", "*".repeat(name.chars().count() - 1)),
        None => "（无）".into(),
    }
}

/// A phone number as the timeline keeps it: as staff read it, the middle digits hidden.
fn masked_phone(citizen: &Citizen) -> String {
    let Some(p) = &citizen.phone else {
        return "（无）".into();
    };
    let shown = p.for_staff();
    let digits = shown.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    shown
        .chars()
        .map(|c| {
            if !c.is_ascii_digit() {
                return c;
            }
            seen += 1;
            match seen > 3 && seen + 4 <= digits {
                true => '*',
                false => c,
            }
        })
        .collect()
}

fn given(raw: &Option<String>) -> Option<&str> {
    raw.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Validates the form against the case: every problem at once, as registration does.
pub fn correct(
    case: &Case,
    form: &CorrectionForm,
    rules: &IntakeRules,
    directory: &[super::directory::DirectoryEntry],
) -> Result<Correction, Vec<FieldError>> {
    // Retention emptied it: there is nobody's data left to correct.
    if case.description.is_empty() {
        return Err(vec![FieldError::new(
            "correction",
            "anonymized",
            "此案件已按保存期限匿名化，不能更正",
            "This case was anonymized by retention: there is nothing to correct",
        )]);
    }
    let mut errors = Vec::new();
    let mut citizen = case.citizen.clone();
    let mut matter = case.matter.clone();
    let mut description = case.description.clone();
    let mut failed_at = case.failed_at.clone();
    if [
        &form.failed_counter,
        &form.failed_department,
        &form.failed_clerk,
    ]
    .iter()
    .any(|f| given(f).is_some())
    {
        match super::directory::correct_failed_at(
            directory,
            &case.failed_at,
            given(&form.failed_counter),
            given(&form.failed_department),
            given(&form.failed_clerk),
        ) {
            Ok(f) => failed_at = f,
            Err(e) => errors.extend(e),
        }
    }
    let reason = match given(&form.reason) {
        Some(r) => plain_text(r, rules.description_max_chars)
            .map_err(|e| errors.push(text_error("reason", "更正理由", "reason", e)))
            .ok(),
        None => {
            errors.push(FieldError::new(
                "reason",
                "required",
                "请写明更正理由",
                "Say why it is corrected",
            ));
            None
        }
    };
    if let Some(raw) = given(&form.citizen_name) {
        match plain_text(raw, rules.name_max_chars) {
            Ok(name) => citizen.name = Some(name),
            Err(e) => errors.push(text_error("citizen_name", "姓名", "name", e)),
        }
    }
    if let Some(raw) = given(&form.phone) {
        match parse_phone("phone", raw, &rules.dialing) {
            // The same number written another way is no change.
            Ok(phone)
                if phone.as_ref().map(|p| p.e164())
                    == case.citizen.phone.as_ref().map(|p| p.e164()) => {}
            Ok(phone) => citizen.phone = phone,
            Err(e) => errors.push(e),
        }
    }
    if let Some(raw) = given(&form.id_card) {
        match IdCardNumber::parse(raw) {
            Ok(id) => {
                citizen.id_card_masked = Some(id.masked());
                citizen.id_card_digest = Some(id.digest(&rules.id_card_pepper, &rules.id_card_key));
            }
            Err(e) => errors.push(FieldError::new(
                "id_card",
                "invalid_id_card",
                match e {
                    InvalidIdCard::Shape => "身份证号码应为18位：17位数字加1位数字或X",
                    InvalidIdCard::BirthDate => "身份证号码中的出生日期不存在，请核对",
                    InvalidIdCard::Checksum => "身份证号码校验位不对，请核对是否输错",
                },
                e.to_string(),
            )),
        }
    }
    if let Some(code) = given(&form.matter) {
        match rules.matter(code) {
            Some(m) => matter = m.code.clone(),
            None => errors.push(FieldError::new(
                "matter",
                "unknown_matter",
                "事项类别无效",
                "Unknown matter category",
            )),
        }
    }
    if let Some(raw) = given(&form.description) {
        match plain_text(raw, rules.description_max_chars) {
            Ok(d) => description = d,
            Err(e) => errors.push(text_error("description", "问题描述", "description", e)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let phone = |c: &Citizen| c.phone.as_ref().map(|p| p.e164().to_owned());
    let mut before = Map::new();
    let mut after = Map::new();
    let mut lines = vec![format!("更正理由：{}", reason.unwrap_or_default())];
    let mut change =
        |field: &str, label: &str, old: Value, new: Value, old_shown: String, new_shown: String| {
            if old != new {
                before.insert(field.to_owned(), old);
                after.insert(field.to_owned(), new);
                lines.push(format!("{label}：{old_shown} → {new_shown}"));
            }
        };
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "（无）".into());
    change(
        "name",
        "姓名",
        json!(case.citizen.name),
        json!(citizen.name),
        masked_name(&case.citizen.name),
        masked_name(&citizen.name),
    );
    change(
        "phone",
        "电话",
        json!(phone(&case.citizen)),
        json!(phone(&citizen)),
        masked_phone(&case.citizen),
        masked_phone(&citizen),
    );
    change(
        "id_card",
        "身份证号",
        json!(case.citizen.id_card_digest),
        json!(citizen.id_card_digest),
        or_none(&case.citizen.id_card_masked),
        or_none(&citizen.id_card_masked),
    );
    change(
        "matter",
        "事项类别",
        json!(case.matter),
        json!(matter),
        case.matter.clone(),
        matter.clone(),
    );
    let or_blank = |v: &Option<String>| v.clone().unwrap_or_else(|| "（无）".into());
    change(
        "failed_counter",
        "没办成的窗口",
        json!(case.failed_at.counter),
        json!(failed_at.counter),
        or_blank(&case.failed_at.counter),
        or_blank(&failed_at.counter),
    );
    change(
        "failed_department",
        "没办成的科室",
        json!(case.failed_at.department),
        json!(failed_at.department),
        or_blank(&case.failed_at.department),
        or_blank(&failed_at.department),
    );
    change(
        "failed_clerk",
        "经办人",
        json!(case.failed_at.clerk),
        json!(failed_at.clerk),
        or_blank(&case.failed_at.clerk),
        or_blank(&failed_at.clerk),
    );
    change(
        "description",
        "问题描述",
        json!(case.description),
        json!(description),
        format!("{}字", case.description.chars().count()),
        format!("{}字（见案件）", description.chars().count()),
    );
    if after.is_empty() {
        return Err(vec![FieldError::new(
            "correction",
            "unchanged",
            "没有要更正的内容：所填的与登记的一样",
            "Nothing to correct: what was typed is what is registered",
        )]);
    }
    // The digest is a secret's work: the timeline's before/after shows the masks instead.
    // What the timeline keeps of a person is masked, as the note is: the timeline outlives
    // retention's anonymization of the case itself.
    if after.contains_key("id_card") {
        before.insert("id_card".into(), json!(case.citizen.id_card_masked));
        after.insert("id_card".into(), json!(citizen.id_card_masked));
    }
    if after.contains_key("name") {
        before.insert("name".into(), json!(masked_name(&case.citizen.name)));
        after.insert("name".into(), json!(masked_name(&citizen.name)));
    }
    if after.contains_key("phone") {
        before.insert("phone".into(), json!(masked_phone(&case.citizen)));
        after.insert("phone".into(), json!(masked_phone(&citizen)));
    }
    if after.contains_key("description") {
        before.insert(
            "description".into(),
            json!(format!("{}字", case.description.chars().count())),
        );
        after.insert(
            "description".into(),
            json!(format!("{}字", description.chars().count())),
        );
    }
    Ok(Correction {
        phone_changed: phone(&case.citizen) != phone(&citizen),
        citizen,
        matter,
        description,
        failed_at,
        before: Value::Object(before),
        after: Value::Object(after),
        note: lines.join("\n"),
    })
}
