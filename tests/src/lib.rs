//! Test harness for the end-to-end tests: each test gets a fresh Postgres database, its own NATS
//! subject/stream prefix and its own key directory, on the stack `deploy/stack.sh` runs (the test
//! command exports `HELPDESK_TEST_DATABASE_URL` and `HELPDESK_TEST_NATS_URL`). The help desk runs
//! either in this process (`serve::start`) or as a real child process that a test can kill.
//! `mailbox` gives each test its own mailboxes on the stack's Dovecot; `client` is the one HTTP
//! client of the gateway (JSON API, pages, forms, uploads, cookies); `gateway` knows the
//! gateway's cookie names and signs a client up; `sso` signs in at the stack's OpenID provider;
//! `fake_issuer` forges the ID tokens that provider would never send; `chat` points the chat part
//! at the fake Discord of `discord` (REST and gateway, so serenity itself runs in the tests).
//!
//! A [`TestEnv`] removes its slice when dropped — also when the test panics — and the first one
//! in a process sweeps what crashed runs left (`cleanup`); every wait goes through `wait`, which
//! fails loudly on timeout. With `TEST_LOG=1` the services' logs (filtered by `RUST_LOG`, `info`
//! by default) go to the test's output, which nextest shows for a failing test.

pub mod bench_seed;
pub mod chat;
pub mod cleanup;
pub mod client;
pub mod discord;
pub mod fake_issuer;
pub mod gateway;
pub mod mailbox;
pub mod portal_seed;
pub mod smtp_peer;
pub mod sso;
pub mod stack_env;
pub mod wait;

pub use client::Client;
pub use wait::{eventually, wait_until, within};

use std::{net::SocketAddr, process::Stdio, time::Duration};

use anyhow::Context;
use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;
use helpdesk::{
    cli::Clients,
    config::HelpdeskConfig,
    serve::{self, Part, Running},
};
use helpdesk_kit::{CancellationToken, nats::Subjects};
use helpdesk_kit::auth::bearer;
use helpdesk_proto::{
    events::v1::Event,
    identity::v1::{GetPortalSettingsRequest, PortalSettings, UpdatePortalSettingsRequest, settings_service_client::SettingsServiceClient},
};
use prost::Message;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with deploy/test.sh, which starts Postgres and NATS and sets it")
    })
}

/// One test's private slice of the stack; dropping it removes the slice (database, NATS streams
/// and buckets, key directory), whether the test passed or panicked.
pub struct TestEnv {
    pub config: HelpdeskConfig,
    admin_url: String,
    database: String,
    owner: cleanup::Owner,
    _keys: tempfile::TempDir,
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        cleanup::Slice { admin_url: self.admin_url.clone(), nats_url: self.config.shared.nats.url.clone(), owner: self.owner.clone() }
            .remove_blocking();
    }
}

