//! The shared queue: every channel's cases filtered, sorted and paged, and the search box
//! over them (a case number, a phone number, or any two characters of a name or a text,
//! through the bigram index that the `search_index` job keeps up with intake).

use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::{Case, CaseNumber, Cause, Channel, Status, Tier};

/// Bigram occurrences from which a bigram counts as common (see `list_cases`).
pub const COMMON_GRAM: i64 = 5000;

/// How many cases the search indexer takes from the backlog per transaction.
pub const SEARCH_INDEX_CHUNK: u32 = 250;

/// A case's text as the search indexer reads it: id, name, phone as typed, description.
pub type IndexedText = (i64, Option<String>, Option<String>, String);

/// The bigrams of these cases' texts, as (gram, case id) pairs in the index's order, worked
/// out on a blocking thread: for a chunk of 250 cases it is some 10,000 strings made and
/// sorted, milliseconds during which a request worker would serve no one.
pub async fn sorted_grams_apart(rows: Vec<IndexedText>) -> (Vec<IndexedText>, Vec<(String, i64)>) {
    tokio::task::spawn_blocking(move || {
        let grams = sorted_grams(&rows);
        (rows, grams)
    })
    .await
    .expect("working out search grams")
}

/// The bigrams of these cases' texts, as (gram, case id) pairs in the index's order.
fn sorted_grams(rows: &[IndexedText]) -> Vec<(String, i64)> {
    let mut grams: Vec<(String, i64)> = Vec::with_capacity(rows.len() * 48);
    for (id, name, phone, description) in rows {
        let text =
            crate::domain::search::indexed_text(name.as_deref(), phone.as_deref(), description);
        grams.extend(
            crate::domain::search::grams(&text)
                .into_iter()
                .map(|g| (g, *id)),
        );
    }
    grams.sort_unstable();
    grams
}

/// How the shared queue is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Earliest deadline first: what to work on next.
    #[default]
    Deadline,
    /// Newest arrival first.
    Received,
}

/// Where the previous page ended: the sort key and the id of its last case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub key: DateTime<Utc>,
    pub id: i64,
}

/// A filter over the shared queue. Empty lists mean "any".
#[derive(Debug, Clone, Default)]
pub struct CaseQuery {
    pub statuses: Vec<Status>,
    pub channels: Vec<Channel>,
    pub causes: Vec<Cause>,
    pub tiers: Vec<Tier>,
    /// Some(true): only open cases past their deadline; Some(false): everything else.
    pub overdue: Option<bool>,
    pub received_from: Option<DateTime<Utc>>,
    pub received_to: Option<DateTime<Utc>>,
    pub text: Option<TextQuery>,
    pub owner: Option<String>,
    pub off_hours: Option<bool>,
    pub sort: Sort,
    pub after: Option<Cursor>,
    pub limit: u32,
    /// The instant "overdue" is judged at.
    pub now: Option<DateTime<Utc>>,
}

/// A search box entry, already interpreted: it may be a case number, a phone number, and
/// is always also a phrase to look for in names and descriptions.
#[derive(Debug, Clone, Default)]
pub struct TextQuery {
    pub number: Option<CaseNumber>,
    pub phone_e164: Option<String>,
    pub words: String,
}

#[derive(Debug, Clone)]
pub struct CasePage {
    pub cases: Vec<Case>,
    pub next: Option<Cursor>,
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[async_trait::async_trait]
pub trait QueueStore: Send + Sync {
    async fn list_cases(&self, query: &CaseQuery) -> StoreResult<CasePage>;

