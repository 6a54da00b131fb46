//! The one configuration tree: kit's shared sections and every part's own section, each section
//! typed by the crate that uses it (`helpdesk_gateway::GatewayConfig` …). It lives here because
//! only the binary knows every part. It is read once — defaults in code, then the optional TOML
//! file, then `HELPDESK_<SECTION>__<KEY>` variables — and a key or section nobody knows stops the
//! start with a message that names it and where it was set.

use std::path::Path;

use helpdesk_kit::config::{ConfigError, SharedConfig, Sources};

use crate::serve::Part;

#[derive(Debug, Clone, Default)]
pub struct HelpdeskConfig {
    /// `[database]`, `[nats]`, `[auth]`, `[blob]`, `[outbox]`, `[endpoints]`.
    pub shared: SharedConfig,
    pub identity: helpdesk_identity::IdentityConfig,
    pub tickets: helpdesk_tickets::TicketsConfig,
    pub kb: helpdesk_kb::KbConfig,
    /// The mail part: its admin gRPC, SMTP out, the mailboxes it reads.
    pub mail: helpdesk_mail::MailConfig,
    /// The chat part: the Discord bot (off without a bot token).
    pub chat: helpdesk_chat::ChatConfig,
    pub gateway: helpdesk_gateway::GatewayConfig,
}

impl HelpdeskConfig {
    /// Defaults, then `file` if given (it must exist), then the environment. A part's section is
    /// named like the part.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let sources = Sources::read(file)?;
        sources.refuse_unknown_sections(&Part::ALL.map(Part::name))?;
        Ok(Self {
            shared: sources.shared()?,
            identity: sources.section(Part::Identity.name())?,
            tickets: sources.section(Part::Tickets.name())?,
            kb: sources.section(Part::Kb.name())?,
            mail: sources.section(Part::Mail.name())?,
            chat: sources.section(Part::Chat.name())?,
            gateway: sources.section(Part::Gateway.name())?,
        })
    }
}