impl TestEnv {
    pub async fn new() -> Self {
        install_tls_provider();
        install_test_log();
        let admin_url = required_env(stack_env::HELPDESK_TEST_DATABASE_URL);
        let nats_url = required_env(stack_env::HELPDESK_TEST_NATS_URL);
        cleanup::sweep_once(&admin_url, &nats_url).await;
        let owner = cleanup::Owner::new();
        let database = owner.database();
        let mut admin = PgConnection::connect(&admin_url).await.expect("connect to the test Postgres");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{database}\"")))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        let keys = tempfile::Builder::new()
            .prefix(&owner.key_dir_prefix())
            .tempdir()
            .expect("temporary key directory");

        // The stack's settings (`deploy/stack.sh env`: word vectors, SMTP sink), as `serve all`
        // would read them; then this test's own slice of the stack.
        let mut config = HelpdeskConfig::load(None).expect("configuration from the environment");
        let shared = &mut config.shared;
        shared.database.url = database_url(&admin_url, &database).into();
        shared.database.max_connections = 5;
        shared.nats.url = nats_url;
        shared.nats.prefix = owner.nats_prefix();
        shared.auth.key_dir = keys.path().to_path_buf();
        shared.blob.dir = keys.path().join("blobs");
        shared.outbox.poll_interval_ms = 100;
        let any_port: SocketAddr = "127.0.0.1:0".parse().expect("address");
        config.identity.listen = any_port;
        config.tickets.listen = any_port;
        config.kb.listen = any_port;
        config.mail.listen = any_port;
        config.chat.listen = any_port;
        config.gateway.listen = any_port;
        Self {
            config,
            admin_url,
            database,
            owner,
            _keys: keys,
        }
    }

    /// The name of this test's database.
    pub fn database(&self) -> &str {
        &self.database
    }

    pub fn subjects(&self) -> Subjects {
        Subjects::new(&self.config.shared.nats.prefix)
    }

    /// Runs every part in this process.
    pub async fn start(&self) -> Server {
        self.start_with(self.config.clone()).await
    }

    /// Runs every part in this process with `config`: a changed copy of `self.config` (SSO
    /// providers, cookies …).
    pub async fn start_with(&self, mut config: HelpdeskConfig) -> Server {
        let shutdown = CancellationToken::new();
        let parts = serve::parse_parts(&["all".to_string()], config.chat.enabled()).expect("all parts");
        let running = serve::start(config.clone(), &parts, shutdown.clone()).await.expect("serve all starts");
        let endpoints = &mut config.shared.endpoints;
        endpoints.identity = running.url(Part::Identity).expect("identity runs");
        endpoints.tickets = running.url(Part::Tickets).expect("tickets runs");
        endpoints.kb = running.url(Part::Kb).expect("kb runs");
        endpoints.mail = running.url(Part::Mail).expect("mail runs");
        Server {
            clients: Clients::connect(&config.shared).expect("clients"),
            gateway: running.url(Part::Gateway).expect("gateway runs"),
            config,
            running: Some(running),
            shutdown,
        }
    }

    /// The environment that points a child `helpdesk` process at this test's slice of the stack.
    pub fn child_env(&self) -> Vec<(String, String)> {
        let c = &self.config.shared;
        vec![
            ("HELPDESK_DATABASE__URL".into(), database_url(&self.admin_url, &self.database)),
            ("HELPDESK_NATS__URL".into(), c.nats.url.clone()),
            ("HELPDESK_NATS__PREFIX".into(), c.nats.prefix.clone()),
            ("HELPDESK_AUTH__KEY_DIR".into(), c.auth.key_dir.display().to_string()),
            ("HELPDESK_BLOB__DIR".into(), c.blob.dir.display().to_string()),
            ("HELPDESK_OUTBOX__POLL_INTERVAL_MS".into(), "100".into()),
            ("HELPDESK_IDENTITY__LISTEN".into(), "127.0.0.1:0".into()),
            ("HELPDESK_TICKETS__LISTEN".into(), "127.0.0.1:0".into()),
            ("HELPDESK_KB__LISTEN".into(), "127.0.0.1:0".into()),
            ("HELPDESK_MAIL__LISTEN".into(), "127.0.0.1:0".into()),
            ("HELPDESK_CHAT__LISTEN".into(), "127.0.0.1:0".into()),
            ("HELPDESK_GATEWAY__LISTEN".into(), "127.0.0.1:0".into()),
        ]
    }

    /// Starts `helpdesk serve all` as a child process and waits until it prints `helpdesk ready`.
    /// `binary` is `env!("CARGO_BIN_EXE_helpdesk-under-test")`, which only integration tests see.
    pub async fn spawn_process(&self, binary: &str, extra_env: &[(&str, &str)]) -> ChildServer {
        self.spawn_parts(binary, &["all"], extra_env).await
    }

    /// Starts `helpdesk serve <parts>` as a child process, like [`Self::spawn_process`]; the
    /// addresses of parts it does not serve are empty (point it at others with
    /// `HELPDESK_ENDPOINTS__…` in `extra_env`).
    pub async fn spawn_parts(&self, binary: &str, parts: &[&str], extra_env: &[(&str, &str)]) -> ChildServer {
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .args(parts)
            .envs(self.child_env())
            .envs(extra_env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .env("RUST_LOG", child_log_filter())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("start the helpdesk binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut urls = Vec::new();
        let ready = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.expect("read child stdout") {
                if line == "helpdesk ready" {
                    return true;
                }
                // "<part> listening on http://<addr> (<kind>)"
                let words: Vec<&str> = line.split_whitespace().collect();
                if let [part, "listening", "on", url, ..] = words.as_slice() {
                    urls.push((part.to_string(), url.to_string()));
                }
            }
            false
        })
        .await;
        assert_eq!(ready, Ok(true), "the helpdesk process did not become ready");
        let url_of = |part: &str| {
            let url = urls.iter().find(|(p, _)| p == part).map(|(_, u)| u.clone());
            assert!(url.is_some() || !parts.contains(&"all"), "the process printed no address for {part}");
            url.unwrap_or_default()
        };
        ChildServer {
            gateway: url_of("gateway"),
            identity: url_of("identity"),
            tickets: url_of("tickets"),
            kb: url_of("kb"),
            child,
        }
    }

    /// A pool on the test database with no schema preset: tests name `tickets.tickets` etc.
    pub async fn pg(&self) -> PgPool {
        PgPool::connect(&database_url(&self.admin_url, &self.database))
            .await
            .expect("connect to the test database")
    }

    pub async fn jetstream(&self) -> jetstream::Context {
        let client = async_nats::connect(&self.config.shared.nats.url).await.expect("connect to NATS");
        jetstream::new(client)
    }

    /// Every event on `subject` currently in the events stream, oldest first, with its
    /// `Nats-Msg-Id`.
    pub async fn events_on(&self, subject: &str) -> Vec<(Option<String>, Event)> {
        let js = self.jetstream().await;
        let stream = js
            .get_stream(self.subjects().events_stream())
            .await
            .expect("the events stream exists");
        let consumer = stream
            .create_consumer(pull::Config {
                filter_subject: subject.to_string(),
                ack_policy: jetstream::consumer::AckPolicy::None,
                inactive_threshold: Duration::from_secs(30),
                ..Default::default()
            })
            .await
            .expect("ephemeral consumer");
        let mut batch = consumer
            .fetch()
            .max_messages(1000)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .expect("fetch");
        let mut events = Vec::new();
        while let Some(message) = batch.next().await {
            let message = message.expect("message");
            let id = message
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Msg-Id"))
                .map(|v| v.as_str().to_string());
            events.push((id, Event::decode(message.payload.as_ref()).expect("an Event")));
        }
        events
    }

    /// Waits (bounded) until `check` holds for the events on `subject`.
    pub async fn wait_for_events(
        &self,
        subject: &str,
        check: impl Fn(&[(Option<String>, Event)]) -> bool,
    ) -> Vec<(Option<String>, Event)> {
        let what = format!("the events on {subject} are as expected");
        wait_until(Duration::from_secs(20), &what, async || self.events_on(subject).await, |events| check(events)).await
    }

    /// Publishes an event as its owning service would (used to play identity's group and
    /// settings events to tickets).
    pub async fn publish_event(&self, payload: helpdesk_proto::events::v1::event::Payload) {
        let event = helpdesk_kit::events::new_event(payload.clone());
        let subject = helpdesk_kit::events::subject_of(&self.subjects(), &payload);
        let message = async_nats::jetstream::message::PublishMessage::build()
            .message_id(event.id.clone())
            .payload(event.encode_to_vec().into());
        self.jetstream()
            .await
            .send_publish(subject, message)
            .await
            .expect("publish")
            .await
            .expect("stream ack");
    }

    /// Publishes an inbound payload as a channel would (optionally with a `Nats-Msg-Id`); returns
    /// the stream sequence the server acknowledged.
    pub async fn publish_inbound(&self, payload: Vec<u8>, msg_id: Option<&str>) -> u64 {
        let mut publish = async_nats::jetstream::message::PublishMessage::build().payload(payload.into());
        if let Some(id) = msg_id {
            publish = publish.message_id(id);
        }
        self.jetstream()
            .await
            .send_publish(self.subjects().inbound("email", "support@example.com"), publish)
            .await
            .expect("publish")
            .await
            .expect("stream ack")
            .sequence
    }

    /// Waits (bounded) until tickets' inbound consumer has acknowledged everything up to `sequence`.
    pub async fn wait_inbound_consumed(&self, sequence: u64) {
        let js = self.jetstream().await;
        let stream = js.get_stream(self.subjects().inbound_stream()).await.expect("inbound stream");
        let mut consumer: async_nats::jetstream::consumer::PullConsumer =
            stream.get_consumer(helpdesk_kit::nats::durable::TICKETS_INBOUND).await.expect("durable consumer");
        let what = format!("the inbound consumer acknowledged up to sequence {sequence} (ack floor, pending)");
        let observe = async || {
            let info = consumer.info().await.expect("consumer info");
            (info.ack_floor.stream_sequence, info.num_ack_pending)
        };
        wait_until(Duration::from_secs(10), &what, observe, |&(floor, pending)| floor >= sequence && pending == 0).await;
    }

    /// Barrier behind everything published to the inbound stream so far: waits until tickets'
    /// consumer has acknowledged the stream's last message.
    pub async fn wait_inbound_drained(&self) {
        let js = self.jetstream().await;
        let mut stream = js.get_stream(self.subjects().inbound_stream()).await.expect("inbound stream");
        let last = stream.info().await.expect("inbound stream info").state.last_sequence;
        self.wait_inbound_consumed(last).await;
    }

    /// Barrier for "no ticket mail went out": files a ticket by mail from a fresh sender and waits
    /// for its acknowledgement. Tickets takes inbound messages in order, the outbox publishes in
    /// order and mail handles ticket events in order, so once that acknowledgement is in the sink
    /// every ticket event before it has had its mail sent — or not.
    pub async fn ticket_mail_barrier(&self) {
        let sender = format!("sentinel-{}@barrier.example", uuid::Uuid::new_v4().simple());
        self.deliver_inbound(&inbound_mail(&sender, &sender, "Sentinel", &[])).await;
        wait_for_mail(&sender, 1).await;
    }

    /// Barrier for "no account mail went out": requests an account mail to a fresh address, as
    /// identity does, and waits for it; mail handles those requests in order.
    pub async fn account_mail_barrier(&self) {
        use helpdesk_proto::events::v1::{AccountMailKind, AccountMailRequested, event::Payload};
        let to = format!("sentinel-{}@barrier.example", uuid::Uuid::new_v4().simple());
        self.publish_event(Payload::AccountMailRequested(AccountMailRequested {
            kind: AccountMailKind::PasswordReset as i32,
            to_address: to.clone(),
            to_name: "Sentinel".into(),
            link: "http://127.0.0.1:8080/reset-password?token=sentinel".into(),
        }))
        .await;
        wait_for_mail(&to, 1).await;
    }

    /// Publishes an inbound message and waits until tickets has processed it.
    pub async fn deliver_inbound(&self, message: &helpdesk_proto::events::v1::InboundMessage) {
        let sequence = self.publish_inbound(message.encode_to_vec(), None).await;
        self.wait_inbound_consumed(sequence).await;
    }

    /// A token for an agent or admin, signed with this deployment's key as identity signs them.
    pub fn staff_token(&self, role: helpdesk_kit::auth::StaffRole) -> (uuid::Uuid, String) {
        let pem = helpdesk_kit::auth::keys::signing_pem(&self.config.shared.auth.key_dir).expect("signing key");
        let signer = helpdesk_kit::auth::TokenSigner::from_pem(&pem, Duration::from_secs(600)).expect("signer");
        let id = uuid::Uuid::new_v4();
        let (token, _) = signer
            .issue(&helpdesk_kit::auth::Caller::Staff { id, role })
            .expect("token");
        (id, token)
    }
}

