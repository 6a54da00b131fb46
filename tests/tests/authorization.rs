//! The authorization matrix: every ticket endpoint and RPC × {owner, group member with sharing on,
//! group member with sharing off, other contact, agent, admin, anonymous}. Whatever a caller may
//! not see answers NOT_FOUND / 404 exactly like something absent; lists, counts and search never
//! return a foreign row; internal notes reach staff only; agent and admin operations refuse
//! contacts before looking anything up.

use helpdesk_kit::auth::{StaffRole, bearer};
use helpdesk_proto::{
    events::v1::{GroupMembershipChanged, GroupUpdated, event::Payload},
    tickets::v1::{self as pb, ticket_admin_service_client::TicketAdminServiceClient, ticket_service_client::TicketServiceClient},
};
use helpdesk_tests::{Client, Server, TestEnv};
use serde_json::json;
use tonic::{Code, Request, transport::Channel};
use uuid::Uuid;

/// What a role may do with the ticket it is tested against.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Access {
    /// The owner, or a member of the owner's sharing group.
    Contact,
    /// A contact who may not see the ticket.
    Hidden,
    Agent,
    Admin,
    Anonymous,
}

struct Role {
    name: &'static str,
    token: Option<String>,
    access: Access,
    /// The ticket this role is tested against.
    ticket: String,
}

fn request<T>(message: T, token: &Option<String>) -> Request<T> {
    match token {
        Some(t) => bearer(message, t).expect("request"),
        None => Request::new(message),
    }
}

/// The gRPC code a contact-level ticket operation must answer for this role.
fn expected_code(access: Access, staff_only: bool) -> Code {
    match access {
        Access::Anonymous => Code::Unauthenticated,
        Access::Agent | Access::Admin => Code::Ok,
        Access::Contact | Access::Hidden if staff_only => Code::PermissionDenied,
        Access::Contact => Code::Ok,
        Access::Hidden => Code::NotFound,
    }
}

