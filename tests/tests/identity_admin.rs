//! Staff, portal settings, contact groups, the captcha and the mail ledger: staff get role-carrying
//! tokens; every portal setting changes behaviour at once and is announced; groups pull in members
//! by domain and announce membership; a captcha solution works once; a redelivered mail event
//! sends nothing twice.

use async_nats::jetstream::message::PublishMessage;
use helpdesk_kit::{auth::bearer, events::new_event};
use helpdesk_proto::{
    events::v1::{AccountMailKind, AccountMailRequested, event::Payload},
    identity::v1::{self as pb, staff_service_client::StaffServiceClient, token_service_client::TokenServiceClient},
};
use helpdesk_tests::{Server, TestEnv, http, wait_for_mail};
use prost::Message;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tonic::Code;

fn unique(tag: &str, domain: &str) -> String {
    format!("{tag}-{}@{domain}", uuid::Uuid::new_v4().simple())
}

/// Creates a staff member through gRPC as the CLI would, and returns a token for them.
async fn staff_token(server: &Server, role: pb::StaffRole) -> String {
    let service = server.service_token().await;
    let staff = StaffServiceClient::new(server.identity_channel())
        .create_staff(
            bearer(
                pb::CreateStaffRequest {
                    name: "Sam Staff".into(),
                    email: unique("staff", "helpdesk.test"),
                    role: role as i32,
                },
                &service,
            )
            .expect("request"),
        )
        .await
        .expect("create staff")
        .into_inner();
    TokenServiceClient::new(server.identity_channel())
        .issue_staff_token(bearer(pb::IssueStaffTokenRequest { staff_id: staff.id }, &service).expect("request"))
        .await
        .expect("staff token")
        .into_inner()
        .token
}

async fn put_settings(server: &Server, token: &str, settings: Value) -> reqwest::Response {
    http()
        .put(format!("{}/api/v1/settings", server.gateway))
        .bearer_auth(token)
        .json(&settings)
        .send()
        .await
        .expect("request")
}

fn settings(overrides: Value) -> Value {
    let mut base = json!({
        "password_login": true,
        "signup_mode": "open",
        "signup_domains": [],
        "login_required_to_submit": false,
        "login_required_for_kb": false,
        "contacts_may_close_tickets": true,
        "captcha_enabled": false,
    });
    for (key, value) in overrides.as_object().expect("object") {
        base[key] = value.clone();
    }
    base
}

async fn sign_up(server: &Server, email: &str, captcha: Option<&str>) -> (StatusCode, Value) {
    let response = http()
        .post(format!("{}/api/v1/account/signup", server.gateway))
        .json(&json!({ "name": "Someone", "email": email, "captcha": captcha.unwrap_or_default() }))
        .send()
        .await
        .expect("request");
    (response.status(), response.json().await.expect("json"))
}