#[cfg(test)]
// figment's Jail fixes the closure's error type; its size is not ours to choose.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    fn load(file: Option<&str>) -> Result<HelpdeskConfig, String> {
        HelpdeskConfig::load(file.map(Path::new)).map_err(|e| e.to_string())
    }

    /// Runs `test` in figment's jail without the stack's `HELPDESK_…` variables, which the test
    /// command exports and which are not the test's.
    fn jailed(test: impl FnOnce(&mut figment::Jail) -> figment::error::Result<()>) {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            test(jail)
        });
    }

    #[test]
    fn environment_overrides_defaults_by_section_and_key() {
        jailed(|jail| {
            jail.set_env("HELPDESK_NATS__PREFIX", "staging");
            jail.set_env("HELPDESK_GATEWAY__LISTEN", "127.0.0.1:9999");
            let config = load(None)?;
            assert_eq!(config.shared.nats.prefix, "staging");
            assert_eq!(config.gateway.listen.port(), 9999);
            assert_eq!(config.tickets.listen.port(), 50052);
            Ok(())
        });
    }

    #[test]
    fn a_file_overrides_defaults_and_the_environment_overrides_the_file() {
        jailed(|jail| {
            jail.create_file("helpdesk.toml", "[nats]\nprefix = \"from-file\"\nurl = \"nats://x:1\"\n")?;
            jail.set_env("HELPDESK_NATS__URL", "nats://y:2");
            let config = load(Some("helpdesk.toml"))?;
            assert_eq!(config.shared.nats.prefix, "from-file");
            assert_eq!(config.shared.nats.url, "nats://y:2");
            Ok(())
        });
    }

    #[test]
    fn a_missing_config_file_is_an_error_not_silently_ignored() {
        jailed(|_jail| {
            assert!(load(Some("nope.toml")).is_err());
            Ok(())
        });
    }

    #[test]
    fn each_part_reads_its_own_keys_from_its_section_and_keeps_the_other_defaults() {
        jailed(|jail| {
            jail.create_file(
                "helpdesk.toml",
                "[gateway]\nsite_name = \"Acme\"\n[gateway.rate_limits.signups]\nburst = 3\n\
                 [identity]\nlisten = \"127.0.0.1:1\"\n[mail]\nsmtp_port = 2525\n",
            )?;
            jail.set_env("HELPDESK_KB__WORD_VECTORS", "/vectors.hdwv");
            let config = load(Some("helpdesk.toml"))?;
            assert_eq!(config.gateway.site_name, "Acme");
            assert_eq!(config.gateway.listen.port(), 8080);
            assert_eq!(config.gateway.rate_limits.signups.burst, 3);
            assert_eq!(config.gateway.rate_limits.signups.refill_secs, 60);
            assert_eq!(config.identity.listen.port(), 1);
            assert_eq!(config.mail.smtp_port, 2525);
            assert_eq!(config.mail.listen.port(), 50054);
            assert_eq!(config.kb.word_vectors.as_deref(), Some(Path::new("/vectors.hdwv")));
            Ok(())
        });
    }

    /// The refusal of a config file `name` holding `contents`; it must name the file.
    fn refusal(jail: &figment::Jail, name: &str, contents: &str) -> figment::error::Result<String> {
        jail.create_file(name, contents)?;
        let error = load(Some(name)).expect_err("refused");
        assert!(error.contains(name), "{error}");
        Ok(error)
    }

    #[test]
    fn a_misspelt_gateway_key_is_refused_naming_the_key_the_section_and_the_file() {
        jailed(|jail| {
            let error = refusal(jail, "helpdesk.toml", "[gateway]\nsitename = \"Acme\"\n")?;
            assert!(error.starts_with("unknown key `sitename` in section `gateway` of "), "{error}");
            assert!(error.contains("helpdesk.toml; expected one of `listen`"), "{error}");
            assert!(error.contains("`site_name`"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn a_misspelt_key_in_a_nested_table_or_another_section_is_refused_too() {
        jailed(|jail| {
            let error = refusal(jail, "nested.toml", "[gateway.rate_limits.signups]\nburst = 1\nrefil_secs = 5\n")?;
            assert!(error.contains("unknown key `refil_secs` in section `gateway.rate_limits.signups` of "), "{error}");
            let error = refusal(jail, "mail.toml", "[mail]\nsmtp_hots = \"relay\"\n")?;
            assert!(error.contains("unknown key `smtp_hots` in section `mail` of "), "{error}");
            let error = refusal(jail, "sso.toml", "[[identity.sso]]\nid = \"acme\"\nclient_idd = \"x\"\n")?;
            assert!(error.contains("unknown key `client_idd` in section `identity.sso.0` of "), "{error}");
            let error = refusal(jail, "sections.toml", "[gatway]\nlisten = \"127.0.0.1:1\"\n")?;
            assert!(error.contains("unknown section `gatway` of ") && error.contains("`gateway`"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn a_variable_naming_an_unknown_key_is_refused_by_its_name() {
        jailed(|jail| {
            jail.set_env("HELPDESK_GATEWAY__SITECONFIG", "Acme");
            let error = load(None).expect_err("refused");
            assert!(
                error.starts_with("unknown key `siteconfig` in section `gateway` of environment variable HELPDESK_GATEWAY__SITECONFIG"),
                "{error}"
            );
            Ok(())
        });
    }

    #[test]
    fn a_bad_value_names_its_key_and_its_variable() {
        jailed(|jail| {
            jail.set_env("HELPDESK_TICKETS__INBOUND_CONCURRENCY", "many");
            let error = load(None).expect_err("refused");
            assert!(error.contains("for key `inbound_concurrency` in section `tickets`"), "{error}");
            assert!(error.contains("environment variable HELPDESK_TICKETS__INBOUND_CONCURRENCY"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn the_stack_and_test_variables_are_not_configuration() {
        jailed(|jail| {
            jail.set_env("HELPDESK_TEST_DATABASE_URL", "postgres://elsewhere/postgres");
            jail.set_env("HELPDESK_STACK_NATS_BIN", "/usr/bin/nats-server");
            jail.set_env("HELPDESK_CONFIG", "helpdesk.toml");
            let config = load(None)?;
            assert_eq!(config.shared.nats.prefix, "helpdesk");
            Ok(())
        });
    }
}
