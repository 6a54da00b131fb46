//! The `[kb]` section (and `HELPDESK_KB__…` variables): where kb listens and the word vectors it
//! ranks with. The `helpdesk` crate reads it with the rest of the configuration and hands it to
//! `App::build`.

use std::{net::SocketAddr, path::PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KbConfig {
    /// The gRPC listen address (port 0: any free port).
    pub listen: SocketAddr,
    /// Pretrained word vectors (`deploy/stack.sh` makes them: `.stack/word-vectors/…`) that let
    /// search and suggestions rank by meaning as well as by words; without them, words only.
    pub word_vectors: Option<PathBuf>,
}

impl Default for KbConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50053)),
            word_vectors: None,
        }
    }
}
