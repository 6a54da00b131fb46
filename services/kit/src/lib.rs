//! Shared plumbing for every part of the help desk: typed config, tracing, the Postgres pool with
//! per-service schemas and migrations, the NATS JetStream connection, streams and shared names, the
//! one runner of durable consumers (`consumer`), the transactional outbox and its relay, caller
//! tokens and the gRPC interceptor that checks them, error mapping, and the gRPC server scaffolding
//! (health + reflection, a panic answered as `INTERNAL`), and the few rules every part must apply
//! alike: the revocation list of blocked subjects (`auth`), the one address rule (`address`), the
//! text limit (`limits`), stray controls and safe cuts (`text`), and following paged conversations
//! (`pages`). No part's business rules live here.

pub mod address;
pub mod auth;
pub mod blob;
pub mod config;
pub mod consumer;
pub mod db;
pub mod error;
pub mod events;
pub mod grpc;
pub mod lease;
pub mod limits;
pub mod nats;
pub mod outbox;
pub mod panic;
pub mod pages;
pub mod part;
pub mod telemetry;
pub mod text;

pub use tokio_util::sync::CancellationToken;