#[tokio::test]
async fn staff_tokens_carry_roles_that_decide_who_may_change_settings() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let admin = staff_token(&server, pb::StaffRole::Admin).await;
    let agent = staff_token(&server, pb::StaffRole::Agent).await;
    let contact = server.contact_token(&unique("c", "example.com")).await;

    assert_eq!(put_settings(&server, &admin, settings(json!({}))).await.status(), StatusCode::OK);
    assert_eq!(put_settings(&server, &agent, settings(json!({}))).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(put_settings(&server, &contact, settings(json!({}))).await.status(), StatusCode::FORBIDDEN);
    let anonymous = http()
        .put(format!("{}/api/v1/settings", server.gateway))
        .json(&settings(json!({})))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // The same address twice is refused; a deactivated staff member gets no token.
    let service = server.service_token().await;
    let mut staff = StaffServiceClient::new(server.identity_channel());
    let create = |email: &str| {
        bearer(
            pb::CreateStaffRequest { name: "Dup".into(), email: email.into(), role: pb::StaffRole::Agent as i32 },
            &service,
        )
        .expect("request")
    };
    let first = staff.create_staff(create("dup@helpdesk.test")).await.expect("create").into_inner();
    let error = staff.create_staff(create("DUP@helpdesk.test")).await.expect_err("duplicate");
    assert_eq!(error.code(), Code::AlreadyExists);
    staff
        .set_staff_role(
            bearer(pb::SetStaffRoleRequest { id: first.id.clone(), role: pb::StaffRole::Agent as i32, active: false }, &service)
                .expect("request"),
        )
        .await
        .expect("deactivate");
    let error = TokenServiceClient::new(server.identity_channel())
        .issue_staff_token(bearer(pb::IssueStaffTokenRequest { staff_id: first.id }, &service).expect("request"))
        .await
        .expect_err("no token for the inactive");
    assert_eq!(error.code(), Code::NotFound);
    // An agent may not create staff.
    let error = staff
        .create_staff(
            bearer(pb::CreateStaffRequest { name: "X".into(), email: "x@helpdesk.test".into(), role: 2 }, &agent)
                .expect("request"),
        )
        .await
        .expect_err("agents cannot create staff");
    assert_eq!(error.code(), Code::PermissionDenied);

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn each_sign_up_and_login_setting_changes_behaviour_at_once_and_is_announced() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let admin = staff_token(&server, pb::StaffRole::Admin).await;

    // Closed.
    assert_eq!(put_settings(&server, &admin, settings(json!({ "signup_mode": "closed" }))).await.status(), StatusCode::OK);
    let (status, body) = sign_up(&server, &unique("a", "example.com"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "sign-up is closed");

    // Limited to listed domains.
    let limited = settings(json!({ "signup_mode": "domains", "signup_domains": ["Partner.Example"] }));
    let saved: Value = put_settings(&server, &admin, limited).await.json().await.expect("json");
    assert_eq!(saved["signup_domains"], json!(["partner.example"]));
    let public: Value = http()
        .get(format!("{}/api/v1/settings", server.gateway))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(public["signup_mode"], "domains", "anyone reads the settings, at once");
    assert_eq!(sign_up(&server, &unique("b", "example.com"), None).await.0, StatusCode::FORBIDDEN);
    let partner = unique("c", "partner.example");
    assert_eq!(sign_up(&server, &partner, None).await.0, StatusCode::ACCEPTED);
    assert_eq!(wait_for_mail(&partner, 1).await.len(), 1);
    // Domain mode without domains is refused.
    let invalid = put_settings(&server, &admin, settings(json!({ "signup_mode": "domains" }))).await;
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Password login off.
    assert_eq!(put_settings(&server, &admin, settings(json!({ "password_login": false }))).await.status(), StatusCode::OK);
    let response = http()
        .post(format!("{}/api/v1/session", server.gateway))
        .json(&json!({ "email": partner, "password": "whatever it is" }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Every change was announced.
    let subject = env.subjects().event("identity", "portal_settings_changed");
    let events = env.wait_for_events(&subject, |events| events.len() >= 3).await;
    assert_eq!(events.len(), 3);

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn captcha_when_enabled_needs_a_fresh_solution_each_time() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let admin = staff_token(&server, pb::StaffRole::Admin).await;
    assert_eq!(put_settings(&server, &admin, settings(json!({ "captcha_enabled": true }))).await.status(), StatusCode::OK);

    let (status, body) = sign_up(&server, &unique("d", "example.com"), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"].as_str().unwrap_or_default().starts_with("captcha:"), "{body}");

    let challenge: Value = http()
        .get(format!("{}/api/v1/account/captcha", server.gateway))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let challenge: altcha::Challenge = serde_json::from_value(challenge["challenge"].clone()).expect("an altcha challenge");
    let solution = altcha::solve_challenge(altcha::SolveChallengeOptions::new(&challenge))
        .expect("solve")
        .expect("solved in time");
    let payload = serde_json::to_string(&altcha::Payload { challenge, solution }).expect("json");

    let (status, _) = sign_up(&server, &unique("e", "example.com"), Some(&payload)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, body) = sign_up(&server, &unique("f", "example.com"), Some(&payload)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a replayed solution is refused");
    assert!(body["error"].as_str().unwrap_or_default().contains("used already"), "{body}");

    // Our own solver script, as the page runs it (here in Node, which has the same WebCrypto).
    let script = r#"
        const base = process.env.GATEWAY;
        (0, eval)(await (await fetch(base + '/api/v1/account/captcha/solver.js')).text());
        const { challenge } = await (await fetch(base + '/api/v1/account/captcha')).json();
        const captcha = await helpdeskCaptcha.solve(challenge);
        const response = await fetch(base + '/api/v1/account/signup', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ name: 'Script', email: process.env.EMAIL, captcha }),
        });
        console.log(response.status);
    "#;
    let output = tokio::process::Command::new("node")
        .args(["--input-type=module", "-e", script])
        .env("GATEWAY", &server.gateway)
        .env("EMAIL", unique("script", "example.com"))
        .output()
        .await
        .expect("node (installed by deploy/stack.sh)");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "202",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Switched off, no solution is needed.
    assert_eq!(put_settings(&server, &admin, settings(json!({}))).await.status(), StatusCode::OK);
    assert_eq!(sign_up(&server, &unique("g", "example.com"), None).await.0, StatusCode::ACCEPTED);

    server.stop().await.expect("clean shutdown");
}

async fn call(server: &Server, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = http().request(method, format!("{}{path}", server.gateway)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn groups_gather_members_by_domain_and_announce_membership() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let admin = staff_token(&server, pb::StaffRole::Admin).await;
    let agent = staff_token(&server, pb::StaffRole::Agent).await;
    let before = server.clients.find_or_create_contact(&unique("early", "acme.test"), "").await.expect("contact");
    let outsider = server.clients.find_or_create_contact(&unique("out", "other.test"), "").await.expect("contact");

    let (status, group) = call(
        &server,
        reqwest::Method::POST,
        "/api/v1/groups",
        &admin,
        Some(json!({ "name": "ACME", "share_tickets": true, "auto_join_domains": ["acme.test"] })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let id = group["id"].as_str().expect("id").to_string();
    assert_eq!(group["member_ids"], json!([before]), "existing contacts of the domain join");

    let after = server.clients.find_or_create_contact(&unique("late", "ACME.test"), "").await.expect("contact");
    let (_, group) = call(&server, reqwest::Method::GET, &format!("/api/v1/groups/{id}"), &agent, None).await;
    assert_eq!(group["member_ids"], json!([before, after]), "new contacts of the domain join");

    let member_path = format!("/api/v1/groups/{id}/members/{outsider}");
    let (status, group) = call(&server, reqwest::Method::PUT, &member_path, &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(group["member_ids"].as_array().map(Vec::len), Some(3));
    let (_, group) = call(&server, reqwest::Method::DELETE, &member_path, &admin, None).await;
    assert_eq!(group["member_ids"], json!([before, after]));

    let (status, group) = call(
        &server,
        reqwest::Method::PATCH,
        &format!("/api/v1/groups/{id}"),
        &admin,
        Some(json!({ "name": "Acme Corp", "share_tickets": false })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((group["name"].clone(), group["share_tickets"].clone()), (json!("Acme Corp"), json!(false)));
    let (status, _) = call(&server, reqwest::Method::POST, "/api/v1/groups", &admin, Some(json!({ "name": "acme corp" }))).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Agents read, only admins change; contacts see nothing.
    let (status, _) = call(&server, reqwest::Method::POST, "/api/v1/groups", &agent, Some(json!({ "name": "X" }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let contact = server.contact_token(&unique("nosy", "example.com")).await;
    let (status, _) = call(&server, reqwest::Method::GET, &format!("/api/v1/groups/{id}"), &contact, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let subject = env.subjects().event("identity", "group_membership_changed");
    let events = env.wait_for_events(&subject, |events| events.len() >= 4).await;
    let changes: Vec<(String, bool)> = events
        .iter()
        .filter_map(|(_, e)| match &e.payload {
            Some(Payload::GroupMembershipChanged(c)) => Some((c.contact_id.clone(), c.member)),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        vec![(before.clone(), true), (after.clone(), true), (outsider.clone(), true), (outsider.clone(), false)]
    );

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_redelivered_mail_event_sends_nothing_twice() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let to = unique("once", "example.com");
    let event = new_event(Payload::AccountMailRequested(AccountMailRequested {
        kind: AccountMailKind::PasswordReset as i32,
        to_address: to.clone(),
        to_name: "Once".into(),
        link: "http://127.0.0.1:8080/reset-password?token=first".into(),
    }));
    let js = env.jetstream().await;
    let subject = env.subjects().event("identity", "account_mail_requested");
    // The same event twice, under different stream message ids, so only our ledger can tell.
    for copy in ["a", "b"] {
        js.send_publish(
            subject.clone(),
            PublishMessage::build()
                .message_id(format!("{}-{copy}", event.id))
                .payload(event.encode_to_vec().into()),
        )
        .await
        .expect("publish")
        .await
        .expect("stored");
    }
    let later = new_event(Payload::AccountMailRequested(AccountMailRequested {
        kind: AccountMailKind::PasswordReset as i32,
        to_address: to.clone(),
        to_name: "Once".into(),
        link: "http://127.0.0.1:8080/reset-password?token=second".into(),
    }));
    js.send_publish(subject, PublishMessage::build().message_id(later.id.clone()).payload(later.encode_to_vec().into()))
        .await
        .expect("publish")
        .await
        .expect("stored");

    assert_eq!(wait_for_mail(&to, 2).await.len(), 2);
    // The later event arrived, so both copies of the first were handled before it.
    let mails = helpdesk_tests::mail_to(&to);
    assert_eq!(mails.len(), 2, "one mail per event, not per delivery");
    assert!(mails.iter().any(|m| m.contains(&format!("{}@helpdesk.localhost", event.id))));

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn the_cli_creates_staff_issues_their_tokens_and_changes_settings_and_groups() {
    let env = TestEnv::new().await;
    let child = env.spawn_process(env!("CARGO_BIN_EXE_helpdesk-under-test"), &[]).await;
    let cli = |args: &[&str]| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_helpdesk-under-test"));
        command
            .args(args)
            .envs(env.child_env())
            .env("HELPDESK_ENDPOINTS__IDENTITY", &child.identity)
            .env("RUST_LOG", "error");
        command
    };
    let run = |args: &'static [&'static str]| {
        let mut command = cli(args);
        async move {
            let output = command.output().await.expect("cli");
            assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
            String::from_utf8(output.stdout).expect("utf8").trim().to_string()
        }
    };

    let id = run(&["staff", "add", "--name", "Ada Admin", "--email", "ada@helpdesk.test", "--role", "admin"]).await;
    let token = cli(&["staff", "token", &id]).output().await.expect("cli");
    assert!(token.status.success(), "{}", String::from_utf8_lossy(&token.stderr));
    let token = String::from_utf8(token.stdout).expect("utf8").trim().to_string();
    let response = http()
        .put(format!("{}/api/v1/settings", child.gateway))
        .bearer_auth(&token)
        .json(&settings(json!({ "captcha_enabled": true })))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK, "the CLI-issued admin token works at the gateway");

    let shown: Value = serde_json::from_str(&run(&["settings", "set", "--signup", "closed"]).await).expect("json");
    assert_eq!(shown["signup_mode"], "SIGNUP_MODE_CLOSED");
    assert_eq!(shown["captcha_enabled"], true, "settings not named stay as they were");

    let group = run(&["groups", "add", "Acme", "--domain", "acme.test", "--share-tickets"]).await;
    assert!(group.contains("\tAcme\tshare_tickets=true\tdomains=acme.test"), "{group}");
    let duplicate = cli(&["staff", "add", "--name", "Ada", "--email", "ADA@helpdesk.test"]).output().await.expect("cli");
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));

    child.kill().await;
}

#[tokio::test]
async fn staff_list_change_and_link_contacts_and_an_address_stays_with_one_contact() {
    use helpdesk_proto::identity::v1::{
        contact_service_client::ContactServiceClient, group_service_client::GroupServiceClient,
    };
    let env = TestEnv::new().await;
    let server = env.start().await;
    let agent = staff_token(&server, pb::StaffRole::Agent).await;
    let mut contacts = ContactServiceClient::new(server.identity_channel());
    let ann = server.clients.find_or_create_contact("ann@list.test", "Ann Alpha").await.expect("contact");
    let bob = server.clients.find_or_create_contact("bob@list.test", "Bob Beta").await.expect("contact");
    server.clients.find_or_create_contact("cy@elsewhere.test", "Cy").await.expect("contact");

    let list = |query: &str, page_size: u32, page_token: &str| {
        bearer(
            pb::ListContactsRequest { query: query.into(), page_size, page_token: page_token.into() },
            &agent,
        )
        .expect("request")
    };
    let found = contacts.list_contacts(list("LIST.test", 0, "")).await.expect("list").into_inner();
    assert_eq!(found.contacts.len(), 2);
    let by_name = contacts.list_contacts(list("beta", 0, "")).await.expect("list").into_inner();
    assert_eq!(by_name.contacts.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [bob.as_str()]);
    let wildcard = contacts.list_contacts(list("%", 0, "")).await.expect("list").into_inner();
    assert!(wildcard.contacts.is_empty(), "LIKE wildcards are matched literally");
    let first = contacts.list_contacts(list("", 2, "")).await.expect("list").into_inner();
    let rest = contacts
        .list_contacts(list("", 2, &first.next_page_token))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(first.contacts.len() + rest.contacts.len(), 3);

    // A second address and a new primary (whose domain a group auto-joins); an address of
    // another contact is refused.
    let group = GroupServiceClient::new(server.identity_channel())
        .create_group(
            bearer(
                pb::CreateGroupRequest { name: "Home".into(), share_tickets: false, auto_join_domains: vec!["home.test".into()] },
                &server.service_token().await,
            )
            .expect("request"),
        )
        .await
        .expect("group")
        .into_inner();
    let update = |emails: Vec<&str>, primary: Option<&str>| {
        bearer(
            pb::UpdateContactRequest {
                id: ann.clone(),
                name: Some("Ann A.".into()),
                emails: emails.into_iter().map(String::from).collect(),
                primary_email: primary.map(String::from),
            },
            &agent,
        )
        .expect("request")
    };
    let updated = contacts
        .update_contact(update(vec!["ann@list.test", "ann@home.test"], Some("ann@home.test")))
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.name, "Ann A.");
    let primary: Vec<&str> = updated.emails.iter().filter(|e| e.primary).map(|e| e.address.as_str()).collect();
    assert_eq!(primary, ["ann@home.test"]);
    assert_eq!(updated.group_ids, vec![group.id], "the new address's domain joined the group");
    let error = contacts
        .update_contact(update(vec!["ann@list.test", "bob@list.test"], None))
        .await
        .expect_err("bob's address");
    assert_eq!(error.code(), Code::AlreadyExists);

    // A contact may rename only themselves, and may not touch addresses.
    let ann_token = server.contact_token("ann@list.test").await;
    let own = |id: &str, emails: Vec<String>| {
        bearer(pb::UpdateContactRequest { id: id.into(), name: Some("Annie".into()), emails, primary_email: None }, &ann_token)
            .expect("request")
    };
    assert_eq!(contacts.update_contact(own(&ann, vec![])).await.expect("rename").into_inner().name, "Annie");
    assert_eq!(contacts.update_contact(own(&bob, vec![])).await.expect_err("not hers").code(), Code::NotFound);
    let grab = contacts.update_contact(own(&ann, vec!["x@list.test".into()])).await.expect_err("addresses");
    assert_eq!(grab.code(), Code::PermissionDenied);
    let error = contacts.list_contacts(bearer(pb::ListContactsRequest::default(), &ann_token).expect("request")).await;
    assert_eq!(error.expect_err("contacts do not list contacts").code(), Code::PermissionDenied);

    // Link a Discord user to Ann; the same user cannot then belong to Bob.
    let link = |id: &str| {
        bearer(
            pb::LinkExternalIdentityRequest {
                contact_id: id.into(),
                identity: Some(pb::ExternalIdentity { provider: "discord".into(), subject: "4242".into() }),
            },
            &agent,
        )
        .expect("request")
    };
    let linked = contacts.link_external_identity(link(&ann)).await.expect("link").into_inner();
    assert_eq!(linked.external_identities[0].subject, "4242");
    assert_eq!(contacts.link_external_identity(link(&bob)).await.expect_err("taken").code(), Code::AlreadyExists);

    // A bounce marks the address undeliverable and is announced.
    let bounce = |address: &str| {
        bearer(pb::MarkEmailUndeliverableRequest { address: address.into(), reason: "550 no such user".into() }, &agent)
            .expect("request")
    };
    let bounced = contacts.mark_email_undeliverable(bounce("BOB@list.test")).await.expect("bounce").into_inner();
    assert_eq!(bounced.id, bob);
    assert!(!bounced.emails[0].deliverable);
    let unknown = contacts.mark_email_undeliverable(bounce("nobody@list.test")).await.expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound);
    let subject = env.subjects().event("identity", "email_undeliverable");
    assert_eq!(env.wait_for_events(&subject, |events| !events.is_empty()).await.len(), 1);

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn staff_and_contacts_are_managed_through_the_gateway() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let admin = staff_token(&server, pb::StaffRole::Admin).await;
    let agent = staff_token(&server, pb::StaffRole::Agent).await;

    let new_agent = json!({ "name": "Gil", "email": "gil@helpdesk.test", "role": "agent" });
    let (status, created) = call(&server, reqwest::Method::POST, "/api/v1/staff", &admin, Some(new_agent.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, _) = call(&server, reqwest::Method::POST, "/api/v1/staff", &agent, Some(new_agent)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let id = created["id"].as_str().expect("id");
    let (status, changed) = call(
        &server,
        reqwest::Method::PATCH,
        &format!("/api/v1/staff/{id}"),
        &admin,
        Some(json!({ "role": "admin", "active": true })),
    )
    .await;
    assert_eq!((status, changed["role"].clone()), (StatusCode::OK, json!("admin")));
    let (_, listed) = call(&server, reqwest::Method::GET, "/api/v1/staff", &agent, None).await;
    assert_eq!(listed["staff"].as_array().map(Vec::len), Some(3));

    let dana = server.clients.find_or_create_contact("dana@gw.test", "Dana").await.expect("contact");
    let (status, found) = call(&server, reqwest::Method::GET, "/api/v1/contacts?q=gw.test", &agent, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["contacts"][0]["id"], dana.as_str());
    let (status, changed) = call(
        &server,
        reqwest::Method::PATCH,
        &format!("/api/v1/contacts/{dana}"),
        &agent,
        Some(json!({ "name": "Dana D.", "emails": ["dana@gw.test", "d@gw.test"], "primary_email": "d@gw.test" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["emails"][0]["address"], "d@gw.test");
    let (status, blocked) = call(
        &server,
        reqwest::Method::PUT,
        &format!("/api/v1/contacts/{dana}/block"),
        &agent,
        Some(json!({ "blocked": true })),
    )
    .await;
    assert_eq!((status, blocked["status"].clone()), (StatusCode::OK, json!("blocked")));
    let contact = server.contact_token("someone@gw.test").await;
    let (status, _) = call(&server, reqwest::Method::GET, "/api/v1/contacts", &contact, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    server.stop().await.expect("clean shutdown");
}
