//! The shared sections of the configuration and the one reader of its sources. Every part owns
//! its own section (`[identity]`, `[gateway]` …, typed in the part's `config.rs`); the sections
//! every part uses — `[database]`, `[nats]`, `[auth]`, `[blob]`, `[outbox]`, `[endpoints]` — are
//! [`SharedConfig`] here, and the `helpdesk` crate composes them all into one tree, since kit
//! cannot depend on the parts.
//!
//! [`Sources`] reads the optional TOML file and the `HELPDESK_<SECTION>__<KEY>` environment
//! variables once; each section is then taken from them over its defaults in code, so the dev
//! defaults work with no file at all. Every section struct denies unknown keys, and
//! [`ConfigError`] names the offending key, its section and where it came from (the file, or the
//! variable), because a misspelt setting that is silently ignored is worse than one that stops
//! the start.

use std::{fmt, path::Path, path::PathBuf};

use figment::{
    Figment, Metadata, Provider,
    error::Kind,
    providers::{Env, Format, Serialized, Toml},
    value::{Dict, Value},
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// The prefix of configuration variables; only `HELPDESK_<SECTION>__<KEY>` names are settings, so
/// `HELPDESK_CONFIG` (the file) and the stack's `HELPDESK_STACK_*` / `HELPDESK_TEST_*` are not.
const ENV_PREFIX: &str = "HELPDESK_";
const ENV_SPLIT: &str = "__";

/// The sections every part reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
// Not `deny_unknown_fields`: the parts' sections sit beside these at the top level, and
// `Sources::refuse_unknown_sections` refuses the rest. Each section below denies unknown keys.
#[serde(default)]
pub struct SharedConfig {
    pub database: DatabaseConfig,
    pub nats: NatsConfig,
    pub auth: AuthConfig,
    pub blob: BlobConfig,
    pub outbox: OutboxConfig,
    /// Where clients (gateway, CLI, other services) reach the gRPC servers.
    pub endpoints: Endpoints,
}

impl SharedConfig {
    /// The names of the sections above, as they appear in the file.
    pub const SECTIONS: [&str; 6] = ["database", "nats", "auth", "blob", "outbox", "endpoints"];
}

/// The configuration's sources, read once: the TOML file if given, then `HELPDESK_…` variables
/// (`HELPDESK_DATABASE__URL` sets `database.url`), in that order of precedence.
pub struct Sources {
    figment: Figment,
    /// How figment names the environment provider, to tell a variable from a file in errors.
    env_name: String,
}

impl Sources {
    /// Reads the file (which must exist when given) and the environment.
    pub fn read(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env = Env::prefixed(ENV_PREFIX).filter(|key| key.as_str().contains(ENV_SPLIT)).split(ENV_SPLIT);
        let env_name = env.metadata().name.to_string();
        let mut figment = Figment::new();
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        let sources = Self { figment: figment.merge(env), env_name };
        // A missing file or a TOML syntax error surfaces here, not at the first section.
        sources.top_level()?;
        Ok(sources)
    }

    /// Refuses a top-level key that is neither a shared section nor one of `part_sections`.
    pub fn refuse_unknown_sections(&self, part_sections: &[&str]) -> Result<(), ConfigError> {
        let known = || SharedConfig::SECTIONS.iter().chain(part_sections);
        for (section, value) in &self.top_level()? {
            if !known().any(|k| k == section) {
                let expected = known().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
                let mut key = vec![section.clone()];
                key.extend(first_leaf(value));
                return Err(ConfigError(format!(
                    "unknown section `{section}`{}; expected one of {expected}",
                    self.origin(&self.figment, &key)
                )));
            }
        }
        Ok(())
    }

    fn top_level(&self) -> Result<Dict, ConfigError> {
        self.figment.extract().map_err(|e| self.error(e, &self.figment))
    }

    /// The shared sections over their defaults.
    pub fn shared(&self) -> Result<SharedConfig, ConfigError> {
        let figment = Figment::from(Serialized::defaults(SharedConfig::default())).merge(self.figment.clone());
        figment.extract().map_err(|e| self.error(e, &figment))
    }

    /// The part section `name` over its defaults (`T::default()`).
    pub fn section<T: Serialize + DeserializeOwned + Default>(&self, name: &str) -> Result<T, ConfigError> {
        let figment = Figment::from(Serialized::default(name, T::default())).merge(self.figment.clone());
        figment.extract_inner(name).map_err(|mut error| {
            // `extract_inner` appends the section to the key's path; it belongs in front.
            if error.path.last().is_some_and(|last| last == name) {
                error.path.pop();
                error.path.insert(0, name.to_string());
            }
            self.error(error, &figment)
        })
    }

    fn error(&self, error: figment::Error, figment: &Figment) -> ConfigError {
        let lines: Vec<String> = error.into_iter().map(|e| self.describe(&e, figment)).collect();
        ConfigError(lines.join("\n"))
    }

    /// One problem as a sentence: what is wrong with which key of which section, where the key
    /// was set, and for an unknown key the keys the section has.
    fn describe(&self, error: &figment::Error, figment: &Figment) -> String {
        let Some((key, section)) = error.path.split_last() else {
            // Reading the file failed (missing, not TOML): name the file first.
            let problem = error.kind.to_string();
            return match file_path(error.metadata.as_ref()) {
                Some(path) => format!("{}: {}", path.display(), problem.trim_end()),
                None => problem,
            };
        };
        let in_section = if section.is_empty() { String::new() } else { format!(" in section `{}`", section.join(".")) };
        let origin = match self.origin(figment, &error.path) {
            origin if origin.is_empty() => file_of(error.metadata.as_ref()),
            origin => origin,
        };
        match &error.kind {
            Kind::UnknownField(_, expected) => {
                let expected = expected.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
                format!("unknown key `{key}`{in_section}{origin}; expected one of {expected}")
            }
            kind => format!("{kind} for key `{key}`{in_section}{origin}"),
        }
    }

    /// ` of FILE` or ` of environment variable NAME` for the value at `key`; empty for a default.
    fn origin(&self, figment: &Figment, key: &[String]) -> String {
        match figment.find_metadata(&key.join(".")) {
            Some(metadata) if metadata.name == self.env_name => {
                format!(" of environment variable {ENV_PREFIX}{}", key.join(ENV_SPLIT).to_ascii_uppercase())
            }
            metadata => file_of(metadata),
        }
    }
}

/// ` of FILE` when `metadata` is a file's.
fn file_of(metadata: Option<&Metadata>) -> String {
    file_path(metadata).map(|path| format!(" of {}", path.display())).unwrap_or_default()
}

fn file_path(metadata: Option<&Metadata>) -> Option<&Path> {
    metadata?.source.as_ref()?.file_path()
}

/// The path to the first non-table value under `value`, to name an environment variable.
fn first_leaf(value: &Value) -> Vec<String> {
    match value {
        Value::Dict(_, dict) => match dict.iter().next() {
            Some((key, inner)) => std::iter::once(key.clone()).chain(first_leaf(inner)).collect(),
            None => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// A configuration that cannot be used, with every problem found, one a line.
#[derive(Debug)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// May carry a password, so it is a secret and never serialized or logged.
    #[serde(skip_serializing)]
    pub url: SecretString,
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: SecretString::from("postgres://postgres@127.0.0.1:55432/helpdesk"),
            max_connections: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsConfig {
    pub url: String,
    /// Prefix of every subject and stream name, so several deployments (or tests) share a server.
    pub prefix: String,
    pub stream_replicas: usize,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:54222".into(),
            prefix: "helpdesk".into(),
            stream_replicas: 1,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Holds `signing.pem` (identity only), `verify.pem` and `service.secret`. Identity creates
    /// missing ones at start; in a scaled deployment this is a mounted secret.
    pub key_dir: PathBuf,
    /// Lifetime of the caller tokens identity issues.
    pub token_ttl_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            key_dir: PathBuf::from(".helpdesk/keys"),
            token_ttl_secs: 15 * 60,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlobConfig {
    /// Directory of the local blob store (attachments, raw mail).
    pub dir: PathBuf,
}

impl Default for BlobConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from(".helpdesk/blobs"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxConfig {
    /// Turning the relay off leaves events in the outbox until a relay runs (ops and tests).
    pub relay_enabled: bool,
    pub batch_size: i64,
    /// How often the relay looks for rows written by other replicas.
    pub poll_interval_ms: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            relay_enabled: true,
            batch_size: 100,
            poll_interval_ms: 500,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Endpoints {
    pub identity: String,
    pub tickets: String,
    pub kb: String,
    pub mail: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            identity: "http://127.0.0.1:50051".into(),
            tickets: "http://127.0.0.1:50052".into(),
            kb: "http://127.0.0.1:50053".into(),
            mail: "http://127.0.0.1:50054".into(),
        }
    }
}

#[cfg(test)]
// figment's Jail fixes the closure's error type; its size is not ours to choose.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn the_listed_shared_sections_are_the_fields_of_the_shared_config() {
        let defaults = Figment::from(Serialized::defaults(SharedConfig::default()));
        let sections: Vec<String> = defaults.extract::<Dict>().expect("defaults").into_keys().collect();
        let mut listed = SharedConfig::SECTIONS.map(String::from).to_vec();
        listed.sort();
        assert_eq!(sections, listed);
    }

    #[test]
    fn a_misspelt_key_in_a_shared_section_is_refused_naming_key_section_and_file() {
        figment::Jail::expect_with(|jail| {
            // The stack's `HELPDESK_…` variables (the test command exports them) are not this test's.
            jail.clear_env();
            jail.create_file("helpdesk.toml", "[database]\nmax_conections = 3\n")?;
            let error = Sources::read(Some(Path::new("helpdesk.toml"))).and_then(|s| s.shared()).expect_err("refused").to_string();
            assert!(error.contains("unknown key `max_conections` in section `database` of "), "{error}");
            assert!(error.contains("helpdesk.toml"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn a_variable_naming_an_unknown_section_is_refused_by_name() {
        figment::Jail::expect_with(|jail| {
            // The stack's `HELPDESK_…` variables (the test command exports them) are not this test's.
            jail.clear_env();
            jail.set_env("HELPDESK_DATABSE__URL", "postgres://x/y");
            let error = Sources::read(None).and_then(|s| s.refuse_unknown_sections(&["gateway"])).expect_err("refused").to_string();
            assert!(error.contains("unknown section `databse` of environment variable HELPDESK_DATABSE__URL"), "{error}");
            assert!(error.contains("`gateway`"), "{error}");
            Ok(())
        });
    }
}
