//! Identity and tickets together, with nothing played by hand: a contact group created and filled
//! through identity's GroupService governs who sees whose tickets, and the portal setting changed
//! through identity's SettingsService decides whether contacts may close their tickets — both
//! reaching tickets only through identity's events.

use helpdesk_kit::auth::bearer;
use helpdesk_proto::identity::v1::{
    self as pb, group_service_client::GroupServiceClient, settings_service_client::SettingsServiceClient,
};
use helpdesk_tests::{Api, TestEnv, eventually};
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
    let peter_api = Api::new(&server.gateway, Some(&server.contact_token("peter@initech.example").await));
    let milton_api = Api::new(&server.gateway, Some(&server.contact_token("milton@initech.example").await));

    // Peter's next ticket belongs to the group once the membership event arrived; Milton sees it.
    let mut id = None;
    for _ in 0..100 {
        let (_, ticket) = peter_api.post("/api/v1/tickets", json!({ "subject": "TPS reports", "message": "new cover sheets" })).await;
        if ticket["group_id"] == json!(group.id) {
            id = ticket["id"].as_str().map(str::to_string);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let id = id.expect("the membership reached tickets");
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
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(milton_api.get(&format!("/api/v1/tickets/{id}")).await.0, 404);

    // Closing tickets: allowed by default, then turned off by the admin in identity.
    let mut settings_client = SettingsServiceClient::new(server.identity_channel());
    let mut settings = settings_client
        .get_portal_settings(bearer(pb::GetPortalSettingsRequest {}, &service).expect("req"))
        .await
        .expect("settings")
        .into_inner();
    settings.contacts_may_close_tickets = false;
    settings_client
        .update_portal_settings(bearer(pb::UpdatePortalSettingsRequest { settings: Some(settings) }, &service).expect("req"))
        .await
        .expect("update settings");
    eventually("self-close is refused", || async {
        peter_api.post(&format!("/api/v1/tickets/{id}/complete"), json!({})).await.0 == 409
    })
    .await;
    let (_, ticket) = peter_api.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(ticket["status_kind"], "pending");

    server.stop().await.expect("stop");
    env.cleanup().await;
}
