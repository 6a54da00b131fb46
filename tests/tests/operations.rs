//! What operators touch: every gRPC server answers health checks and reflection to a client that
//! is not ours (Python grpcio), and the CLI issues a token the gateway accepts.

use helpdesk_tests::{TestEnv, http};
use serde_json::Value;

#[tokio::test]
async fn every_grpc_server_is_serving_and_reflects_its_services_to_an_outside_client() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let python = std::env::var(helpdesk_tests::stack_env::HELPDESK_STACK_PYTHON).expect("the stack's python (set by deploy/test.sh)");
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
            "tickets" => &["helpdesk.tickets.v1.TicketAdminService", "helpdesk.tickets.v1.TicketService"],
            "mail" => &["helpdesk.mail.v1.MailAdminService"],
            _ => &["helpdesk.kb.v1.KbService"],
        };
        let mut services = services;
        services.sort();
        assert_eq!(services, expected, "{part}");
    }
    server.stop().await.expect("clean shutdown");
}

/// The `helpdesk` binary as a CLI pointed at a running child server.
fn cli(env: &TestEnv, child: &helpdesk_tests::ChildServer, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_helpdesk-under-test"));
    command
        .args(args)
        .envs(env.child_env())
        .env("HELPDESK_ENDPOINTS__IDENTITY", &child.identity)
        .env("HELPDESK_ENDPOINTS__TICKETS", &child.tickets)
        .env("HELPDESK_ENDPOINTS__KB", &child.kb)
        .env("RUST_LOG", "error");
    command
}

async fn run_ok(mut command: tokio::process::Command) -> String {
    let output = command.output().await.expect("cli");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf8")
}

#[tokio::test]
async fn agents_work_a_ticket_from_the_cli() {
    let env = TestEnv::new().await;
    let child = env.spawn_process(env!("CARGO_BIN_EXE_helpdesk-under-test"), &[]).await;
    let cli = |args: &[&str]| cli(&env, &child, args);
    run_ok(cli(&["token", "contact", "jo@example.com", "--create"])).await;
    run_ok(cli(&["tickets", "create", "--as", "jo@example.com", "--subject", "Broken login", "--message", "help"])).await;

    let queue = run_ok(cli(&["agent", "queue", "--queue", "unassigned"])).await;
    assert!(queue.starts_with("#1001\tOpen\tNormal\tBroken login"), "{queue}");
    // An assignee must be an active staff member (issue 11), so make one first.
    let assignee = run_ok(cli(&["staff", "add", "--name", "Sam Agent", "--email", "sam@example.com", "--role", "agent"])).await;
    let assignee = assignee.trim().to_string();
    let set = run_ok(cli(&["agent", "set", "1001", "--status", "waiting", "--priority", "high", "--assignee", &assignee, "--due", "2030-01-01T09:00:00Z"])).await;
    assert_eq!(set.trim(), "#1001 Waiting on customer");
    run_ok(cli(&["agent", "note", "1001", "--message", "checked the logs"])).await;
    run_ok(cli(&["agent", "reply", "1001", "--message", "Please try again now."])).await;
    run_ok(cli(&["agent", "log-time", "1001", "--minutes", "15"])).await;
    let shown = run_ok(cli(&["agent", "show", "1001"])).await;
    for expected in ["status: Waiting on customer", "--- internal_note ---\nchecked the logs", "--- reply ---\nPlease try again now.", "--- system ---\nStatus changed to Waiting on customer"] {
        assert!(shown.contains(expected), "{expected:?} in {shown}");
    }
    let unassigned = run_ok(cli(&["agent", "queue", "--queue", "unassigned"])).await;
    assert!(unassigned.is_empty(), "assigned now: {unassigned}");

    let bad = cli(&["agent", "set", "1001", "--status", "no_such_status"]).output().await.expect("cli");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("status_id: is not a status"), "{}", String::from_utf8_lossy(&bad.stderr));
    let missing = cli(&["agent", "show", "4242"]).output().await.expect("cli");
    assert!(String::from_utf8_lossy(&missing.stderr).contains("ticket not found"));

    child.kill().await;
}

#[tokio::test]
async fn the_cli_issues_a_contact_token_that_the_gateway_accepts() {
    let env = TestEnv::new().await;
    let child = env.spawn_process(env!("CARGO_BIN_EXE_helpdesk-under-test"), &[]).await;
    let cli = |args: &[&str]| cli(&env, &child, args);

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
}
