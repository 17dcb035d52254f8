//! `search_index`: keeps the search index up with intake. New cases are stored without their
//! bigrams (one write per case instead of ~40 scattered over the index, inside the intake
//! transaction); a search matches that short backlog by its text. This job writes the
//! backlog's bigrams in bulk, sorted, a chunk per transaction, every half second and until
//! it is empty.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::{periodic, Schedule, Stop};
use crate::storage::{Store, SEARCH_INDEX_CHUNK};

/// The pause between two chunks: intake first, as a chunk takes CPU (and on PostgreSQL row
/// locks) from the registrations of the moment.
const PAUSE: Duration = Duration::from_millis(10);

pub fn spawn(store: Arc<dyn Store>, stop: Stop) -> JoinHandle<()> {
    let schedule = Schedule {
        every: Duration::from_millis(500),
        wait_first: false,
        wake: None,
    };
    let round_stop = stop.clone();
    periodic("search_index", schedule, stop, move || {
        let (store, stop) = (store.clone(), round_stop.clone());
        async move {
            while !stop.is_cancelled() {
                if store.index_search_backlog(SEARCH_INDEX_CHUNK).await?
                    < SEARCH_INDEX_CHUNK as usize
                {
                    break;
                }
                tokio::time::sleep(PAUSE).await;
            }
            Ok(())
        }
    })
}
