//! What operators touch: every gRPC server answers health checks and reflection to a client that
//! is not ours (Python grpcio), and the CLI issues a token the gateway accepts.

use helpdesk_tests::{TestEnv, http};
use serde_json::Value;

#[tokio::test]
async fn every_grpc_server_is_serving_and_reflects_its_services_to_an_outside_client() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let python = std::env::var("HELPDESK_STACK_PYTHON").expect("HELPDESK_STACK_PYTHON is set by deploy/test.sh");
    let probe = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/grpc_probe.py");
    for (part, addr) in server.grpc_addrs() {
        let output = tokio::process::Command::new(&python)
            .arg(probe)
            .arg(&addr)
            .output()
            .await
            .expect("run the probe");
        assert!(
            output.status.success(),
            "{part}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let report: Value = serde_json::from_slice(&output.stdout).expect("probe JSON");
        assert_eq!(report["overall"], "SERVING", "{part}");
        let services: Vec<&str> = report["services"].as_object().expect("services").keys().map(String::as_str).collect();
        let expected: &[&str] = match part.name() {
            "identity" => &[
                "helpdesk.identity.v1.AccountService",
                "helpdesk.identity.v1.ContactService",
                "helpdesk.identity.v1.GroupService",
                "helpdesk.identity.v1.SettingsService",
                "helpdesk.identity.v1.SsoService",
                "helpdesk.identity.v1.StaffService",
                "helpdesk.identity.v1.TokenService",
            ],
            "tickets" => &["helpdesk.tickets.v1.TicketService"],
            _ => &["helpdesk.kb.v1.KbService"],
        };
        let mut services = services;
        services.sort();
        assert_eq!(services, expected, "{part}");
    }
    server.stop().await.expect("clean shutdown");
    env.cleanup().await;
}

#[tokio::test]
async fn the_cli_issues_a_contact_token_that_the_gateway_accepts() {
    let env = TestEnv::new().await;
    let child = env.spawn_process(env!("CARGO_BIN_EXE_helpdesk-under-test"), &[]).await;
    let cli = |args: &[&str]| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_helpdesk-under-test"));
        command
            .args(args)
            .envs(env.child_env())
            .env("HELPDESK_ENDPOINTS__IDENTITY", &child.identity)
            .env("HELPDESK_ENDPOINTS__TICKETS", &child.tickets)
            .env("HELPDESK_ENDPOINTS__KB", &child.kb)
            .env("RUST_LOG", "error");
        command
    };

    let unknown = cli(&["token", "contact", "ivy@example.com"]).output().await.expect("cli");
    assert!(!unknown.status.success(), "no token for an address that is no contact");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not found"));

    let output = cli(&["token", "contact", "ivy@example.com", "--create"]).output().await.expect("cli");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let token = String::from_utf8(output.stdout).expect("utf8").trim().to_string();

    let created = cli(&["tickets", "create", "--as", "ivy@example.com", "--subject", "From the CLI", "--message", "hi"])
        .output()
        .await
        .expect("cli");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    assert!(String::from_utf8_lossy(&created.stdout).starts_with("#1001"));

    let list: Value = http()
        .get(format!("{}/api/v1/tickets", child.gateway))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(list["tickets"][0]["subject"], "From the CLI");

    child.kill().await;
    env.cleanup().await;
}
