//! The one `helpdesk` binary's library: `serve` starts any set of parts in one process (the way
//! Loki and Mimir run "monolithic" or one target per deployment from the same code), `cli` holds
//! the admin/agent commands that talk gRPC, and `demo` seeds demo data through those same calls.

pub mod cli;
pub mod demo;
pub mod kb_import;
pub mod serve;
