//! The HTTP toolkit every route uses, the channels' and the desk's alike: one error type
//! ([`error`]), extractors with readable rejections and the staff behind a token
//! ([`extract`]), staff sign-in sessions ([`session`]), server-rendered pages ([`html`]), the
//! API's views ([`views`]) and the times clients type ([`time`]). It knows no route: the
//! routers are the channels' (`channels::*::routes`) and the desk's (`http`).
//!
//! A router takes what it needs from the application's state by `FromRef`: the
//! authentication extractors need only [`Auth`].

pub mod client;
pub mod error;
pub mod extract;
pub mod html;
pub mod session;
pub mod time;
pub mod views;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::StaffSettings;
use crate::storage::Store;

/// What authenticates a request: tokens and sessions in the store, how sessions behave, and
/// how a client's address is known (for the limits on signing in).
#[derive(Clone)]
pub struct Auth {
    pub store: Arc<dyn Store>,
    pub staff: Arc<StaffSettings>,
    pub addresses: client::AddressKeys,
    /// Behind a reverse proxy: believe the address it appends to `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    /// When this instance last wrote each token's last use.
    pub token_uses: TokenUses,
}

/// A token's last use is written at most once per [`TokenUses::EVERY`] per instance, so an
/// integration calling many times a second does not turn each call into a write.
#[derive(Clone, Default)]
pub struct TokenUses(Arc<std::sync::Mutex<std::collections::HashMap<i64, DateTime<Utc>>>>);

impl TokenUses {
    pub const EVERY: chrono::Duration = chrono::Duration::minutes(5);

    /// True if the use at `now` should be written (and it is counted as written).
    pub fn due(&self, id: i64, now: DateTime<Utc>) -> bool {
        let mut written = self.0.lock().expect("token uses lock");
        match written.get(&id) {
            Some(at) if now - *at < Self::EVERY => false,
            _ => {
                written.insert(id, now);
                true
            }
        }
    }
}
