//! youmen (有门): an omnichannel intake gateway for a public-service "can't-get-it-done"
//! window. The library holds everything; `main.rs` only parses the command line.
//!
//! Layers, inside out: [`domain`] (pure rules: cases, calendar, deadlines, state machine),
//! [`storage`] (one trait, SQLite and PostgreSQL), [`http`] and [`cli`] at the edge.

pub mod app;
pub mod auth;
pub mod bulletin;
pub mod calendar_source;
pub mod callbacks;
pub mod cases;
pub mod channels;
pub mod cli;
pub mod clock;
pub mod config;
pub mod directory;
pub mod domain;
pub mod http;
pub mod intake;
pub mod jobs;
pub mod notify;
pub mod oversight;
pub mod ratings;
pub mod recordings;
pub mod retention;
pub mod secrets;
pub mod storage;
pub mod telemetry;
pub mod web;
pub mod work;
