//! The bureau's directory: its departments (科室) and business counters (窗口), each with a
//! code, a Chinese name, its head and how to reach them. A case records where the matter
//! could not be done ([`FailedAt`]: the counter, its department, the clerk when known), so
//! that failures are counted per place. Pure: the directory is given, the rules checked.

use super::registration::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Department,
    Counter,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Department => "department",
            EntryKind::Counter => "counter",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "department" => Some(EntryKind::Department),
            "counter" => Some(EntryKind::Counter),
            _ => None,
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            EntryKind::Department => "科室",
            EntryKind::Counter => "窗口",
        }
    }
}

/// One department or counter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DirectoryEntry {
    pub kind: EntryKind,
    pub code: String,
    pub name: String,
    /// The head (科室负责人, 窗口负责人), by name.
    pub head: Option<String>,
    /// How to reach them: an e-mail address or `webhook:<name>`.
    pub contact: Option<String>,
    /// A counter's department.
    pub department: Option<String>,
    /// Retired entries stay on the cases that name them, and are offered no more.
    pub retired: bool,
}

/// Where a matter could not be done.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FailedAt {
    pub counter: Option<String>,
    pub department: Option<String>,
    pub clerk: Option<String>,
}

impl FailedAt {
    pub fn is_empty(&self) -> bool {
        self.counter.is_none() && self.department.is_none() && self.clerk.is_none()
    }
}

/// A code as the directory takes it: lowercase letters, digits, `_` and `-`, at most 40.
pub fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 40
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn find<'a>(
    directory: &'a [DirectoryEntry],
    kind: EntryKind,
    code: &str,
) -> Option<&'a DirectoryEntry> {
    directory
        .iter()
        .find(|e| e.kind == kind && e.code == code && !e.retired)
}

/// Checks where-it-failed as typed (codes, empty for "not known"): an unknown or retired
/// code is an error naming its field; a counter alone brings its department.
pub fn check_failed_at(
    directory: &[DirectoryEntry],
    counter: &str,
    department: &str,
    clerk: &str,
) -> Result<FailedAt, Vec<FieldError>> {
    let mut errors = Vec::new();
    let counter = counter.trim();
    let department = department.trim();
    let clerk = clerk.trim();
    let counter_entry = match counter {
        "" => None,
        code => match find(directory, EntryKind::Counter, code) {
            Some(e) => Some(e),
            None => {
                errors.push(FieldError::new(
                    "failed_counter",
                    "unknown_counter",
                    format!("窗口代码 `{code}` 不在名录中"),
                    format!("No counter `{code}` in the directory"),
                ));
                None
            }
        },
    };
    let department = match department {
        "" => counter_entry.and_then(|c| c.department.clone()),
        code => match find(directory, EntryKind::Department, code) {
            Some(e) => Some(e.code.clone()),
            None => {
                errors.push(FieldError::new(
                    "failed_department",
                    "unknown_department",
                    format!("科室代码 `{code}` 不在名录中"),
                    format!("No department `{code}` in the directory"),
                ));
                None
            }
        },
    };
    if clerk.chars().count() > 40 || clerk.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "failed_clerk",
            "invalid_input",
            "经办人姓名不超过40字",
            "The clerk's name is at most 40 characters",
        ));
    }
    match errors.is_empty() {
        true => Ok(FailedAt {
            counter: counter_entry.map(|c| c.code.clone()),
            department,
            clerk: Some(clerk.to_owned()).filter(|c| !c.is_empty()),
        }),
        false => Err(errors),
    }
}

/// Where-it-failed corrected: only what changed is checked against the directory (a code a
/// case already names stays valid when its entry is retired), a new counter brings its own
/// department unless another one is chosen, and a clerk typed replaces the one recorded.
pub fn correct_failed_at(
    directory: &[DirectoryEntry],
    current: &FailedAt,
    counter: Option<&str>,
    department: Option<&str>,
    clerk: Option<&str>,
) -> Result<FailedAt, Vec<FieldError>> {
    fn changed<'a>(typed: Option<&'a str>, old: &Option<String>) -> Option<&'a str> {
        typed
            .map(str::trim)
            .filter(|t| !t.is_empty() && Some(*t) != old.as_deref())
    }
    let new_counter = changed(counter, &current.counter);
    let new_department = changed(department, &current.department);
    let mut next = current.clone();
    let checked = check_failed_at(
        directory,
        new_counter.unwrap_or(""),
        new_department.unwrap_or(""),
        clerk.unwrap_or(""),
    )?;
    if new_counter.is_some() {
        next.counter = checked.counter;
        // The new counter's department, unless another one was chosen as well.
        next.department = checked.department.clone();
    } else if new_department.is_some() {
        next.department = checked.department;
    }
    if let Some(clerk) = checked.clerk {
        next.clerk = Some(clerk);
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directory() -> Vec<DirectoryEntry> {
        let entry = |kind, code: &str, department: Option<&str>, retired| DirectoryEntry {
            kind,
            code: code.into(),
            name: code.into(),
            head: None,
            contact: None,
            department: department.map(Into::into),
            retired,
        };
        vec![
            entry(EntryKind::Department, "pensions", None, false),
            entry(EntryKind::Department, "old", None, true),
            entry(EntryKind::Counter, "w3", Some("pensions"), false),
        ]
    }

    #[test]
    fn a_counter_brings_its_department_and_unknown_codes_are_named() {
        let d = directory();
        let f = check_failed_at(&d, "w3", "", "张三").unwrap();
        assert_eq!(f.department.as_deref(), Some("pensions"));
        assert_eq!(f.clerk.as_deref(), Some("张三"));
        assert!(check_failed_at(&d, "", "", "").unwrap().is_empty());
        let errors = check_failed_at(&d, "w9", "old", "").unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["failed_counter", "failed_department"]);
    }

    #[test]
    fn a_correction_checks_only_what_changed() {
        let mut d = directory();
        d.push(DirectoryEntry {
            kind: EntryKind::Department,
            code: "employment".into(),
            name: "employment".into(),
            head: None,
            contact: None,
            department: None,
            retired: false,
        });
        d.push(DirectoryEntry {
            kind: EntryKind::Counter,
            code: "jobs".into(),
            name: "jobs".into(),
            head: None,
            contact: None,
            department: Some("employment".into()),
            retired: false,
        });
        // Named before it was retired: still fine, when only the clerk changes.
        let old = FailedAt {
            counter: Some("w3".into()),
            department: Some("old".into()),
            clerk: None,
        };
        let f = correct_failed_at(&d, &old, Some("w3"), Some("old"), Some("李四")).unwrap();
        assert_eq!(
            (f.department.as_deref(), f.clerk.as_deref()),
            (Some("old"), Some("李四"))
        );
        // A new counter brings its own department, though the form sent the old one.
        let f = correct_failed_at(&d, &old, Some("jobs"), Some("old"), None).unwrap();
        assert_eq!(f.department.as_deref(), Some("employment"));
        assert!(correct_failed_at(&d, &old, Some("w9"), None, None).is_err());
    }

    #[test]
    fn codes_are_plain() {
        assert!(valid_code("w3") && valid_code("labour_relations"));
        assert!(!valid_code("W3") && !valid_code("") && !valid_code("a b"));
    }
}
