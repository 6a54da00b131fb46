//! Identity and tickets together, with nothing played by hand: a contact group created and filled
//! through identity's GroupService governs who sees whose tickets, and the portal setting changed
//! through identity's SettingsService decides whether contacts may close their tickets — both
//! reaching tickets only through identity's events.

use helpdesk_kit::auth::bearer;
use helpdesk_proto::identity::v1::{
    self as pb, group_service_client::GroupServiceClient,
};
use helpdesk_tests::{Client, TestEnv, eventually};
use serde_json::json;

#[tokio::test]
async fn groups_and_settings_made_in_identity_govern_tickets() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let service = server.service_token().await;
    let mut groups = GroupServiceClient::new(server.identity_channel());
    let group = groups
        .create_group(bearer(pb::CreateGroupRequest { name: "Initech".into(), share_tickets: true, auto_join_domains: vec![] }, &service).expect("req"))
        .await
        .expect("create group")
        .into_inner();
    let (peter, milton) = (
        server.clients.find_or_create_contact("peter@initech.example", "").await.expect("peter"),
        server.clients.find_or_create_contact("milton@initech.example", "").await.expect("milton"),
    );
    for contact in [&peter, &milton] {
        groups
            .add_group_member(bearer(pb::GroupMemberRequest { group_id: group.id.clone(), contact_id: contact.clone() }, &service).expect("req"))
            .await
            .expect("add member");
    }
    let peter_api = Client::new(&server.gateway, Some(&server.contact_token("peter@initech.example").await));
    let milton_api = Client::new(&server.gateway, Some(&server.contact_token("milton@initech.example").await));

    // Peter's next ticket belongs to the group once the membership event arrived; Milton sees it.
    let id = peter_api.file_in_group(&group.id, json!({ "subject": "TPS reports", "message": "new cover sheets" })).await;
    eventually("milton sees the group's ticket", || async { milton_api.get(&format!("/api/v1/tickets/{id}")).await.0 == 200 }).await;

    // Sharing off in identity: Milton loses sight of it.
    groups
        .update_group(bearer(pb::UpdateGroupRequest { id: group.id.clone(), share_tickets: Some(false), ..Default::default() }, &service).expect("req"))
        .await
        .expect("update group");
    eventually("milton no longer sees it", || async { milton_api.get(&format!("/api/v1/tickets/{id}")).await.0 == 404 }).await;

    // Removed from the group: even with sharing back on, Milton sees nothing of it.
    groups
        .remove_group_member(bearer(pb::GroupMemberRequest { group_id: group.id.clone(), contact_id: milton.clone() }, &service).expect("req"))
        .await
        .expect("remove member");
    groups
        .update_group(bearer(pb::UpdateGroupRequest { id: group.id.clone(), share_tickets: Some(true), ..Default::default() }, &service).expect("req"))
        .await
        .expect("update group");
    // Barrier: tickets handles identity's events in order, so once sharing is back on there, the
    // removal before it was handled too.
    let pg = env.pg().await;
    let group_id: uuid::Uuid = group.id.parse().expect("group id");
    eventually("tickets has the group's sharing back on", async || {
        sqlx::query_scalar::<_, bool>("SELECT share_tickets FROM tickets.contact_groups WHERE id = $1")
            .bind(group_id)
            .fetch_optional(&pg)
            .await
            .expect("group")
            == Some(true)
    })
    .await;
    assert_eq!(milton_api.get(&format!("/api/v1/tickets/{id}")).await.0, 404);

    // Closing tickets: allowed by default, then turned off by the admin in identity.
    server.change_portal_settings(|s| s.contacts_may_close_tickets = false).await;
    eventually("tickets has the setting", || async {
        !sqlx::query_scalar::<_, bool>("SELECT contacts_may_close FROM tickets.settings").fetch_one(&pg).await.expect("setting")
    })
    .await;
    assert_eq!(peter_api.post(&format!("/api/v1/tickets/{id}/complete"), json!({})).await.0, 409);
    let (_, ticket) = peter_api.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(ticket["status_kind"], "pending");

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn guests_file_tickets_only_while_the_setting_allows_and_see_nothing_back() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let guest = Client::new(&server.gateway, None);
    let form = |email: &str| json!({ "subject": "Locked out", "message": "cannot sign in", "email": email, "name": "Quinn" });

    // Allowed by default: the ticket is filed for the contact with that address.
    let (status, body) = guest.post("/api/v1/tickets", form("quinn@example.org")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["number"], 1001);
    assert!(body.get("contact_id").is_none() && body.get("id").is_none(), "a guest learns nothing more: {body}");
    let quinn = Client::new(&server.gateway, Some(&server.contact_token("quinn@example.org").await));
    let (_, mine) = quinn.get("/api/v1/tickets").await;
    assert_eq!(mine["tickets"][0]["subject"], "Locked out");
    assert_eq!(mine["tickets"][0]["channel"], "portal");
    let (_, conversation) = quinn.get(&format!("/api/v1/tickets/{}/messages", mine["tickets"][0]["id"].as_str().expect("id"))).await;
    assert_eq!(conversation[0]["author"], "contact");

    // A guest still reads nothing, and a bad address is refused.
    assert_eq!(guest.get("/api/v1/tickets").await.0, 401);
    assert_eq!(guest.post("/api/v1/tickets", form("not an address")).await.0, 422);

    // Captcha on: a guest without a solution is refused.
    server.change_portal_settings(|s| s.captcha_enabled = true).await;
    assert_eq!(guest.post("/api/v1/tickets", form("rae@example.org")).await.0, 422);

    // Login required: guests are told to sign in; signed-in contacts still file.
    server.change_portal_settings(|s| {
        s.captcha_enabled = false;
        s.login_required_to_submit = true;
    })
    .await;
    let (status, body) = guest.post("/api/v1/tickets", form("sam@example.org")).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(quinn.post("/api/v1/tickets", json!({ "subject": "Signed in", "message": "ok" })).await.0, 201);

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn login_required_for_the_kb_turns_anonymous_readers_away() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    server
        .clients
        .create_article(helpdesk_proto::kb::v1::CreateArticleRequest {
            title: "Reset your PIN".into(),
            body_markdown: "Open the app and choose **PIN**.".into(),
            status: helpdesk_proto::kb::v1::ArticleStatus::Published as i32,
            visibility: helpdesk_proto::kb::v1::Visibility::Public as i32,
            ..Default::default()
        })
        .await
        .expect("article");
    let anonymous = Client::new(&server.gateway, None);
    let contact = Client::new(&server.gateway, Some(&server.contact_token("uma@example.org").await));
    let (status, hits) = anonymous.get("/api/v1/kb/search?q=pin").await;
    assert_eq!((status, hits.as_array().map(Vec::len)), (200, Some(1)));

    server.change_portal_settings(|s| s.login_required_for_kb = true).await;

    for path in ["/api/v1/kb/search?q=pin", "/api/v1/kb/suggest?q=pi", "/api/v1/kb/articles/reset-your-pin", "/api/v1/kb/categories"] {
        assert_eq!(anonymous.get(path).await.0, 401, "{path}");
    }
    let (status, hits) = contact.get("/api/v1/kb/search?q=pin").await;
    assert_eq!((status, hits.as_array().map(Vec::len)), (200, Some(1)));

    server.stop().await.expect("stop");
}
