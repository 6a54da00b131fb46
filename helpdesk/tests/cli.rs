//! The binary's refusals at start, before it touches the network: no part to serve, and a
//! configuration with a key nobody knows. Run with a cleared environment, so the stack's
//! `HELPDESK_…` variables play no part.

use std::process::{Command, Output};

fn helpdesk(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_helpdesk"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("run the helpdesk binary")
}

fn refusal(output: &Output) -> String {
    assert!(!output.status.success(), "the command should fail: {output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn serve_without_a_part_is_refused_with_the_list_of_parts() {
    let stderr = refusal(&helpdesk(&["serve"], &[]));
    assert!(stderr.contains("name the parts to serve: all, identity, tickets, kb, mail, chat or gateway"), "{stderr}");
}

#[test]
fn a_config_file_with_a_misspelt_key_stops_the_start_naming_the_key_and_the_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("helpdesk.toml");
    std::fs::write(&file, "[gateway]\nsitename = \"Acme\"\n").expect("write the config file");
    let stderr = refusal(&helpdesk(&["--config", file.to_str().expect("utf-8 path"), "serve", "all"], &[]));
    let expected = format!("helpdesk: configuration: unknown key `sitename` in section `gateway` of {}", file.display());
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn a_misspelt_variable_stops_the_start_naming_the_variable() {
    let stderr = refusal(&helpdesk(&["serve", "all"], &[("HELPDESK_GATEWAY__SITECONFIG", "Acme")]));
    assert!(
        stderr.contains("unknown key `siteconfig` in section `gateway` of environment variable HELPDESK_GATEWAY__SITECONFIG"),
        "{stderr}"
    );
}
