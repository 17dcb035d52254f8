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
}
