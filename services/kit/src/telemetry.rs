//! Tracing set-up: human-readable logs to stderr, filtered by `RUST_LOG` (default `info`).
//! Installed once per process; a second call (tests start several apps) is a no-op.

use tracing_subscriber::{EnvFilter, fmt};

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Err only means a subscriber is already installed, which is fine.
    let _ = fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
