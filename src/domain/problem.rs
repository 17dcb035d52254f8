//! Common problems (共性问题 → 制度创新): cases that share one policy or system bottleneck are
//! linked to a problem, which is studied in the research room and turned into a reform, or
//! closed without one. Pure: the statuses, what each needs, and whether cases stopped.

use chrono::NaiveDate;

use super::registration::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemStatus {
    Collecting,
    UnderStudy,
    ReformProposed,
    ReformAdopted,
    ClosedWithoutReform,
}

impl ProblemStatus {
    pub const ALL: [ProblemStatus; 5] = [
        ProblemStatus::Collecting,
        ProblemStatus::UnderStudy,
        ProblemStatus::ReformProposed,
        ProblemStatus::ReformAdopted,
        ProblemStatus::ClosedWithoutReform,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ProblemStatus::Collecting => "collecting",
            ProblemStatus::UnderStudy => "under_study",
            ProblemStatus::ReformProposed => "reform_proposed",
            ProblemStatus::ReformAdopted => "reform_adopted",
            ProblemStatus::ClosedWithoutReform => "closed_without_reform",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ProblemStatus::Collecting => "收集案例中",
            ProblemStatus::UnderStudy => "研究室研究中",
            ProblemStatus::ReformProposed => "已提出改革建议",
            ProblemStatus::ReformAdopted => "已形成制度创新成果",
            ProblemStatus::ClosedWithoutReform => "未改革即结束",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            ProblemStatus::Collecting => "Collecting cases",
            ProblemStatus::UnderStudy => "Under study (research room)",
            ProblemStatus::ReformProposed => "Reform proposed",
            ProblemStatus::ReformAdopted => "Reform adopted",
            ProblemStatus::ClosedWithoutReform => "Closed without reform",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == raw.trim())
    }

    /// Still taking cases.
    pub fn open(self) -> bool {
        !matches!(
            self,
            ProblemStatus::ReformAdopted | ProblemStatus::ClosedWithoutReform
        )
    }
}

/// A problem as typed.
#[derive(Debug, Clone, Default)]
pub struct ProblemForm {
    pub title: String,
    pub fault: String,
    pub status: String,
    pub reform_document: String,
    pub reform_date: String,
    pub reform_summary: String,
}

/// A problem that passed its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemDraft {
    pub title: String,
    pub fault: String,
    pub status: ProblemStatus,
    pub reform_document: Option<String>,
    pub reform_date: Option<NaiveDate>,
    pub reform_summary: Option<String>,
}

fn text(raw: &str, max: usize) -> Option<String> {
    let t = raw.trim();
    (!t.is_empty() && t.chars().count() <= max && !t.chars().any(|c| c.is_control() && c != '\n'))
        .then(|| t.to_owned())
}

/// Checks a problem: a title and the fault always; an adopted reform its document number,
/// date and summary.
pub fn check(form: &ProblemForm) -> Result<ProblemDraft, Vec<FieldError>> {
    let mut errors = Vec::new();
    let title = text(&form.title, 100);
    if title.is_none() {
        errors.push(FieldError::new(
            "title",
            "required",
            "请填写问题名称（不超过100字）",
            "Give the problem a title (at most 100 characters)",
        ));
    }
    let fault = text(&form.fault, 2000);
    if fault.is_none() {
        errors.push(FieldError::new(
            "fault",
            "required",
            "请写明卡在哪项政策或哪个系统",
            "Say which policy or system is at fault",
        ));
    }
    let status = match form.status.trim() {
        "" => Some(ProblemStatus::Collecting),
        raw => ProblemStatus::parse(raw),
    };
    if status.is_none() {
        errors.push(FieldError::new(
            "status",
            "unknown_status",
            "状态无效",
            "Unknown status",
        ));
    }
    let reform_document = text(&form.reform_document, 100);
    let reform_summary = text(&form.reform_summary, 2000);
    let reform_date = match form.reform_date.trim() {
        "" => None,
        raw => match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                errors.push(FieldError::new(
                    "reform_date",
                    "invalid_date",
                    "日期格式应为 2026-12-01",
                    "A date like 2026-12-01",
                ));
                None
            }
        },
    };
    if status == Some(ProblemStatus::ReformAdopted) {
        if reform_document.is_none() {
            errors.push(FieldError::new(
                "reform_document",
                "required",
                "已形成成果的，请填写文件编号",
                "An adopted reform has a document number",
            ));
        }
        if reform_date.is_none() && form.reform_date.trim().is_empty() {
            errors.push(FieldError::new(
                "reform_date",
                "required",
                "请填写出台日期",
                "Give the date it was adopted",
            ));
        }
        if reform_summary.is_none() {
            errors.push(FieldError::new(
                "reform_summary",
                "required",
                "请简述改革内容",
                "Summarize the reform",
            ));
        }
    }
    match errors.is_empty() {
        true => Ok(ProblemDraft {
            title: title.expect("checked"),
            fault: fault.expect("checked"),
            status: status.expect("checked"),
            reform_document,
            reform_date,
            reform_summary,
        }),
        false => Err(errors),
    }
}

/// Cases linked before and after a reform's date: whether they stopped.
pub fn before_and_after(
    received: &[NaiveDate],
    reform: Option<NaiveDate>,
) -> Option<(usize, usize)> {
    let reform = reform?;
    let after = received.iter().filter(|d| **d >= reform).count();
    Some((received.len() - after, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_adopted_reform_needs_its_document_date_and_summary() {
        let mut form = ProblemForm {
            title: "灵活就业人员社保补贴跨区认定".into(),
            fault: "补贴办法要求户籍地认定，系统不支持异地".into(),
            status: "reform_adopted".into(),
            ..ProblemForm::default()
        };
        let fields: Vec<&str> = check(&form).unwrap_err().iter().map(|e| e.field).collect();
        assert_eq!(fields, ["reform_document", "reform_date", "reform_summary"]);
        form.reform_document = "丹人社发〔2026〕12号".into();
        form.reform_date = "2026-11-01".into();
        form.reform_summary = "改为居住地认定".into();
        assert_eq!(check(&form).unwrap().status, ProblemStatus::ReformAdopted);
    }

    #[test]
    fn cases_are_counted_around_the_reform() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let received = [d("2026-10-01"), d("2026-10-20"), d("2026-11-03")];
        assert_eq!(
            before_and_after(&received, Some(d("2026-11-01"))),
            Some((2, 1))
        );
        assert_eq!(before_and_after(&received, None), None);
    }
}
