//! The contact portal in headless Chromium: one test that starts the help desk in this process
//! (plain-HTTP cookies, the stack's OpenID provider as SSO), seeds the scenario through the real
//! gRPC APIs (`helpdesk_tests::portal_seed`), then runs every `tests/browser/*.test.mjs` under
//! `node --test` against it and fails with node's output when any browser test fails or none ran.
//!
//! One Rust test for all browser files, because one server and one seed serve them all and the
//! browser files run one after another anyway (Chromium and the build share two cores).
//! `HD_BROWSER_FILTER=<pattern>` runs only the browser tests whose names match
//! (`--test-name-pattern`). Missing node, Chromium or tests/browser/node_modules fails with the
//! command that installs them: a browser test that silently skips proves nothing.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use helpdesk::config::HelpdeskConfig;
use helpdesk_identity::SsoProviderConfig;
use helpdesk_tests::{TestEnv, portal_seed};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::Command,
    sync::mpsc,
};

/// The whole browser run, bounded; `HD_BROWSER_TIMEOUT_SECS` overrides it.
const DEFAULT_TIMEOUT_SECS: u64 = 30 * 60;
/// Where identity's links (activation, reset) and SSO redirects point: the address registered at
/// the stack's OpenID provider. The browser tests map it onto the test gateway's real port.
const PORTAL_URL: &str = "http://127.0.0.1:8080";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the tests crate is in the workspace").to_path_buf()
}

/// node, Chromium and the browser tests' npm packages, or a panic saying how to get them.
fn preflight(browser_dir: &Path) -> String {
    let fix = "run deploy/stack.sh up (it installs Debian's chromium and runs npm ci in tests/browser)";
    let node = std::process::Command::new("node").arg("--version").output();
    assert!(matches!(&node, Ok(out) if out.status.success()), "node is missing: {fix}");
    let chromium = std::env::var(helpdesk_tests::stack_env::HD_CHROMIUM).unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(Path::new(&chromium).is_file(), "Chromium is missing at {chromium}: {fix}");
    for package in ["playwright-core", "@axe-core/playwright", "@grpc/grpc-js", "@grpc/proto-loader"] {
        let manifest = browser_dir.join("node_modules").join(package).join("package.json");
        assert!(manifest.is_file(), "{} is missing: {fix}", manifest.display());
    }
    chromium
}

fn part_settings(env: &TestEnv) -> HelpdeskConfig {
    let mut settings = env.config.clone();
    // The browser talks plain HTTP to 127.0.0.1, where it refuses `Secure` / `__Host-` cookies.
    settings.gateway.cookie_secure = false;
    // The walk signs up and files as a guest many times from one address, in minutes.
    for rate in [&mut settings.gateway.rate_limits.signups, &mut settings.gateway.rate_limits.guest_tickets] {
        rate.burst = 1000;
        rate.refill_secs = 1;
    }
    let issuer = std::env::var(helpdesk_tests::stack_env::HELPDESK_TEST_OIDC_ISSUER)
        .expect("the OpenID provider's issuer: run the tests with deploy/test.sh, which starts it");
    settings.identity.portal_url = PORTAL_URL.into();
    settings.identity.sso = vec![SsoProviderConfig {
        id: portal_seed::SSO_PROVIDER.into(),
        display_name: portal_seed::SSO_NAME.into(),
        issuer,
        client_id: "helpdesk-test".into(),
        client_secret: "helpdesk-test-secret".into(),
        ..Default::default()
    }];
    settings
}

/// Forwards each line of `stream` to the test's output and to `lines`.
fn forward(stream: impl AsyncRead + Unpin + Send + 'static, lines: mpsc::UnboundedSender<String>) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            println!("{line}");
            if lines.send(line).is_err() {
                break;
            }
        }
    });
}

/// `pass N` / `fail N` from node's closing summary (spec: `ℹ pass 3`, tap: `# pass 3`).
fn summary(output: &str, key: &str) -> Option<u64> {
    output.lines().rev().find_map(|line| {
        let rest = line.trim_start_matches(['ℹ', '#', ' ']);
        rest.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_works_in_headless_chromium() {
    let root = workspace_root();
    let browser_dir = root.join("tests/browser");
    let chromium = preflight(&browser_dir);

    let mut env = TestEnv::new().await;
    // Agent actions and settings use one staff token for the whole run.
    env.config.shared.auth.token_ttl_secs = 2 * 3600;
    let server = env.start_with(part_settings(&env)).await;
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let seed = portal_seed::seed(&env, &server, &run).await.expect("seed the portal scenario");

    let screenshots = std::env::var("HD_SCREENSHOTS").map(PathBuf::from).unwrap_or_else(|_| root.join("target/browser-screenshots"));
    let mut command = Command::new("node");
    command.args(["--test", "--test-concurrency=1", "--test-reporter=spec"]);
    // Set but empty means no filter, as unset does (node refuses an empty pattern).
    if let Some(filter) = std::env::var("HD_BROWSER_FILTER").ok().filter(|f| !f.is_empty()) {
        command.arg(format!("--test-name-pattern={filter}"));
    }
    command
        .current_dir(&browser_dir)
        .env("HD_BASE_URL", &server.gateway)
        .env("HD_PORTAL_URL", PORTAL_URL)
        .env("HD_SEED", seed.to_json().to_string())
        .env("HD_STAFF_TOKEN", &seed.staff_token)
        .env("HD_IDENTITY_GRPC", &server.config.shared.endpoints.identity)
        .env("HD_TICKETS_GRPC", &server.config.shared.endpoints.tickets)
        .env("HD_KB_GRPC", &server.config.shared.endpoints.kb)
        .env("HD_OIDC_ISSUER", std::env::var(helpdesk_tests::stack_env::HELPDESK_TEST_OIDC_ISSUER).unwrap_or_default())
        .env("HD_SMTP_MAILDIR", std::env::var(helpdesk_tests::stack_env::HELPDESK_TEST_SMTP_MAILDIR).expect("the SMTP sink's Maildir"))
        .env("HD_SCREENSHOTS", &screenshots)
        .env("HD_PROTO_DIR", root.join("proto"))
        .env(helpdesk_tests::stack_env::HD_CHROMIUM, chromium)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("start node --test");
    let (lines, mut received) = mpsc::unbounded_channel();
    forward(child.stdout.take().expect("stdout"), lines.clone());
    forward(child.stderr.take().expect("stderr"), lines);

    let limit = std::env::var("HD_BROWSER_TIMEOUT_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_TIMEOUT_SECS);
    let status = tokio::time::timeout(Duration::from_secs(limit), child.wait()).await;
    let mut output = String::new();
    // The forwarders end when node's pipes close; wait for them (briefly) to collect the tail.
    let drain = async {
        while let Some(line) = received.recv().await {
            output.push_str(&line);
            output.push('\n');
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), drain).await;
    let status = match status {
        Ok(status) => status.expect("node --test"),
        Err(_) => {
            let _ = child.kill().await;
            panic!("the browser tests did not finish within {limit} s; their output:\n{output}");
        }
    };

    // A filter that matches nothing still "passes" in node (every test skipped): count passes.
    let failed = summary(&output, "fail");
    let passed = summary(&output, "pass");
    assert!(status.success() && failed == Some(0), "browser tests failed ({status}); node's output:\n{output}");
    assert!(
        passed.unwrap_or(0) > 0,
        "node passed no browser tests (filter {:?}); its output:\n{output}",
        std::env::var("HD_BROWSER_FILTER").ok()
    );
    println!("browser screenshots: {}", screenshots.display());

    server.stop().await.expect("stop");
}