fn database_url(admin_url: &str, database: &str) -> String {
    let (base, _) = admin_url.rsplit_once('/').expect("a database URL has a path");
    format!("{base}/{database}")
}

/// The help desk running in the test's process.
pub struct Server {
    pub config: HelpdeskConfig,
    pub clients: Clients,
    pub gateway: String,
    running: Option<Running>,
    shutdown: CancellationToken,
}

impl Server {
    /// A bearer token for a (new or existing) contact with this address.
    pub async fn contact_token(&self, email: &str) -> String {
        let id = self.clients.find_or_create_contact(email, "").await.expect("contact");
        self.clients
            .contact_token(helpdesk_proto::identity::v1::issue_contact_token_request::Contact::ContactId(id))
            .await
            .expect("contact token")
    }

    /// A channel to identity, for calling its services directly (with `service_token`).
    pub fn identity_channel(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(self.config.shared.endpoints.identity.clone())
            .expect("identity endpoint")
            .connect_lazy()
    }

    pub async fn service_token(&self) -> String {
        self.clients.service_token().await.expect("service token")
    }

    /// Changes the portal settings through identity, as an admin would: `change` edits what is
    /// set now.
    pub async fn change_portal_settings(&self, change: impl FnOnce(&mut PortalSettings)) {
        let service = self.service_token().await;
        let mut client = SettingsServiceClient::new(self.identity_channel());
        let request = bearer(GetPortalSettingsRequest {}, &service).expect("request");
        let mut settings = client.get_portal_settings(request).await.expect("portal settings").into_inner();
        change(&mut settings);
        let request = bearer(UpdatePortalSettingsRequest { settings: Some(settings) }, &service).expect("request");
        client.update_portal_settings(request).await.expect("update portal settings");
    }

