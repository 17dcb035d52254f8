//! Channel adapters: each turns its own input (a PBX spool, a webhook, a form) into cases.

pub mod hotline;
pub mod website;
