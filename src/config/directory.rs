//! The bureau's directory as configured (`[[departments]]`, `[[counters]]`: the first
//! start seeds the database's from them) and the evaluation's weights (`[evaluation]`).

use serde::Deserialize;

use super::Settings;

/// A department of the bureau (`[[departments]]`): seeds the directory, which
/// administrators then edit in the pages.
#[derive(Debug, Clone, Deserialize)]
pub struct DepartmentSettings {
    pub code: String,
    pub name: String,
    /// Its head (科室负责人), by name.
    #[serde(default)]
    pub head: Option<String>,
    /// How to reach them: an e-mail address or `webhook:<name>`.
    #[serde(default)]
    pub contact: Option<String>,
}

/// The weights of the evaluation, shown beside the figures they weigh. For places (counters
/// and departments): cases that failed there, of which staff-side, good ratings (满意 and
/// above), bad ratings (不满意 and below), cases settled on time. For staff: cases handled,
/// settled on time, good ratings, bad ratings, callers reached on the callback list.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct EvaluationSettings {
    pub place: [f64; 5],
    pub staff: [f64; 5],
}

impl Default for EvaluationSettings {
    fn default() -> Self {
        Self {
            place: [-1.0, -3.0, 1.0, -2.0, 0.5],
            staff: [1.0, 2.0, 1.0, -2.0, 0.5],
        }
    }
}

/// A business counter (`[[counters]]`), and the department it belongs to.
#[derive(Debug, Clone, Deserialize)]
pub struct CounterSettings {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub head: Option<String>,
    #[serde(default)]
    pub contact: Option<String>,
}

impl Settings {
    /// The configured directory, to seed the database's.
    pub fn directory(&self) -> Vec<crate::domain::directory::DirectoryEntry> {
        use crate::domain::directory::{DirectoryEntry, EntryKind};
        let departments = self.departments.iter().map(|d| DirectoryEntry {
            kind: EntryKind::Department,
            code: d.code.clone(),
            name: d.name.clone(),
            head: d.head.clone(),
            contact: d.contact.clone(),
            department: None,
            retired: false,
        });
        let counters = self.counters.iter().map(|c| DirectoryEntry {
            kind: EntryKind::Counter,
            code: c.code.clone(),
            name: c.name.clone(),
            head: c.head.clone(),
            contact: c.contact.clone(),
            department: c.department.clone(),
            retired: false,
        });
        departments.chain(counters).collect()
    }
}