    pub fn grpc_addrs(&self) -> Vec<(Part, String)> {
        let running = self.running.as_ref().expect("running");
        [Part::Identity, Part::Tickets, Part::Kb, Part::Mail]
            .into_iter()
            .filter_map(|p| running.addr(p).map(|a| (p, a.to_string())))
            .collect()
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let running = self.running.take().context("already stopped")?;
        tokio::time::timeout(Duration::from_secs(20), running.wait())
            .await
            .context("parts did not stop within 20 s")?
    }
}

/// The help desk running as a child process.
pub struct ChildServer {
    pub gateway: String,
    pub identity: String,
    pub tickets: String,
    pub kb: String,
    child: Child,
}

impl ChildServer {
    /// SIGKILL: no graceful shutdown, no chance to flush anything.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill the helpdesk process");
    }
}

/// A customer's mail as the mail channel publishes it (to support@example.com).
pub fn inbound_mail(id: &str, from: &str, subject: &str, refs: &[&str]) -> helpdesk_proto::events::v1::InboundMessage {
    use helpdesk_proto::events::v1::{InboundChannel, InboundMessage, Sender};
    InboundMessage {
        channel: InboundChannel::Email as i32,
        source: "support@example.com".into(),
        external_id: id.into(),
        sender: Some(Sender { address: from.into(), display_name: "Customer".into(), ..Default::default() }),
        subject: subject.into(),
        text: format!("text of {id}"),
        thread_refs: refs.iter().map(|r| r.to_string()).collect(),
        ..Default::default()
    }
}

