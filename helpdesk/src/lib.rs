//! The one `helpdesk` binary's library: `serve` starts any set of parts in one process (the way
//! Loki and Mimir run "monolithic" or one target per deployment from the same code), `cli` holds
//! the commands that talk gRPC (`agent` for support's queue work; `admin` for staff, contact
//! groups and portal settings; `mail` for quarantined mail), and `demo` seeds demo data through those same calls.
//! `config` is the one configuration tree, every part's section in it.

pub mod admin;
pub mod agent;
pub mod cli;
pub mod config;
pub mod demo;
pub mod kb_import;
pub mod mail;
pub mod serve;
