//! The actions the case page offers: each with the fields it asks for, and why it is not
//! available when it is not (the domain's own rules, asked with a sample of each action).

use crate::domain::{Action, ActionKind, Case, Cause, Status, Tier};
use crate::web::html::Tr;
use crate::web::session::StaffUser;

/// A form field an action needs.
pub struct Field {
    pub name: &'static str,
    pub label: String,
    /// `text`, `textarea`, `cause`, `tier`, `user` (a choice of the enabled accounts) or
    /// `department` (a choice of the configured departments).
    pub kind: &'static str,
}

/// One action as the page offers it.
pub struct ActionSpec {
    pub code: &'static str,
    pub label: String,
    pub fields: Vec<Field>,
    /// Why it cannot be done now, when it cannot.
    pub unavailable: Option<String>,
}

/// A sample of each action, to ask the domain where it is allowed.
fn sample(code: &str) -> Option<Action> {
    let s = String::new;
    Some(match code {
        "accept" => Action::Accept,
        "classify" => Action::Classify {
            cause: Cause::CitizenSide,
        },
        "set_tier" => Action::SetTier { tier: Tier::Simple },
        "escalate" => Action::Escalate { reason: s() },
        "summon" => Action::Summon {
            who: s(),
            said: s(),
            department: None,
            contact: None,
        },
        "record_arrival" => Action::RecordArrival {
            who: s(),
            summoned_at: Some(chrono::Utc::now()),
        },
        "one_time_notice" => Action::OneTimeNotice { items: s() },
        "approve_missing_materials" => Action::ApproveMissingMaterials { missing: s() },
        "meeting" => Action::Meeting {
            attendees: s(),
            conclusion: s(),
        },
        "request_approval" => Action::RequestApproval { what: s() },
        "decline_approval" => Action::DeclineApproval { reason: s() },
        "refer" => Action::Refer {
            department_code: s(),
            department: s(),
            request: s(),
        },
        "record_hand_off" => Action::RecordHandOff { result: s() },
        "reassign" => Action::Reassign {
            to: s(),
            reason: s(),
        },
        "record_decision" => Action::RecordDecision { decision: s() },
        "record_accountability" => Action::RecordAccountability {
            clerk: s(),
            department_head: s(),
            leader_in_charge: s(),
            what_went_wrong: s(),
            decision: s(),
            outcome: crate::domain::action::AccountabilityOutcome::CriticismEducation,
            talk: None,
            grounds: None,
        },
        "publish_note" => Action::PublishNote { text: s() },
        "add_note" => Action::AddNote { text: s() },
        "resolve" => Action::Resolve { outcome: s() },
        "refuse" => Action::Refuse { reason: s() },
        "close" => Action::Close,
        "reopen" => Action::Reopen { reason: s() },
        _ => return None,
    })
}