/// With `TEST_LOG` set, sends the logs of the parts running in this process to the test's
/// output (the test writer, so nextest shows them for a failing test), filtered by `RUST_LOG`.
fn install_test_log() {
    if std::env::var_os("TEST_LOG").is_some() {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    }
}

/// A child process's `RUST_LOG`: the test's own with `TEST_LOG` set (its stderr is the test's),
/// otherwise warnings only.
fn child_log_filter() -> String {
    match std::env::var("RUST_LOG") {
        Ok(filter) if std::env::var_os("TEST_LOG").is_some() => filter,
        _ if std::env::var_os("TEST_LOG").is_some() => "info".into(),
        _ => "warn".into(),
    }
}

/// Picks rustls's crypto provider for this process, as the `helpdesk` binary does at start.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A bare reqwest client (redirects followed, no cookies) for probes of the HTTP edge that build
/// their requests by hand; everything else talks to the gateway through [`Client`].
pub fn http() -> reqwest::Client {
    install_tls_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// Mail the stack's SMTP sink (aiosmtpd) received for `to`, oldest first, as raw RFC 5322 text.
pub fn mail_to(to: &str) -> Vec<String> {
    let maildir = std::path::PathBuf::from(required_env(stack_env::HELPDESK_TEST_SMTP_MAILDIR));
    let needle = to.to_lowercase();
    let mut mails: Vec<(std::time::SystemTime, String)> = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(maildir.join(sub)) else { continue };
        for entry in entries.flatten() {
            let Ok(text) = std::fs::read_to_string(entry.path()) else { continue };
            let addressed = text
                .lines()
                .take_while(|l| !l.is_empty())
                .any(|l| l.to_lowercase().starts_with("to:") && l.to_lowercase().contains(&needle));
            if addressed {
                let at = entry.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
                mails.push((at, text));
            }
        }
    }
    mails.sort_by_key(|(at, _)| *at);
    mails.into_iter().map(|(_, text)| text).collect()
}

