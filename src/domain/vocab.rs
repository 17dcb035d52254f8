//! The window's fixed vocabularies: channels, causes, tiers, statuses, roles.
//!
//! Each is stored and sent as its snake_case code and has a Chinese and English label.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Declares a closed vocabulary with its wire code and its labels.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $code:literal, $zh:literal, $en:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code,)+ }
            }

            pub fn label_zh(self) -> &'static str {
                match self { $($name::$variant => $zh,)+ }
            }

            pub fn label_en(self) -> &'static str {
                match self { $($name::$variant => $en,)+ }
            }

            /// The codes, for messages that list what is accepted.
            pub fn codes() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl FromStr for $name {
            type Err = UnknownCode;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($code => Ok($name::$variant),)+
                    _ => Err(UnknownCode { kind: stringify!($name), code: s.to_owned(), accepted: Self::codes() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{code}` is not a known {kind}; use one of: {accepted}")]
pub struct UnknownCode {
    pub kind: &'static str,
    pub code: String,
    pub accepted: String,
}

vocabulary! {
    /// Where a report came in.
    Channel {
        Counter => "counter", "线下窗口", "Counter";
        ComplaintHotline => "complaint_hotline", "投诉热线", "Complaint hotline";
        BusinessHotline => "business_hotline", "业务热线", "Business hotline";
        Website => "website", "官网留言", "Website message";
    }
}

vocabulary! {
    /// Why the matter could not be done at the ordinary counter (三种处理方式).
    Cause {
        Unclassified => "unclassified", "未分类", "Unclassified";
        /// Unclear request or incomplete materials (诉求不清、材料不全).
        CitizenSide => "citizen_side", "群众自身原因", "Citizen-side cause";
        /// The ordinary clerk would not or could not help.
        StaffSide => "staff_side", "窗口人员原因", "Staff-side cause";
        /// A historical leftover or a policy bottleneck (历史遗留、政策瓶颈).
        Objective => "objective", "客观原因", "Objective cause";
    }
}

vocabulary! {
    /// The 1-3-5 tiers: who solves the matter and in how many working days.
    Tier {
        Simple => "simple", "简单事项（1个工作日）", "Simple (1 working day)";
        Complex => "complex", "较复杂事项（3个工作日）", "Complex (3 working days)";
        Difficult => "difficult", "疑难事项（5个工作日）", "Difficult (5 working days)";
    }
}

impl Tier {
    pub fn working_days(self) -> u32 {
        match self {
            Tier::Simple => 1,
            Tier::Complex => 3,
            Tier::Difficult => 5,
        }
    }

    /// The tier an escalation moves to, if there is one above.
    pub fn next_up(self) -> Option<Tier> {
        match self {
            Tier::Simple => Some(Tier::Complex),
            Tier::Complex => Some(Tier::Difficult),
            Tier::Difficult => None,
        }
    }
}

vocabulary! {
    /// Where a case stands.
    Status {
        New => "new", "待受理", "New";
        InProgress => "in_progress", "办理中", "In progress";
        Resolved => "resolved", "已办结", "Resolved";
        Closed => "closed", "已销号", "Closed";
        Refused => "refused", "否定备案", "Refused";
    }
}

impl Status {
    /// Whether the case still needs work (and so can be overdue).
    pub fn is_open(self) -> bool {
        matches!(self, Status::New | Status::InProgress)
    }
}

vocabulary! {
    /// What a next-morning callback entry is about.
    CallbackKind {
        /// A voicemail or message with content: call back about it.
        Message => "message", "留言回访", "Message";
        /// A call with no message (silence or hang-up): lower priority, still called back.
        MissedCall => "missed_call", "未接来电", "Missed call, no message";
    }
}

impl CallbackKind {
    /// The call back owed for two arrivals of one caller joined into one case: about a
    /// message if either left one.
    pub fn joined(a: Option<CallbackKind>, b: Option<CallbackKind>) -> CallbackKind {
        match (a, b) {
            (Some(CallbackKind::Message), _) | (_, Some(CallbackKind::Message)) => {
                CallbackKind::Message
            }
            (Some(kind), _) | (None, Some(kind)) => kind,
            (None, None) => CallbackKind::Message,
        }
    }
}

vocabulary! {
    /// What a staff member does at the window; a user or token holds one or more.
    Role {
        Counter => "counter", "窗口工作人员", "Counter staff";
        Hotline => "hotline", "热线接线员", "Hotline operator";
        Callback => "callback", "早班回访人员", "Morning callback shift";
        DutyLeader => "duty_leader", "值班领导", "Duty leader";
        Admin => "admin", "系统管理员", "Administrator";
        /// A telephone exchange posting recordings: may push voicemail, nothing else.
        Pbx => "pbx", "电话交换机（系统）", "PBX (a machine)";
    }
}

vocabulary! {
    /// How a callback attempt went.
    Outcome {
        /// Reached, and the matter was settled on the phone.
        ReachedResolved => "reached_resolved", "已联系，电话中已解决", "Reached, resolved on the phone";
        /// Reached; the case goes on.
        ReachedContinues => "reached_continues", "已联系，继续办理", "Reached, the case continues";
        NoAnswer => "no_answer", "无人接听", "No answer";
        Busy => "busy", "占线", "Busy";
        WrongNumber => "wrong_number", "号码错误", "Wrong number";
    }
}

vocabulary! {
    /// Where an entry of the list stands.
    EntryStatus {
        /// Not yet reached: to call (again).
        Open => "open", "待回访", "To call";
        /// Reached and settled.
        Resolved => "resolved", "已解决", "Resolved";
        /// Reached; the case continues in the queue.
        Reached => "reached", "已联系", "Reached";
        /// Given up after the last attempt, or a wrong number: for the duty leader.
        Unreachable => "unreachable", "无法联系", "Unreachable";
    }
}

vocabulary! {
    /// What an entry of a case's timeline records: the case actions of `domain::action`, and
    /// what channels, the callback list, ratings, prints and retention write.
    EventKind {
        Register => "register", "登记", "Registered";
        /// Answered at once (on the phone or at the counter) and closed: a consultation.
        AnswerAndClose => "answer_and_close", "当即答复并办结", "Answered at once";
        Accept => "accept", "受理（首问负责）", "Accepted (owner)";
        Classify => "classify", "认定原因", "Cause classified";
        SetTier => "set_tier", "调整层级", "Tier set";
        Escalate => "escalate", "升级", "Escalated";
        AddNote => "add_note", "内部备注", "Internal note";
        PublishNote => "publish_note", "公开答复", "Public reply";
        Summon => "summon", "召见", "Summons";
        /// The summoned person came to the window (随叫随到: how fast is counted).
        SummonArrived => "summon_arrived", "召见到场", "Arrived when summoned";
        /// Linked to a common problem (共性问题), studied for a reform.
        LinkProblem => "link_problem", "关联共性问题", "Linked to a common problem";
        OneTimeNotice => "one_time_notice", "一次性告知", "One-time notice";
        ApproveMissingMaterials => "approve_missing_materials", "容缺受理", "Accepted with missing materials";
        Meeting => "meeting", "研究室会议", "Research-room meeting";
        RequestApproval => "request_approval", "请求批准", "Approval requested";
        DeclineApproval => "decline_approval", "不予批准", "Approval declined";
        /// Referred to a department (转办).
        Refer => "refer", "转办", "Referred";
        /// How the referral's hand-off ended.
        RecordHandOff => "record_hand_off", "转办结果", "Hand-off result";
        /// What was registered, corrected (before and after, with the reason).
        Correct => "correct", "更正登记信息", "Registration corrected";
        Reassign => "reassign", "改派", "Reassigned";
        RecordDecision => "record_decision", "上级决定", "Decision recorded";
        RecordAccountability => "record_accountability", "问责记录", "Accountability recorded";
        Resolve => "resolve", "办结", "Resolved";
        Refuse => "refuse", "否定备案", "Refusal recorded";
        Close => "close", "销号", "Closed";
        Reopen => "reopen", "重新办理", "Reopened";
        Rate => "rate", "评价", "Rated";
        RatingFollowUp => "rating_follow_up", "差评整改", "Bad rating followed up";
        /// Another voicemail from the same caller joined the case.
        AttachRecording => "attach_recording", "追加录音", "Recording added";
        PlayRecording => "play_recording", "播放录音", "Recording played";
        CallbackAttempt => "callback_attempt", "回访", "Callback";
        /// The caller was answered on the call back, and the case closed: a consultation.
        AnsweredByCallback => "answered_by_callback", "回访中答复并办结", "Answered on the call back";
        /// The call back found what the caller wants: the case goes on with the caller-back.
        CallbackContinues => "callback_continues", "回访后继续办理", "Continued after the call back";
        /// A missed call whose caller could not be reached: closed, and counted.
        ClosedUnreachable => "closed_unreachable", "无法联系，销号", "Closed: caller unreachable";
        PrintReferral => "print_referral", "打印转办单", "Referral form printed";
        PrintReceipt => "print_receipt", "打印回执", "Receipt printed";
        PrintRefusal => "print_refusal", "打印否定备案告知书", "Refusal notice printed";
        PurgeRecording => "purge_recording", "删除录音（保存期满）", "Recording deleted (retention)";
        Anonymize => "anonymize", "匿名化（保存期满）", "Anonymized (retention)";
    }
}

impl EventKind {
    /// The events that finish a case's handling, for on-time counting: resolved, refused, or
    /// answered at once.
    pub const FINISHING: [EventKind; 4] = [
        EventKind::Resolve,
        EventKind::Refuse,
        EventKind::AnswerAndClose,
        EventKind::AnsweredByCallback,
    ];

    /// The answers to an approval request: it is approved, declined, or the matter refused.
    pub const ANSWERS_APPROVAL: [EventKind; 3] = [
        EventKind::ApproveMissingMaterials,
        EventKind::Refuse,
        EventKind::DeclineApproval,
    ];

    /// Accesses and housekeeping: on the timeline for the audit trail, not steps of the
    /// handling (the referral form leaves them out).
    pub fn is_access(self) -> bool {
        matches!(
            self,
            EventKind::PlayRecording
                | EventKind::PrintReferral
                | EventKind::PrintReceipt
                | EventKind::PrintRefusal
        )
    }

    /// Whose eyes only: an accountability record is for the window's leaders.
    pub fn for_leaders_only(self) -> bool {
        self == EventKind::RecordAccountability
    }
}

/// `'a', 'b'`: codes of a closed vocabulary as SQL literals, for `in (...)` lists.
pub fn sql_list<T: Copy>(codes: &[T], code: impl Fn(T) -> &'static str) -> String {
    codes
        .iter()
        .map(|c| format!("'{}'", code(*c)))
        .collect::<Vec<_>>()
        .join(", ")
}

vocabulary! {
    /// What an outbox row notifies of: each topic has its renderer (`notify::render`).
    Topic {
        /// A website visitor's receipt by e-mail.
        WebsiteConfirmation => "website_confirmation", "留言确认", "Message confirmation";
        /// The morning shift's callback list, at each opening.
        CallbackList => "callback_list", "回访清单", "Callback list";
        /// An escalation or an approval request for the day's duty leader.
        AwaitingDecision => "awaiting_decision", "待领导决定", "Awaiting a decision";
        /// A deadline coming or passed.
        DeadlineAlert => "deadline_alert", "办结时限提醒", "Deadline alert";
        /// A caller not called back by the end of "first thing".
        CallbackLate => "callback_late", "回访超时", "Callback late";
        /// A department head summoned to the window, told at once.
        Summons => "summons", "召见通知", "Summons";
        /// The conduct bulletin of the past week or month.
        Bulletin => "bulletin", "行风建设通报", "Conduct bulletin";
    }
}

vocabulary! {
    /// The national government-service rating (好差评), five levels.
    Rating {
        VerySatisfied => "very_satisfied", "非常满意", "Very satisfied";
        Satisfied => "satisfied", "满意", "Satisfied";
        BasicallySatisfied => "basically_satisfied", "基本满意", "Basically satisfied";
        Dissatisfied => "dissatisfied", "不满意", "Dissatisfied";
        VeryDissatisfied => "very_dissatisfied", "非常不满意", "Very dissatisfied";
    }
}

impl Tier {
    /// Who owns a case at this tier (1-3-5): the window with the duty leader, the service
    /// centre's party committee, the bureau's party group meeting.
    pub fn owner_group_zh(self) -> &'static str {
        match self {
            Tier::Simple => "值班领导和窗口工作人员",
            Tier::Complex => "服务中心党委",
            Tier::Difficult => "局党组会议",
        }
    }

    pub fn owner_group_en(self) -> &'static str {
        match self {
            Tier::Simple => "the duty leader and the window staff",
            Tier::Complex => "the service centre's party committee",
            Tier::Difficult => "the bureau's party group meeting",
        }
    }
}

impl Rating {
    /// A bad rating is followed up by the duty leader.
    pub fn is_bad(self) -> bool {
        matches!(self, Rating::Dissatisfied | Rating::VeryDissatisfied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_list_the_accepted_ones() {
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>().unwrap(), *c);
        }
        let err = "fax".parse::<Channel>().unwrap_err();
        assert!(err.to_string().contains("counter, complaint_hotline"));
    }

    #[test]
    fn tiers_are_one_three_five_and_escalate_upwards() {
        assert_eq!(
            Tier::ALL
                .iter()
                .map(|t| t.working_days())
                .collect::<Vec<_>>(),
            [1, 3, 5]
        );
        assert_eq!(Tier::Simple.next_up(), Some(Tier::Complex));
        assert_eq!(Tier::Difficult.next_up(), None);
    }
}