pub(super) fn specs(
    case: &Case,
    user: &StaffUser,
    pending_approval: bool,
    t: Tr,
) -> Vec<ActionSpec> {
    let field = |name, zh: &str, en: &str, kind| Field {
        name,
        label: t.t(zh, en).to_owned(),
        kind,
    };
    let all: Vec<(&'static str, &str, &str, Vec<Field>)> = vec![
        (
            "accept",
            "受理（由我负责到底）",
            "Accept (I own it to the end)",
            vec![],
        ),
        (
            "classify",
            "认定原因",
            "Classify the cause",
            vec![field("cause", "原因类别", "Cause", "cause")],
        ),
        (
            "set_tier",
            "调整层级",
            "Set the tier",
            vec![field("tier", "层级", "Tier", "tier")],
        ),
        (
            "escalate",
            "升级到上一层级",
            "Escalate one tier",
            vec![field("reason", "升级理由", "Reason", "textarea")],
        ),
        (
            "summon",
            "召见科室负责人（立即通知本人）",
            "Summon a department head (told at once)",
            vec![
                field(
                    "department",
                    "召见哪个科室的负责人（按名录通知）",
                    "Which department's head (told through the directory)",
                    "department_optional",
                ),
                field(
                    "who",
                    "或：召见谁（名录外的人：科室、姓名、职务）",
                    "Or: who (someone not in the directory: department, name, post)",
                    "optional",
                ),
                field("text", "召见事由", "Why they are summoned", "textarea"),
            ],
        ),
        (
            "record_arrival",
            "登记召见到场（随叫随到）",
            "Record that the summoned person came",
            vec![field("who", "到场的人", "Who came", "text")],
        ),
        (
            "one_time_notice",
            "一次性告知",
            "One-time notice",
            vec![field(
                "text",
                "所需材料和步骤（每行一项）",
                "Every material and step, one per line",
                "textarea",
            )],
        ),
        (
            "approve_missing_materials",
            "批准容缺受理",
            "Approve acceptance with missing materials",
            vec![field(
                "text",
                "所缺的非要件材料",
                "The non-essential materials missing",
                "textarea",
            )],
        ),
        (
            "meeting",
            "记录研究室会议",
            "Record a research-room meeting",
            vec![
                field("who", "参会人员", "Who attended", "text"),
                field("outcome", "会议结论", "Conclusion", "textarea"),
            ],
        ),
        (
            "refer",
            "转办（打印转办单前填写）",
            "Refer to a department",
            vec![
                field("department", "转往科室", "Department", "department"),
                field("text", "转办事项和要求", "What is asked of it", "textarea"),
            ],
        ),
        (
            "record_hand_off",
            "登记转办结果",
            "Record how the hand-off ended",
            vec![field(
                "outcome",
                "科室办理结果",
                "The department's answer",
                "textarea",
            )],
        ),
        (
            "request_approval",
            "请求值班领导批准（容缺受理、否定备案）",
            "Ask the duty leader to approve (missing materials, a refusal)",
            vec![field(
                "text",
                "请求批准的事项和理由",
                "What is to be approved, and why",
                "textarea",
            )],
        ),
        (
            "decline_approval",
            "不予批准",
            "Decline the request",
            vec![field("reason", "不予批准的理由", "Why not", "textarea")],
        ),
        (
            "reassign",
            "改派给他人负责",
            "Give the case to someone else",
            vec![
                field("to", "改由谁负责", "New owner", "user"),
                field("reason", "改派理由", "Reason", "textarea"),
            ],
        ),
        (
            "record_decision",
            "登记上级决定（中心党委会、局党组会）",
            "Record the decision of the tier's body",
            vec![field("text", "决定内容", "The decision", "textarea")],
        ),
        (
            "record_accountability",
            "登记问责记录",
            "Record accountability",
            vec![
                field("clerk", "经办人", "The clerk", "text"),
                field(
                    "department_head",
                    "科室负责人",
                    "The department head",
                    "text",
                ),
                field(
                    "leader_in_charge",
                    "分管领导",
                    "The leader in charge",
                    "text",
                ),
                field("reason", "存在的问题", "What went wrong", "textarea"),
                field(
                    "accountability_outcome",
                    "问责结果",
                    "The outcome",
                    "accountability",
                ),
                field(
                    "talk_at",
                    "约谈时间（约谈谈话时填）",
                    "When the talk was (for a talk)",
                    "optional",
                ),
                field(
                    "talk_by",
                    "约谈人（约谈谈话时填）",
                    "Who spoke (for a talk)",
                    "optional",
                ),
                field(
                    "talked_to",
                    "被约谈人（约谈谈话时填）",
                    "Who was spoken to (for a talk)",
                    "optional",
                ),
                field(
                    "grounds",
                    "免责依据（容错免责时填）",
                    "The grounds (for an exemption)",
                    "optional",
                ),
                field("outcome", "处理决定", "The decision", "textarea"),
            ],
        ),
        (
            "publish_note",
            "公开答复（群众可在查询页看到）",
            "Publish a reply (shown on the tracking page)",
            vec![field("text", "答复内容", "Reply", "textarea")],
        ),
        (
            "add_note",
            "内部备注",
            "Internal note",
            vec![field("text", "备注", "Note", "textarea")],
        ),
        (
            "resolve",
            "办结",
            "Resolve",
            vec![field("outcome", "办理结果", "Outcome", "textarea")],
        ),
        (
            "refuse",
            "否定备案（依法不能办理）",
            "Record a refusal (not allowed by law)",
            vec![field(
                "reason",
                "不能办理的法律依据和理由",
                "The legal basis and reason",
                "textarea",
            )],
        ),
        ("close", "销号", "Close", vec![]),
        (
            "reopen",
            "重新办理",
            "Reopen",
            vec![field("reason", "理由", "Reason", "textarea")],
        ),
    ];
    let status_label = |s: Status| if t.en { s.label_en() } else { s.label_zh() };
    all.into_iter()
        .filter_map(|(code, zh, en, fields)| {
            let action = sample(code)?;
            let kind = action.kind();
            let unavailable = if !user.may(kind) {
                let leaders = matches!(
                    kind,
                    ActionKind::SetTier
                        | ActionKind::Reopen
                        | ActionKind::ApproveMissingMaterials
                        | ActionKind::DeclineApproval
                        | ActionKind::Reassign
                        | ActionKind::RecordDecision
                        | ActionKind::RecordAccountability
                );
                Some(match leaders {
                    true => t
                        .t("需由值班领导决定", "For the duty leader to decide")
                        .to_owned(),
                    false => t
                        .t("您的岗位无权执行", "Your role may not do this")
                        .to_owned(),
                })
            } else if !action.allowed_from().contains(&case.status) {
                Some(format!(
                    "{}{}",
                    t.t("案件当前状态：", "Not while the case is "),
                    status_label(case.status)
                ))
            } else if kind == ActionKind::Resolve && case.cause == Cause::Unclassified {
                Some(
                    t.t("请先认定原因类别", "Classify the cause first")
                        .to_owned(),
                )
            } else if kind == ActionKind::Close
                && case.cause == Cause::StaffSide
                && !case.accountability_recorded
            {
                Some(
                    t.t(
                        "窗口人员原因：须先登记问责记录",
                        "Staff-side cause: record accountability first",
                    )
                    .to_owned(),
                )
            } else if kind == ActionKind::DeclineApproval && !pending_approval {
                Some(t.t("没有待批准的请求", "No request is waiting").to_owned())
            } else if kind == ActionKind::Escalate && case.tier.next_up().is_none() {
                Some(
                    t.t("已是最高层级", "Already at the highest tier")
                        .to_owned(),
                )
            } else {
                None
            };
            Some(ActionSpec {
                code,
                label: t.t(zh, en).to_owned(),
                fields,
                unavailable,
            })
        })
        .collect()
}