/// Waits (bounded) until the sink holds at least `count` mails for `to`, and returns them.
pub async fn wait_for_mail(to: &str, count: usize) -> Vec<String> {
    let what = format!("the SMTP sink holds {count} mails for {to}");
    wait_until(Duration::from_secs(30), &what, async || mail_to(to), |mails| mails.len() >= count).await
}

/// The value of a header in a raw mail (the first of that name, unfolded lines only).
pub fn header<'a>(mail: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("{}:", name.to_lowercase());
    mail.lines()
        .take_while(|l| !l.is_empty())
        .find(|l| l.to_lowercase().starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim())
}

/// (ticket number, threading rule) of the message tickets stored for this inbound id, waiting
/// (bounded, 30 s) until it is there.
pub async fn placed(pg: &PgPool, external_id: &str) -> (i64, String) {
    let query = "SELECT t.number, m.thread_rule FROM tickets.inbound_messages i JOIN tickets.messages m ON m.id = i.message_id
         JOIN tickets.tickets t ON t.id = i.ticket_id WHERE i.external_id = $1";
    within(Duration::from_secs(30), &format!("tickets stored {external_id}"), async || {
        sqlx::query(query).bind(external_id).fetch_optional(pg).await.expect("query").is_some()
    })
    .await;
    sqlx::query_as(query).bind(external_id).fetch_one(pg).await.expect("placed")
}

/// Undoes quoted-printable (soft line breaks and `=XX`), which is how the mail parts travel.
pub fn decode_quoted_printable(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && joined.is_char_boundary(i + 3)
            && let Ok(byte) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The token of the first link in a mail that points at `path` (`activate`, `password/reset`).
pub fn link_token(mail: &str, path: &str) -> String {
    let mail = decode_quoted_printable(mail);
    let marker = format!("/{path}?token=");
    let start = mail.find(&marker).unwrap_or_else(|| panic!("no /{path} link in the mail:\n{mail}")) + marker.len();
    mail[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}
