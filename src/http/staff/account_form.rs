//! An account as the administrators' page types it (`/staff/users`): its fields, what is
//! wrong with them, and the temporary password a new or reset account is given.

use rand::Rng;

use crate::domain::Role;
use crate::web::html::Tr;

/// The roles a person can hold (a PBX is a machine: it gets a token, not an account).
pub(super) const PERSON_ROLES: [Role; 5] = [
    Role::Counter,
    Role::Hotline,
    Role::Callback,
    Role::DutyLeader,
    Role::Admin,
];

/// A temporary password to read out or hand over: three groups of four unambiguous symbols.
pub(super) fn temporary_password() -> String {
    const SYMBOLS: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::rngs::OsRng;
    (0..3)
        .map(|_| {
            (0..4)
                .map(|_| SYMBOLS[rng.gen_range(0..SYMBOLS.len())] as char)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// An account's form as typed.
#[derive(Debug, Default, Clone)]
pub struct AccountForm {
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub roles: Vec<Role>,
    /// The telephone extension (分机) the PBX rings this person at; optional.
    pub extension: String,
}

impl AccountForm {
    pub(super) fn from_pairs(pairs: &[(String, String)]) -> (String, Self) {
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default()
        };
        let roles = PERSON_ROLES
            .into_iter()
            .filter(|r| pairs.iter().any(|(n, _)| *n == format!("role_{r}")))
            .collect();
        (
            get("csrf"),
            AccountForm {
                username: get("username"),
                display_name: get("display_name"),
                email: get("email"),
                roles,
                extension: get("extension"),
            },
        )
    }

    /// What is wrong with it, field by field, in the reader's language. `others` are the
    /// display names of the other accounts: owners and alerts go by name, so names are unique.
    pub(super) fn problems(
        &self,
        t: Tr,
        new: bool,
        others: &[String],
    ) -> Vec<(&'static str, String)> {
        let mut errors = Vec::new();
        if others.contains(&self.display_name) {
            errors.push((
                "display_name",
                t.t(
                    "该姓名已被其他账号使用；重名时请加以区分，如“王芳（二窗）”",
                    "Another account has that name; tell them apart, e.g. “王芳 (counter 2)”",
                )
                .to_owned(),
            ));
        }
        let username_ok = !self.username.is_empty()
            && self.username.len() <= 40
            && self
                .username
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if new && !username_ok {
            errors.push((
                "username",
                t.t(
                    "用户名请用字母、数字和 . _ -（不超过40个）",
                    "A username is letters, digits and . _ - (at most 40)",
                )
                .to_owned(),
            ));
        }
        if self.display_name.is_empty() || self.display_name.chars().count() > 40 {
            errors.push((
                "display_name",
                t.t(
                    "请填写姓名（不超过40字）",
                    "Give a name (at most 40 characters)",
                )
                .to_owned(),
            ));
        }
        if self.roles.is_empty() {
            errors.push((
                "roles",
                t.t("请至少选择一个岗位", "Choose at least one role")
                    .to_owned(),
            ));
        }
        if self.extension.chars().count() > 20
            || !self
                .extension
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            errors.push((
                "extension",
                t.t(
                    "分机号请用数字或字母（不超过20个）",
                    "An extension is digits or letters (at most 20)",
                )
                .to_owned(),
            ));
        }
        if !self.email.is_empty() && !self.email.contains('@') {
            errors.push((
                "email",
                t.t("电子邮箱格式不对", "That is not an e-mail address")
                    .to_owned(),
            ));
        }
        errors
    }
}