fn code<T>(result: &Result<tonic::Response<T>, tonic::Status>) -> Code {
    match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

async fn member(env: &TestEnv, group: Uuid, contact: &str, share: bool) {
    env.publish_event(Payload::GroupMembershipChanged(GroupMembershipChanged {
        group_id: group.to_string(),
        contact_id: contact.to_string(),
        member: true,
    }))
    .await;
    env.publish_event(Payload::GroupUpdated(GroupUpdated { group_id: group.to_string(), name: String::new(), share_tickets: share }))
        .await;
}

/// Files a ticket as the contact, retrying until identity's group events reached tickets.
async fn ticket_in_group(server: &Server, token: &str, group: Uuid) -> String {
    Client::new(&server.gateway, Some(token))
        .file_in_group(&group.to_string(), json!({ "subject": "Matrix ticket", "message": "secret words platypus" }))
        .await
}

#[tokio::test]
async fn every_ticket_operation_answers_each_kind_of_caller_as_it_should() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let (sharing, private) = (Uuid::new_v4(), Uuid::new_v4());
    let mut ids = std::collections::HashMap::new();
    for (email, group, share) in [
        ("owner@on.example", sharing, true),
        ("member@on.example", sharing, true),
        ("owner@off.example", private, false),
        ("member@off.example", private, false),
    ] {
        let id = server.clients.find_or_create_contact(email, "").await.expect("contact");
        member(&env, group, &id, share).await;
        ids.insert(email, server.contact_token(email).await);
    }
    let other = server.contact_token("other@else.example").await;
    let (_, agent) = env.staff_token(StaffRole::Agent);
    let (_, admin) = env.staff_token(StaffRole::Admin);

    let shared_ticket = ticket_in_group(&server, &ids["owner@on.example"], sharing).await;
    let private_ticket = ticket_in_group(&server, &ids["owner@off.example"], private).await;

    // An attachment on the shared ticket's conversation.
    let owner_api = Client::new(&server.gateway, Some(&ids["owner@on.example"]));
    let (_, upload) = owner_api.upload("invoice.txt", "text/plain", b"total: 42".to_vec()).await;
    let attachment = upload["id"].as_str().expect("attachment id").to_string();
    let (status, _) = owner_api
        .post(&format!("/api/v1/tickets/{shared_ticket}/messages"), json!({ "message": "invoice attached", "attachments": [attachment] }))
        .await;
    assert_eq!(status, 201);

    // An internal note on each ticket, whose words no contact may ever find.
    let mut tickets: TicketServiceClient<Channel> = server.clients.tickets();
    for ticket in [&shared_ticket, &private_ticket] {
        tickets
            .add_note(bearer(pb::AddNoteRequest { ticket_id: ticket.clone(), text: "internal: wombat".into() }, &agent).expect("req"))
            .await
            .expect("note");
    }

    let roles = vec![
        Role { name: "owner", token: Some(ids["owner@on.example"].clone()), access: Access::Contact, ticket: shared_ticket.clone() },
        Role { name: "member, sharing on", token: Some(ids["member@on.example"].clone()), access: Access::Contact, ticket: shared_ticket.clone() },
        Role { name: "member, sharing off", token: Some(ids["member@off.example"].clone()), access: Access::Hidden, ticket: private_ticket.clone() },
        Role { name: "other contact", token: Some(other.clone()), access: Access::Hidden, ticket: shared_ticket.clone() },
        Role { name: "agent", token: Some(agent.clone()), access: Access::Agent, ticket: shared_ticket.clone() },
        Role { name: "admin", token: Some(admin.clone()), access: Access::Admin, ticket: shared_ticket.clone() },
        Role { name: "anonymous", token: None, access: Access::Anonymous, ticket: shared_ticket.clone() },
    ];

    let channel = tonic::transport::Endpoint::from_shared(server.config.shared.endpoints.tickets.clone())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut admin_rpc = TicketAdminServiceClient::new(channel);

    for role in &roles {
        let who = role.name;
        let t = role.ticket.clone();
        let get = tickets.get_ticket(request(pb::GetTicketRequest { key: Some(pb::get_ticket_request::Key::Id(t.clone())) }, &role.token)).await;
        assert_eq!(code(&get), expected_code(role.access, false), "{who}: GetTicket");
        let number = tickets
            .get_ticket(bearer(pb::GetTicketRequest { key: Some(pb::get_ticket_request::Key::Id(t.clone())) }, &agent).expect("req"))
            .await
            .expect("agent reads any ticket")
            .into_inner()
            .number;
        let by_number = tickets
            .get_ticket(request(pb::GetTicketRequest { key: Some(pb::get_ticket_request::Key::Number(number)) }, &role.token))
            .await;
        assert_eq!(code(&by_number), expected_code(role.access, false), "{who}: GetTicket by number");

        let messages = tickets.list_messages(request(pb::ListMessagesRequest { ticket_id: t.clone(), ..Default::default() }, &role.token)).await;
        assert_eq!(code(&messages), expected_code(role.access, false), "{who}: ListMessages");
        if let Ok(messages) = messages {
            let notes = messages.into_inner().messages.iter().filter(|m| m.kind == pb::MessageKind::InternalNote as i32).count();
            let staff = matches!(role.access, Access::Agent | Access::Admin);
            assert_eq!(notes > 0, staff, "{who}: internal notes only for staff");
        }
        let reply = tickets.reply(request(pb::ReplyRequest { ticket_id: t.clone(), text: format!("reply from {who}"), ..Default::default() }, &role.token)).await;
        assert_eq!(code(&reply), expected_code(role.access, false), "{who}: Reply");
        let complete = tickets.complete_ticket(request(pb::CompleteTicketRequest { ticket_id: t.clone() }, &role.token)).await;
        assert_eq!(code(&complete), expected_code(role.access, false), "{who}: CompleteTicket");

        // Staff-only operations refuse every contact, visible ticket or not.
        let note = tickets.add_note(request(pb::AddNoteRequest { ticket_id: t.clone(), text: "n".into() }, &role.token)).await;
        assert_eq!(code(&note), expected_code(role.access, true), "{who}: AddNote");
        let update = tickets
            .update_ticket(request(pb::UpdateTicketRequest { ticket_id: t.clone(), priority_id: Some("high".into()), ..Default::default() }, &role.token))
            .await;
        assert_eq!(code(&update), expected_code(role.access, true), "{who}: UpdateTicket");
        let log = tickets.log_time(request(pb::LogTimeRequest { ticket_id: t.clone(), minutes: 5, note: String::new() }, &role.token)).await;
        assert_eq!(code(&log), expected_code(role.access, true), "{who}: LogTime");

        // The attachment on the shared ticket, by gRPC and by HTTP.
        let on_shared = role.ticket == shared_ticket;
        let meta = tickets
            .get_attachment(request(pb::GetAttachmentRequest { ticket_id: shared_ticket.clone(), attachment_id: attachment.clone() }, &role.token))
            .await;
        let expected = if on_shared { expected_code(role.access, false) } else if role.access == Access::Anonymous { Code::Unauthenticated } else { Code::NotFound };
        assert_eq!(code(&meta), expected, "{who}: GetAttachment");
        let download = Client::new(&server.gateway, role.token.as_deref())
            .download(&format!("/api/v1/tickets/{shared_ticket}/attachments/{attachment}"))
            .await
            .0;
        let expected_http = match expected {
            Code::Ok => 200,
            Code::Unauthenticated => 401,
            _ => 404,
        };
        assert_eq!(download, expected_http, "{who}: download attachment");

        // Lists, counts and search never hold a foreign row.
        let list = tickets.list_tickets(request(pb::ListTicketsRequest { scope: pb::Scope::Group as i32, ..Default::default() }, &role.token)).await;
        let search = tickets.list_tickets(request(pb::ListTicketsRequest { query: "platypus".into(), ..Default::default() }, &role.token)).await;
        let notes_search = tickets.list_tickets(request(pb::ListTicketsRequest { query: "wombat".into(), ..Default::default() }, &role.token)).await;
        let counts = tickets.count_tickets(request(pb::CountTicketsRequest { scope: pb::Scope::Group as i32 }, &role.token)).await;
        match role.access {
            Access::Anonymous => {
                for c in [code(&list), code(&search), code(&notes_search), code(&counts)] {
                    assert_eq!(c, Code::Unauthenticated, "{who}: lists");
                }
            }
            Access::Hidden => {
                assert!(list.expect("list").into_inner().tickets.iter().all(|x| x.id != t), "{who}: list");
                assert!(search.expect("search").into_inner().tickets.is_empty(), "{who}: search");
                assert!(notes_search.expect("search").into_inner().tickets.is_empty(), "{who}: note search");
            }
            Access::Contact => {
                assert!(list.expect("list").into_inner().tickets.iter().any(|x| x.id == t), "{who}: group list");
                assert!(notes_search.expect("search").into_inner().tickets.is_empty(), "{who}: notes are not searchable");
                assert_eq!(counts.expect("counts").into_inner().all, 1, "{who}: group counts");
            }
            Access::Agent | Access::Admin => {
                assert!(list.expect("list").into_inner().tickets.len() >= 2, "{who}: staff see all");
            }
        }

        // Administration: admins only (anonymous must authenticate first).
        let admin_only = match role.access {
            Access::Admin => Code::Ok,
            Access::Anonymous => Code::Unauthenticated,
            _ => Code::PermissionDenied,
        };
        let quarantine = admin_rpc.list_quarantine(request(pb::ListQuarantineRequest {}, &role.token)).await;
        assert_eq!(code(&quarantine), admin_only, "{who}: ListQuarantine");
        let status = admin_rpc
            .upsert_status(request(pb::Status { id: "escalated".into(), name: "Escalated".into(), kind: pb::StatusKind::Pending as i32, position: 9 }, &role.token))
            .await;
        assert_eq!(code(&status), admin_only, "{who}: UpsertStatus");
        let grant = admin_rpc
            .grant_group_time(request(pb::GrantGroupTimeRequest { group_id: sharing.to_string(), minutes: 10, note: String::new() }, &role.token))
            .await;
        assert_eq!(code(&grant), admin_only, "{who}: GrantGroupTime");
        let time = admin_rpc.get_group_time(request(pb::GetGroupTimeRequest { group_id: sharing.to_string() }, &role.token)).await;
        assert_eq!(code(&time), expected_code(role.access, false), "{who}: GetGroupTime");

        // The same through the gateway, as HTTP statuses.
        let api = Client::new(&server.gateway, role.token.as_deref());
        let http_expected = |ok: u16| match role.access {
            Access::Anonymous => 401,
            Access::Hidden => 404,
            _ => ok,
        };
        assert_eq!(api.get(&format!("/api/v1/tickets/{t}")).await.0, http_expected(200), "{who}: GET ticket");
        assert_eq!(api.get(&format!("/api/v1/tickets/{t}/messages")).await.0, http_expected(200), "{who}: GET messages");
        assert_eq!(
            api.post(&format!("/api/v1/tickets/{t}/messages"), json!({ "message": "via http" })).await.0,
            http_expected(201),
            "{who}: POST reply"
        );
        assert_eq!(api.post(&format!("/api/v1/tickets/{t}/complete"), json!({})).await.0, http_expected(200), "{who}: POST complete");
        let list_status = if role.access == Access::Anonymous { 401 } else { 200 };
        assert_eq!(api.get("/api/v1/tickets?scope=group").await.0, list_status, "{who}: GET list");
        assert_eq!(api.get("/api/v1/tickets/counts").await.0, list_status, "{who}: GET counts");
        assert_eq!(api.get(&format!("/api/v1/groups/{sharing}/time")).await.0, http_expected(200), "{who}: GET group time");
        let (_, found) = api.get("/api/v1/tickets?q=wombat").await;
        if matches!(role.access, Access::Contact | Access::Hidden) {
            assert_eq!(found["tickets"].as_array().map(Vec::len), Some(0), "{who}: note words via http");
        }
    }

    server.stop().await.expect("stop");
}
