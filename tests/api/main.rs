//! One integration-test binary: real youmen instances on real databases, over HTTP.

mod audit;
mod audit_page;
mod browser;
mod callback_loop;
mod callbacks;
mod cases;
mod cli;
mod corrections;
mod deploy;
mod errors;
mod health;
mod helpers;
mod hotline;
mod instances;
mod leader;
mod matrix;
mod oversight;
mod rating_follow_up;
mod retention;
mod schemathesis;
mod search;
mod smtp;
mod staff;
mod transfer;
mod twilio;
mod website;
