//! What each role may do (the authorization matrix over [`ActionKind`]), and the outcomes
//! accountability may have in the window's own terms.

use super::vocab::Role;

/// The outcomes of accountability the window's rules name (问责结果), and the exemption of
/// an official who took a justified risk to solve a citizen's problem (容错免责).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountabilityOutcome {
    /// 批评教育
    CriticismEducation,
    /// 约谈谈话
    AdmonishmentTalk,
    /// 通报批评
    CirculatedCriticism,
    /// 诫勉
    Warning,
    /// 调离岗位
    Reassignment,
    /// 容错免责
    Exemption,
}

impl AccountabilityOutcome {
    pub const ALL: [AccountabilityOutcome; 6] = [
        AccountabilityOutcome::CriticismEducation,
        AccountabilityOutcome::AdmonishmentTalk,
        AccountabilityOutcome::CirculatedCriticism,
        AccountabilityOutcome::Warning,
        AccountabilityOutcome::Reassignment,
        AccountabilityOutcome::Exemption,
    ];

    pub fn code(self) -> &'static str {
        match self {
            AccountabilityOutcome::CriticismEducation => "criticism_education",
            AccountabilityOutcome::AdmonishmentTalk => "admonishment_talk",
            AccountabilityOutcome::CirculatedCriticism => "circulated_criticism",
            AccountabilityOutcome::Warning => "warning",
            AccountabilityOutcome::Reassignment => "reassignment",
            AccountabilityOutcome::Exemption => "exemption",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            AccountabilityOutcome::CriticismEducation => "批评教育",
            AccountabilityOutcome::AdmonishmentTalk => "约谈谈话",
            AccountabilityOutcome::CirculatedCriticism => "通报批评",
            AccountabilityOutcome::Warning => "诫勉",
            AccountabilityOutcome::Reassignment => "调离岗位",
            AccountabilityOutcome::Exemption => "容错免责",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            AccountabilityOutcome::CriticismEducation => "Criticism and education",
            AccountabilityOutcome::AdmonishmentTalk => "Admonishment talk",
            AccountabilityOutcome::CirculatedCriticism => "Circulated criticism",
            AccountabilityOutcome::Warning => "Warning",
            AccountabilityOutcome::Reassignment => "Removal from the post",
            AccountabilityOutcome::Exemption => "Exemption (justified risk)",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.code() == raw.trim())
    }
}

/// An admonishment talk: when, by whom, who was spoken to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Talk {
    pub at: String,
    pub by: String,
    pub with: String,
}

/// The kinds of thing a role may do; the authorization matrix is over these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionKind {
    Register,
    /// Log a hotline call (answered on the phone, or opened for follow-up).
    LogCall,
    /// Post a voicemail recording (a PBX).
    PushVoicemail,
    /// Push call events: ringing, answered, hung up (a PBX).
    PushCallEvents,
    Read,
    Accept,
    Classify,
    SetTier,
    Escalate,
    AddNote,
    PublishNote,
    Summon,
    OneTimeNotice,
    ApproveMissingMaterials,
    Meeting,
    RequestApproval,
    /// Correct what was registered (name, phone, ID card, matter, description), with a reason.
    Correct,
    Refer,
    RecordHandOff,
    DeclineApproval,
    Reassign,
    RecordDecision,
    RecordAccountability,
    Resolve,
    Refuse,
    Close,
    Reopen,
    /// See what only the window's leaders see: the notification outbox and its dead letters.
    Oversee,
    /// Work the next-morning callback list: read it, claim entries, record attempts, export.
    WorkCallbacks,
    /// Run the system: API tokens (and, in time, staff accounts). Administrators only.
    Administer,
}

impl ActionKind {
    pub const ALL: [ActionKind; 30] = [
        ActionKind::Register,
        ActionKind::LogCall,
        ActionKind::PushVoicemail,
        ActionKind::PushCallEvents,
        ActionKind::Read,
        ActionKind::Accept,
        ActionKind::Classify,
        ActionKind::SetTier,
        ActionKind::Escalate,
        ActionKind::AddNote,
        ActionKind::PublishNote,
        ActionKind::Summon,
        ActionKind::OneTimeNotice,
        ActionKind::ApproveMissingMaterials,
        ActionKind::Meeting,
        ActionKind::RequestApproval,
        ActionKind::Correct,
        ActionKind::Refer,
        ActionKind::RecordHandOff,
        ActionKind::DeclineApproval,
        ActionKind::Reassign,
        ActionKind::RecordDecision,
        ActionKind::RecordAccountability,
        ActionKind::Resolve,
        ActionKind::Refuse,
        ActionKind::Close,
        ActionKind::Reopen,
        ActionKind::Oversee,
        ActionKind::WorkCallbacks,
        ActionKind::Administer,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ActionKind::Register => "register",
            ActionKind::LogCall => "log_call",
            ActionKind::PushVoicemail => "push_voicemail",
            ActionKind::PushCallEvents => "push_call_events",
            ActionKind::Read => "read",
            ActionKind::Accept => "accept",
            ActionKind::Classify => "classify",
            ActionKind::SetTier => "set_tier",
            ActionKind::Escalate => "escalate",
            ActionKind::AddNote => "add_note",
            ActionKind::PublishNote => "publish_note",
            ActionKind::Summon => "summon",
            ActionKind::OneTimeNotice => "one_time_notice",
            ActionKind::ApproveMissingMaterials => "approve_missing_materials",
            ActionKind::Meeting => "meeting",
            ActionKind::RequestApproval => "request_approval",
            ActionKind::Correct => "correct",
            ActionKind::Refer => "refer",
            ActionKind::RecordHandOff => "record_hand_off",
            ActionKind::DeclineApproval => "decline_approval",
            ActionKind::Reassign => "reassign",
            ActionKind::RecordDecision => "record_decision",
            ActionKind::RecordAccountability => "record_accountability",
            ActionKind::Resolve => "resolve",
            ActionKind::Refuse => "refuse",
            ActionKind::Close => "close",
            ActionKind::Reopen => "reopen",
            ActionKind::Oversee => "oversee",
            ActionKind::WorkCallbacks => "work_callbacks",
            ActionKind::Administer => "administer",
        }
    }
}

/// The authorization matrix. Machines (`pbx`) only push voicemail and call events, and call
/// events only machines. Every staff role works cases; logging hotline calls is the
/// operators'; changing a tier by hand, reopening a finished case and approving acceptance
/// with missing materials are the duty leader's (and administrators') decisions.
pub fn permitted(role: Role, kind: ActionKind) -> bool {
    match (role, kind) {
        (Role::Pbx, kind) => {
            kind == ActionKind::PushVoicemail || kind == ActionKind::PushCallEvents
        }
        // Call events carry their token in the path, which ends up in access logs: only a
        // PBX's token, which can do nothing else, is accepted there.
        (_, ActionKind::PushCallEvents) => false,
        (_, ActionKind::PushVoicemail | ActionKind::Administer) => role == Role::Admin,
        (Role::Admin | Role::DutyLeader, _) => true,
        (
            _,
            ActionKind::SetTier
            | ActionKind::Reopen
            | ActionKind::Oversee
            | ActionKind::ApproveMissingMaterials
            | ActionKind::DeclineApproval
            | ActionKind::Reassign
            | ActionKind::RecordDecision
            | ActionKind::RecordAccountability,
        ) => false,
        (Role::Counter, ActionKind::WorkCallbacks) => false,
        (Role::Hotline, _) => true,
        (Role::Counter | Role::Callback, ActionKind::LogCall) => false,
        (Role::Counter | Role::Callback, _) => true,
    }
}
