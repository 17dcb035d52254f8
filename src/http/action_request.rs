//! A case action as the API (and the case page, through it) asks for it: the request's
//! fields read into the domain's [`Action`], every missing or unknown field named.

use crate::domain::citizen::plain_text;
use crate::domain::Action;
use crate::web::error::{ApiError, Text};
use crate::web::views::ActionRequest;

fn required_text(
    field: &'static str,
    value: Option<String>,
    label_zh: &str,
) -> Result<String, ApiError> {
    plain_text(value.as_deref().unwrap_or(""), 2000).map_err(|e| {
        ApiError::invalid(
            field,
            "invalid_input",
            Text::new(
                format!("请填写{label_zh}（最多2000字）"),
                format!("`{field}` is required: {e}"),
            ),
        )
    })
}

pub(crate) fn parse_action(
    body: ActionRequest,
    departments: &[crate::domain::directory::DirectoryEntry],
) -> Result<Action, ApiError> {
    let code = |field: &str, raw: Option<String>| {
        raw.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
            ApiError::invalid(
                field,
                "required",
                Text::new(
                    format!("缺少 {field}"),
                    format!("`{field}` is required for this action"),
                ),
            )
        })
    };
    let vocab_error = |field: &str, e: crate::domain::vocab::UnknownCode| {
        ApiError::invalid(
            field,
            "invalid_input",
            Text::new(
                format!("{field} 的值 `{}` 无效，可选：{}", e.code, e.accepted),
                e.to_string(),
            ),
        )
    };
    Ok(match body.action.trim() {
        "accept" => Action::Accept,
        "classify" => Action::Classify {
            cause: code("cause", body.cause)?.trim().parse().map_err(|e| vocab_error("cause", e))?,
        },
        "set_tier" => Action::SetTier {
            tier: code("tier", body.tier)?.trim().parse().map_err(|e| vocab_error("tier", e))?,
        },
        "escalate" => Action::Escalate { reason: required_text("reason", body.reason, "升级理由")? },
        "add_note" | "note" => Action::AddNote { text: required_text("text", body.text, "备注内容")? },
        "publish_note" => Action::PublishNote { text: required_text("text", body.text, "答复内容")? },
        "summon" => {
            // A head from the directory (told at once), or anyone named.
            let department = body.department.filter(|d| !d.trim().is_empty());
            let (who, department, contact) = match department {
                Some(code) => {
                    let d = departments.iter().find(|d| d.code == code.trim()).ok_or_else(|| {
                        ApiError::invalid(
                            "department",
                            "unknown_department",
                            Text::new(format!("科室 `{}` 不在名录中", code.trim()), format!("No department `{}`", code.trim())),
                        )
                    })?;
                    let who = format!("{} {}", d.name, d.head.as_deref().unwrap_or("负责人"));
                    (who, Some(d.code.clone()), d.contact.clone())
                }
                None => (required_text("who", body.who, "被召见的人")?, None, None),
            };
            Action::Summon { who, said: required_text("text", body.text, "召见事由")?, department, contact }
        }
        "record_arrival" => Action::RecordArrival { who: required_text("who", body.who, "到场的人")?, summoned_at: None },
        "one_time_notice" => Action::OneTimeNotice { items: required_text("text", body.text, "告知的材料和步骤")? },
        "approve_missing_materials" => Action::ApproveMissingMaterials { missing: required_text("text", body.text, "所缺材料")? },
        "request_approval" => Action::RequestApproval { what: required_text("text", body.text, "请求批准的事项和理由")? },
        "record_decision" => Action::RecordDecision { decision: required_text("text", body.text, "决定内容")? },
        "refer" => {
            let code = code("department", body.department)?;
            let department = departments.iter().find(|d| d.code == code.trim()).ok_or_else(|| {
                let codes: Vec<&str> = departments.iter().map(|d| d.code.as_str()).collect();
                ApiError::invalid(
                    "department",
                    "unknown_department",
                    Text::new(
                        format!("科室 `{}` 未配置，可选：{}", code.trim(), codes.join(", ")),
                        format!("No department `{}`; use one of: {}", code.trim(), codes.join(", ")),
                    ),
                )
            })?;
            Action::Refer {
                department_code: department.code.clone(),
                department: department.name.clone(),
                request: required_text("text", body.text, "转办事项和要求")?,
            }
        }
        "record_hand_off" => Action::RecordHandOff { result: required_text("outcome", body.outcome, "转办结果")? },
        "decline_approval" => Action::DeclineApproval { reason: required_text("reason", body.reason, "不予批准的理由")? },
        "reassign" => Action::Reassign {
            to: code("to", body.to)?,
            reason: required_text("reason", body.reason, "改派理由")?,
        },
        "record_accountability" => {
            use crate::domain::action::{AccountabilityOutcome, Talk};
            let raw = code("accountability_outcome", body.accountability_outcome)?;
            let outcome = AccountabilityOutcome::parse(&raw).ok_or_else(|| {
                let codes: Vec<&str> = AccountabilityOutcome::ALL.iter().map(|o| o.code()).collect();
                ApiError::invalid(
                    "accountability_outcome",
                    "unknown_outcome",
                    Text::new(
                        format!("问责结果 `{}` 无效，可选：{}", raw.trim(), codes.join(", ")),
                        format!("Unknown outcome `{}`; use one of: {}", raw.trim(), codes.join(", ")),
                    ),
                )
            })?;
            let talk = match outcome {
                AccountabilityOutcome::AdmonishmentTalk => Some(Talk {
                    at: required_text("talk_at", body.talk_at, "约谈时间")?,
                    by: required_text("talk_by", body.talk_by, "约谈人")?,
                    with: required_text("talked_to", body.talked_to, "被约谈人")?,
                }),
                _ => None,
            };
            let grounds = match outcome {
                AccountabilityOutcome::Exemption => Some(required_text("grounds", body.grounds, "免责依据")?),
                _ => None,
            };
            Action::RecordAccountability {
                clerk: required_text("clerk", body.clerk, "经办人")?,
                department_head: required_text("department_head", body.department_head, "科室负责人")?,
                leader_in_charge: required_text("leader_in_charge", body.leader_in_charge, "分管领导")?,
                what_went_wrong: required_text("reason", body.reason, "存在的问题")?,
                decision: required_text("outcome", body.outcome, "处理决定")?,
                outcome,
                talk,
                grounds,
            }
        }
        "meeting" => Action::Meeting {
            attendees: required_text("who", body.who, "参会人员")?,
            conclusion: required_text("outcome", body.outcome, "会议结论")?,
        },
        "resolve" => Action::Resolve { outcome: required_text("outcome", body.outcome, "办理结果")? },
        "refuse" => Action::Refuse { reason: required_text("reason", body.reason, "不予办理的理由和依据")? },
        "close" => Action::Close,
        "reopen" => Action::Reopen { reason: required_text("reason", body.reason, "重新办理的理由")? },
        other => {
            return Err(ApiError::invalid(
                "action",
                "unknown_action",
                Text::new(
                    format!("操作 `{other}` 无效，可选：accept, classify, set_tier, escalate, add_note, publish_note, summon, one_time_notice, approve_missing_materials, meeting, request_approval, decline_approval, reassign, refer, record_hand_off, record_decision, record_accountability, resolve, refuse, close, reopen"),
                    format!("Unknown action `{other}`; use accept, classify, set_tier, escalate, add_note, publish_note, summon, one_time_notice, approve_missing_materials, meeting, request_approval, decline_approval, reassign, refer, record_hand_off, record_decision, record_accountability, resolve, refuse, close or reopen"),
                ),
            ))
        }
    })
}