    /// Adds up to `limit` of the cases not yet in the search index to it, in one
    /// transaction; returns how many. New cases are stored without their bigrams (a search
    /// scans that short backlog directly), and the search indexer job writes them here in
    /// bulk, sorted, so each page of the index is written once per round rather than once
    /// per commit. Each case is claimed by a conditional update: two instances never index
    /// one case twice.
    async fn index_search_backlog(&self, limit: u32) -> StoreResult<usize>;
}

/// Implements [`QueueStore`] for an engine's store (see `impl_store!` in `storage/mod.rs`).
macro_rules! impl_queue_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::QueueStore for $store {
            async fn list_cases(
                &self,
                q: &$crate::storage::CaseQuery,
            ) -> $crate::storage::StoreResult<$crate::storage::CasePage> {
                use $crate::storage::rows::{CaseRow, CASE_COLUMNS};
                use $crate::storage::Sort;
                let mut b = sqlx::QueryBuilder::<$db>::new(format!(
                    "select {CASE_COLUMNS} from cases where 1 = 1"
                ));
                // The codes of a closed vocabulary ([a-z_], never user text) written as
                // literals, sorted: the open queue's `status in ('in_progress', 'new')` then
                // matches the partial index on open cases, which a planner proves only for
                // the same literal condition, not for bound parameters.
                macro_rules! any_of {
                    ($column:literal, $values:expr) => {
                        if !$values.is_empty() {
                            let mut codes: Vec<&str> = $values.iter().map(|v| v.as_str()).collect();
                            codes.sort_unstable();
                            codes.dedup();
                            debug_assert!(codes
                                .iter()
                                .all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
                            let list: Vec<String> =
                                codes.iter().map(|c| format!("'{c}'")).collect();
                            b.push(format!(" and {} in ({})", $column, list.join(", ")));
                        }
                    };
                }
                any_of!("status", q.statuses);
                any_of!("channel", q.channels);
                any_of!("cause", q.causes);
                any_of!("tier", q.tiers);
                let now = q.now.unwrap_or_else(chrono::Utc::now);
                match q.overdue {
                    Some(true) => {
                        b.push(" and status in ('in_progress', 'new') and deadline < ")
                            .push_bind(now);
                    }
                    Some(false) => {
                        b.push(" and (status not in ('new', 'in_progress') or deadline >= ")
                            .push_bind(now)
                            .push(")");
                    }
                    None => {}
                }
                if let Some(owner) = &q.owner {
                    b.push(" and owner = ").push_bind(owner.clone());
                }
                if let Some(off_hours) = q.off_hours {
                    b.push(" and off_hours = ").push_bind(off_hours);
                }
                if let Some(from) = q.received_from {
                    b.push(" and received_at >= ").push_bind(from);
                }
                if let Some(to) = q.received_to {
                    b.push(" and received_at < ").push_bind(to);
                }
                if let Some(text) = &q.text {
                    let words = text.words.to_lowercase();
                    let pattern = format!("%{}%", $crate::storage::queue::escape_like(&words));
                    // Which way is fast depends on how common the words are: the bigram
                    // index names the cases that may match when they are few; when they are
                    // many, matches are everywhere and a scan in the page's sort order fills
                    // the page at once. A bounded look-up decides (`gram_candidates`).
                    let common = $crate::storage::queue::COMMON_GRAM;
                    // A whole case number or a full phone number (with its area code or
                    // mobile prefix: 11 digits or more) is a look-up, answered by its own
                    // index: its digits' bigrams are in every phone number, so neither the
                    // bigram index nor a scan of the text would narrow anything down. A
                    // shorter number (a local one, or the end of a mobile) is searched in
                    // the text as well.
                    let digits = words.chars().filter(char::is_ascii_digit).count();
                    let lookup =
                        text.number.is_some() || (text.phone_e164.is_some() && digits >= 11);
                    // Cases in the search backlog (not indexed yet: the last moments'
                    // intake) have no grams: they are candidates too, matched by their text.
                    // The backlog is read *before* the grams: a case the indexer takes in
                    // between is then in the list already, or its grams (committed with the
                    // deletion of its backlog row, or before it on SQLite) are found by the
                    // index look-up. A backlog too long to list (the indexer
                    // catching up after an import) makes the search take the scan, which
                    // needs no index.
                    let backlog: Option<Vec<i64>> = if lookup {
                        None
                    } else {
                        let ids: Vec<i64> = sqlx::query_scalar(&format!(
                            "select case_id from search_backlog limit {}",
                            common + 1
                        ))
                        .fetch_all(self.reader())
                        .await?;
                        (ids.len() as i64 <= common).then_some(ids)
                    };
                    // The indexed cases that may match (fewer than `common`), each engine
                    // by its own index; None when the words are common. Not asked when no
                    // candidate list is made anyway (a look-up, or a backlog too long to list).
                    let indexed = if backlog.is_none() {
                        None
                    } else {
                        let grams: Vec<String> = $crate::domain::search::grams(&words)
                            .into_iter()
                            .take(16)
                            .collect();
                        self.gram_candidates(&grams).await?
                    };
                    let candidates: Option<Vec<i64>> = match (indexed, backlog) {
                        (Some(found), Some(mut ids)) => {
                            ids.extend(found);
                            Some(ids)
                        }
                        _ => None,
                    };
                    let scan_text = !lookup;
                    b.push(" and (");
                    if scan_text {
                        b.push("(");
                        if let Some(ids) = &candidates {
                            // The candidates themselves (fewer than `common`), so that every
                            // planner goes by primary key rather than scanning in page order.
                            b.push("id in (");
                            let mut list = b.separated(", ");
                            for id in ids {
                                list.push_bind(*id);
                            }
                            if ids.is_empty() {
                                list.push("null");
                            }
                            list.push_unseparated(") and ");
                        }
                        b.push("(lower(description) like ")
                            .push_bind(pattern.clone())
                            .push(" escape '\\'");
                        b.push(" or lower(coalesce(citizen_name, '')) like ")
                            .push_bind(pattern.clone())
                            .push(" escape '\\'");
                        b.push(" or coalesce(phone_original, '') like ")
                            .push_bind(pattern.clone())
                            .push(" escape '\\'");
                        // What the callers said, as the recognizer heard it.
                        // (Evaluated once, not per row.)
                        b.push(" or id in (select case_id from transcriptions where text <> '' and lower(text) like ")
                            .push_bind(pattern)
                            .push(" escape '\\')))");
                    }
                    let mut or = if scan_text { " or " } else { "" };
                    if let Some(number) = &text.number {
                        b.push(or)
                            .push("number = ")
                            .push_bind(number.as_str().to_owned());
                        or = " or ";
                    }
                    if let Some(phone) = &text.phone_e164 {
                        b.push(or).push("phone_e164 = ").push_bind(phone.clone());
                    }
                    b.push(")");
                }
                let (column, cmp, order) = match q.sort {
                    Sort::Deadline => ("deadline", ">", "asc"),
                    Sort::Received => ("received_at", "<", "desc"),
                };
                if let Some(after) = &q.after {
                    b.push(format!(" and ({column} {cmp} "))
                        .push_bind(after.key);
                    b.push(format!(" or ({column} = ")).push_bind(after.key);
                    b.push(format!(" and id {cmp} "))
                        .push_bind(after.id)
                        .push("))");
                }
                b.push(format!(" order by {column} {order}, id {order} limit "));
                b.push_bind(i64::from(q.limit) + 1);
                let rows: Vec<CaseRow> = b.build_query_as().fetch_all(self.reader()).await?;
                let mut cases = rows
                    .into_iter()
                    .map($crate::domain::Case::try_from)
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let next = if cases.len() > q.limit as usize {
                    cases.truncate(q.limit as usize);
                    cases.last().map(|c| $crate::storage::Cursor {
                        key: match q.sort {
                            Sort::Deadline => c.deadline,
                            Sort::Received => c.received_at,
                        },
                        id: c.id,
                    })
                } else {
                    None
                };
                Ok($crate::storage::CasePage { cases, next })
            }

            async fn index_search_backlog(
                &self,
                limit: u32,
            ) -> $crate::storage::StoreResult<usize> {
                Ok(self.index_chunk(limit).await?)
            }
        }
    };
}

pub(crate) use impl_queue_store;
