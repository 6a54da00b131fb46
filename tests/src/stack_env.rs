//! The names of the environment variables the local stack exports (`deploy/stack.sh env`) and the
//! harness reads. Their one definition is `deploy/stack/variables`: `stack.sh` refuses to export a
//! name that is not there, and the unit tests below check every constant here against it (and
//! that the browser tests read Chromium's path by the same name), so a renamed variable fails the
//! build's tests instead of a test run far away with "… is not set".

macro_rules! stack_variables {
    ($($name:ident)*) => {
        $(
            #[doc = concat!("`", stringify!($name), "`, as deploy/stack/variables declares and explains it.")]
            pub const $name: &str = stringify!($name);
        )*
        /// Every name above, for the tests.
        #[cfg(test)]
        const ALL: &[&str] = &[$($name),*];
    };
}

// The names the harness reads, each a constant of the same name.
stack_variables! {
    HELPDESK_TEST_DATABASE_URL HELPDESK_TEST_NATS_URL HELPDESK_STACK_NATS_BIN HELPDESK_STACK_PYTHON
    HELPDESK_KB__WORD_VECTORS HELPDESK_TEST_SMTP_MAILDIR HELPDESK_TEST_OIDC_ISSUER HELPDESK_TEST_IMAP_PORT
    HELPDESK_TEST_IMAP_PASSWORD HELPDESK_TEST_IMAPS_PORT HELPDESK_TEST_IMAP_CA HD_CHROMIUM
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `deploy/stack/variables`: `NAME DIR DEFAULT MEANING` a line, `#` comments.
    const VARIABLES: &str = include_str!("../../deploy/stack/variables");

    /// The names `deploy/stack/variables` marks `out` (exported by `stack.sh env`).
    fn exported() -> Vec<&'static str> {
        VARIABLES
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let name = fields.next()?;
                (fields.next() == Some("out")).then_some(name)
            })
            .collect()
    }

    #[test]
    fn every_name_the_harness_reads_is_one_the_stack_exports() {
        let exported = exported();
        for name in ALL {
            assert!(exported.contains(name), "{name} is not an `out` variable in deploy/stack/variables");
        }
    }

    #[test]
    fn the_browser_tests_read_chromium_by_the_same_name() {
        let portal = include_str!("../browser/lib/portal.mjs");
        assert!(portal.contains(&format!("process.env.{HD_CHROMIUM}")), "tests/browser/lib/portal.mjs reads {HD_CHROMIUM}");
    }
}
