//! Contracts an outside gRPC client relies on, written from the protos: a blocked contact's or
//! deactivated agent's tokens stop working everywhere within seconds (and a part started later
//! refuses them from its first call); one code rule for missing credentials; an assignee must be
//! active staff; an unknown group is NOT_FOUND; ListMessages pages; Reply returns its
//! attachments; group time shows a member only the tickets she may see; passwords are compared
//! after Unicode normalization.

use std::time::Duration;

use helpdesk_kit::auth::{StaffRole, bearer};
use helpdesk_proto::{
    events::v1::{GroupMembershipChanged, GroupUpdated, event::Payload},
    identity::v1::{
        self as id, account_service_client::AccountServiceClient, contact_service_client::ContactServiceClient,
        group_service_client::GroupServiceClient, staff_service_client::StaffServiceClient,
        token_service_client::TokenServiceClient,
    },
    kb::v1::SearchArticlesRequest,
    tickets::v1::{self as pb, ticket_admin_service_client::TicketAdminServiceClient},
};
use helpdesk_tests::{Client, Server, TestEnv, link_token, wait_for_mail, wait_until, within};
use tonic::{Code, Request, transport::Channel};
use uuid::Uuid;

fn code<T>(result: &Result<tonic::Response<T>, tonic::Status>) -> Code {
    match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

fn unique(tag: &str) -> String {
    format!("{tag}-{}@example.com", Uuid::new_v4().simple())
}

/// The codes tickets and kb answer for a call made with this token.
async fn tickets_and_kb(server: &Server, token: &str) -> (Code, Code) {
    let tickets = server
        .clients
        .tickets()
        .list_tickets(bearer(pb::ListTicketsRequest::default(), token).expect("request"))
        .await;
    let kb = server
        .clients
        .kb()
        .search_articles(bearer(SearchArticlesRequest { query: "printer".into(), limit: 5 }, token).expect("request"))
        .await;
    (code(&tickets), code(&kb))
}

async fn contact_id(server: &Server, email: &str) -> String {
    server.clients.find_or_create_contact(email, "Ann").await.expect("contact")
}

async fn issue_contact_token(server: &Server, contact: &str) -> Result<String, tonic::Status> {
    let request = id::IssueContactTokenRequest { contact: Some(id::issue_contact_token_request::Contact::ContactId(contact.into())) };
    let token = server.service_token().await;
    TokenServiceClient::new(server.identity_channel())
        .issue_contact_token(bearer(request, &token).expect("request"))
        .await
        .map(|r| r.into_inner().token)
}

async fn set_blocked(server: &Server, contact: &str, blocked: bool) {
    let token = server.service_token().await;
    ContactServiceClient::new(server.identity_channel())
        .set_contact_blocked(bearer(id::SetContactBlockedRequest { id: contact.into(), blocked }, &token).expect("request"))
        .await
        .expect("block");
}

async fn create_staff(server: &Server, role: id::StaffRole) -> id::Staff {
    let token = server.service_token().await;
    let request = id::CreateStaffRequest { name: "Agent Smith".into(), email: unique("agent"), role: role as i32 };
    StaffServiceClient::new(server.identity_channel())
        .create_staff(bearer(request, &token).expect("request"))
        .await
        .expect("create staff")
        .into_inner()
}

async fn set_staff_active(server: &Server, staff: &id::Staff, active: bool) {
    let token = server.service_token().await;
    let request = id::SetStaffRoleRequest { id: staff.id.clone(), role: staff.role, active };
    StaffServiceClient::new(server.identity_channel())
        .set_staff_role(bearer(request, &token).expect("request"))
        .await
        .expect("set active");
}

async fn staff_token(server: &Server, staff: &id::Staff) -> Result<String, tonic::Status> {
    let token = server.service_token().await;
    TokenServiceClient::new(server.identity_channel())
        .issue_staff_token(bearer(id::IssueStaffTokenRequest { staff_id: staff.id.clone() }, &token).expect("request"))
        .await
        .map(|r| r.into_inner().token)
}

#[tokio::test]
async fn blocking_a_contact_stops_its_tokens_everywhere_within_seconds_and_unblocking_admits_new_ones() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let ann = contact_id(&server, &unique("ann")).await;
    let old = issue_contact_token(&server, &ann).await.expect("token");
    assert_eq!(tickets_and_kb(&server, &old).await, (Code::Ok, Code::Ok));

    set_blocked(&server, &ann, true).await;
    within(Duration::from_secs(5), "tickets and kb refuse the blocked contact's token", async || {
        tickets_and_kb(&server, &old).await == (Code::Unauthenticated, Code::Unauthenticated)
    })
    .await;
    let refused = issue_contact_token(&server, &ann).await.expect_err("no new token for a blocked contact");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    // The gateway answers for the services: 401.
    assert_eq!(Client::new(&server.gateway, Some(&old)).get("/api/v1/tickets").await.0, 401);

    // A part started after the block refuses the token from its first call.
    let later = env.start().await;
    assert_eq!(tickets_and_kb(&later, &old).await, (Code::Unauthenticated, Code::Unauthenticated));

    set_blocked(&server, &ann, false).await;
    let fresh = issue_contact_token(&server, &ann).await.expect("a token again after unblocking");
    within(Duration::from_secs(5), "the new token works", async || tickets_and_kb(&server, &fresh).await == (Code::Ok, Code::Ok)).await;
    assert_eq!(tickets_and_kb(&later, &fresh).await, (Code::Ok, Code::Ok));
    assert_eq!(tickets_and_kb(&server, &old).await, (Code::Unauthenticated, Code::Unauthenticated), "tokens from before the block stay dead");

    later.stop().await.expect("stop");
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_deactivated_agent_loses_its_tokens_within_seconds_and_gets_new_ones_when_reactivated() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let agent = create_staff(&server, id::StaffRole::Agent).await;
    let old = staff_token(&server, &agent).await.expect("token");
    assert_eq!(tickets_and_kb(&server, &old).await, (Code::Ok, Code::Ok));

    set_staff_active(&server, &agent, false).await;
    within(Duration::from_secs(5), "tickets and kb refuse the deactivated agent's token", async || {
        tickets_and_kb(&server, &old).await == (Code::Unauthenticated, Code::Unauthenticated)
    })
    .await;
    // Identity itself refuses it too (reading the staff list needs a staff token).
    let listed = StaffServiceClient::new(server.identity_channel())
        .list_staff(bearer(id::ListStaffRequest {}, &old).expect("request"))
        .await;
    assert_eq!(code(&listed), Code::Unauthenticated);
    assert_eq!(code(&staff_token(&server, &agent).await.map(tonic::Response::new)), Code::NotFound);

    set_staff_active(&server, &agent, true).await;
    let fresh = staff_token(&server, &agent).await.expect("reactivated");
    within(Duration::from_secs(5), "the new token works", async || tickets_and_kb(&server, &fresh).await == (Code::Ok, Code::Ok)).await;
    assert_eq!(tickets_and_kb(&server, &old).await.0, Code::Unauthenticated, "the old token stays dead");

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_missing_token_is_unauthenticated_on_every_token_call() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let ann = contact_id(&server, &unique("ann")).await;
    let mut tokens = TokenServiceClient::new(server.identity_channel());
    let request = id::IssueContactTokenRequest { contact: Some(id::issue_contact_token_request::Contact::ContactId(ann.clone())) };
    assert_eq!(code(&tokens.issue_contact_token(Request::new(request.clone())).await), Code::Unauthenticated);
    let staff = id::IssueStaffTokenRequest { staff_id: Uuid::new_v4().to_string() };
    assert_eq!(code(&tokens.issue_staff_token(Request::new(staff)).await), Code::Unauthenticated);
    // Authenticated but not allowed stays PERMISSION_DENIED.
    let contact = issue_contact_token(&server, &ann).await.expect("token");
    assert_eq!(code(&tokens.issue_contact_token(bearer(request, &contact).expect("request")).await), Code::PermissionDenied);

    server.stop().await.expect("stop");
}

async fn file_ticket(server: &Server, token: &str, subject: &str) -> pb::Ticket {
    let request = pb::CreateTicketRequest { subject: subject.into(), text: format!("About {subject}"), ..Default::default() };
    server.clients.tickets().create_ticket(bearer(request, token).expect("request")).await.expect("ticket").into_inner()
}

#[tokio::test]
async fn an_assignee_must_be_an_active_staff_member() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let ann_email = unique("ann");
    let ann = contact_id(&server, &ann_email).await;
    let ticket = file_ticket(&server, &server.contact_token(&ann_email).await, "Assign me").await;
    let agent = create_staff(&server, id::StaffRole::Agent).await;
    let retired = create_staff(&server, id::StaffRole::Agent).await;
    set_staff_active(&server, &retired, false).await;
    let (_, admin) = env.staff_token(StaffRole::Admin);
    let mut tickets = server.clients.tickets();
    let assign = |assignee: &str| pb::UpdateTicketRequest {
        ticket_id: ticket.id.clone(),
        assignee_id: Some(assignee.to_string()),
        ..Default::default()
    };

    for (what, assignee) in [("a random id", Uuid::new_v4().to_string()), ("a contact", ann.clone()), ("an inactive agent", retired.id.clone())] {
        let refused = tickets.update_ticket(bearer(assign(&assignee), &admin).expect("request")).await.expect_err(what);
        assert_eq!(refused.code(), Code::InvalidArgument, "{what}: {refused:?}");
        assert!(refused.message().contains("assignee_id"), "{what}: {}", refused.message());
    }
    let assigned = tickets.update_ticket(bearer(assign(&agent.id), &admin).expect("request")).await.expect("agent").into_inner();
    assert_eq!(assigned.assignee_id, agent.id);
    let cleared = tickets.update_ticket(bearer(assign(""), &admin).expect("request")).await.expect("unassign").into_inner();
    assert_eq!(cleared.assignee_id, "");

    server.stop().await.expect("stop");
}

async fn admin_rpc(server: &Server) -> TicketAdminServiceClient<Channel> {
    TicketAdminServiceClient::new(server.clients.tickets_channel())
}

#[tokio::test]
async fn an_unknown_group_is_not_found_for_grants_and_balances() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let (_, admin) = env.staff_token(StaffRole::Admin);
    let mut rpc = admin_rpc(&server).await;
    let unknown = Uuid::new_v4().to_string();
    let grant = pb::GrantGroupTimeRequest { group_id: unknown.clone(), minutes: 60, note: String::new() };
    assert_eq!(code(&rpc.grant_group_time(bearer(grant, &admin).expect("request")).await), Code::NotFound);
    let get = pb::GetGroupTimeRequest { group_id: unknown.clone() };
    assert_eq!(code(&rpc.get_group_time(bearer(get, &admin).expect("request")).await), Code::NotFound);
    assert_eq!(Client::new(&server.gateway, Some(&admin)).get(&format!("/api/v1/groups/{unknown}/time")).await.0, 404);

    // A group identity just created is known at once, before its event reached tickets.
    let service = server.service_token().await;
    let group = GroupServiceClient::new(server.identity_channel())
        .create_group(bearer(id::CreateGroupRequest { name: "ACME".into(), ..Default::default() }, &service).expect("request"))
        .await
        .expect("group")
        .into_inner();
    let grant = pb::GrantGroupTimeRequest { group_id: group.id.clone(), minutes: 60, note: String::new() };
    let balance = rpc.grant_group_time(bearer(grant, &admin).expect("request")).await.expect("grant").into_inner();
    assert_eq!(balance.remaining_minutes, 60);

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn list_messages_pages_by_size_and_token_and_the_gateway_still_shows_the_whole_conversation() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let email = unique("ann");
    let token = server.contact_token(&email).await;
    let ticket = file_ticket(&server, &token, "A long conversation").await;
    let mut tickets = server.clients.tickets();
    for n in 0..120 {
        let reply = pb::ReplyRequest { ticket_id: ticket.id.clone(), text: format!("reply {n}"), ..Default::default() };
        tickets.reply(bearer(reply, &token).expect("request")).await.expect("reply");
    }

    let page = |page_size: u32, page_token: String| pb::ListMessagesRequest { ticket_id: ticket.id.clone(), page_size, page_token };
    let mut seen = Vec::new();
    let mut next = String::new();
    loop {
        let answer = tickets.list_messages(bearer(page(50, next), &token).expect("request")).await.expect("page").into_inner();
        assert!(answer.messages.len() <= 50);
        seen.extend(answer.messages.into_iter().map(|m| m.text));
        if answer.next_page_token.is_empty() {
            break;
        }
        next = answer.next_page_token;
    }
    let expected: Vec<String> = std::iter::once("About A long conversation".to_string()).chain((0..120).map(|n| format!("reply {n}"))).collect();
    assert_eq!(seen, expected, "every message once, oldest first");

    let default = tickets.list_messages(bearer(page(0, String::new()), &token).expect("request")).await.expect("default").into_inner();
    assert_eq!(default.messages.len(), 25, "the default page size, as for ticket lists");
    let huge = tickets.list_messages(bearer(page(100_000, String::new()), &token).expect("request")).await.expect("max").into_inner();
    assert_eq!(huge.messages.len(), 100, "the maximum page size");
    let bad = tickets.list_messages(bearer(page(10, "not-a-token".into()), &token).expect("request")).await.expect_err("bad token");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("page_token"), "{}", bad.message());

    let (status, all) = Client::new(&server.gateway, Some(&token)).get(&format!("/api/v1/tickets/{}/messages", ticket.id)).await;
    assert_eq!(status, 200);
    assert_eq!(all.as_array().map(Vec::len), Some(121), "the gateway follows the pages");

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn reply_answers_with_the_attachments_it_stored() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let token = server.contact_token(&unique("ann")).await;
    let ticket = file_ticket(&server, &token, "With a file").await;
    let mut tickets = server.clients.tickets();
    let upload = pb::UploadAttachmentRequest { filename: "notes.txt".into(), content_type: "text/plain".into(), data: b"hello".to_vec() };
    let uploaded = tickets.upload_attachment(bearer(upload, &token).expect("request")).await.expect("upload").into_inner();
    let reply = pb::ReplyRequest {
        ticket_id: ticket.id.clone(),
        text: "See the file".into(),
        attachments: vec![pb::AttachmentRef { id: uploaded.id.clone(), ..Default::default() }],
        ..Default::default()
    };
    let message = tickets.reply(bearer(reply, &token).expect("request")).await.expect("reply").into_inner();
    let listed = tickets
        .list_messages(bearer(pb::ListMessagesRequest { ticket_id: ticket.id.clone(), ..Default::default() }, &token).expect("request"))
        .await
        .expect("list")
        .into_inner()
        .messages
        .into_iter()
        .find(|m| m.id == message.id)
        .expect("the reply is listed");
    assert_eq!(message.attachments.len(), 1, "{message:?}");
    assert_eq!(message.attachments[0].id, uploaded.id);
    assert_eq!(message.attachments, listed.attachments, "the same shape as ListMessages");

    server.stop().await.expect("stop");
}

/// Files a ticket as the contact, retrying until the group membership reached tickets.
async fn file_in_group(server: &Server, token: &str, group: Uuid, subject: &str) -> String {
    let group = group.to_string();
    let what = format!("tickets files the contact's tickets in group {group}");
    wait_until(Duration::from_secs(10), &what, async || file_ticket(server, token, subject).await, |t| t.group_id == group)
        .await
        .id
}

#[tokio::test]
async fn group_time_shows_a_member_the_balance_but_only_the_history_of_tickets_she_may_see() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let group = Uuid::new_v4();
    let (ann_email, bob_email) = (unique("ann"), unique("bob"));
    for email in [&ann_email, &bob_email] {
        let contact = contact_id(&server, email).await;
        env.publish_event(Payload::GroupMembershipChanged(GroupMembershipChanged { group_id: group.to_string(), contact_id: contact, member: true }))
            .await;
    }
    env.publish_event(Payload::GroupUpdated(GroupUpdated { group_id: group.to_string(), name: "No sharing".into(), share_tickets: false })).await;
    let (ann, bob) = (server.contact_token(&ann_email).await, server.contact_token(&bob_email).await);
    let ann_ticket = file_in_group(&server, &ann, group, "Ann's ticket").await;
    let bob_ticket = file_in_group(&server, &bob, group, "Bob's ticket").await;

    let (_, admin) = env.staff_token(StaffRole::Admin);
    let (_, agent) = env.staff_token(StaffRole::Agent);
    let grant = pb::GrantGroupTimeRequest { group_id: group.to_string(), minutes: 120, note: "Q4".into() };
    admin_rpc(&server).await.grant_group_time(bearer(grant, &admin).expect("request")).await.expect("grant");
    let mut tickets = server.clients.tickets();
    for (ticket, note) in [(&ann_ticket, "ann's printer fixed"), (&bob_ticket, "bob's secret payroll issue")] {
        let log = pb::LogTimeRequest { ticket_id: ticket.clone(), minutes: 15, note: note.into() };
        tickets.log_time(bearer(log, &agent).expect("request")).await.expect("log");
    }

    let time_of = async |token: &str| {
        admin_rpc(&server)
            .await
            .get_group_time(bearer(pb::GetGroupTimeRequest { group_id: group.to_string() }, token).expect("request"))
            .await
            .expect("group time")
            .into_inner()
    };
    let seen_by_ann = time_of(&ann).await;
    assert_eq!(seen_by_ann.balance.as_ref().map(|b| b.remaining_minutes), Some(90), "the balance counts everyone's time");
    let tickets_in = |history: &[pb::TimeEntry]| history.iter().map(|e| e.ticket_id.clone()).filter(|t| !t.is_empty()).collect::<Vec<_>>();
    assert_eq!(tickets_in(&seen_by_ann.history), std::slice::from_ref(&ann_ticket), "only her own ticket's entries");
    assert!(!format!("{:?}", seen_by_ann.history).contains("payroll"), "no colleague's notes");
    assert!(seen_by_ann.history.iter().any(|e| e.minutes == 120), "grants are the group's, shown to members");
    let seen_by_staff = time_of(&agent).await;
    assert_eq!(tickets_in(&seen_by_staff.history).len(), 2, "staff see all");

    let (status, http) = Client::new(&server.gateway, Some(&bob)).get(&format!("/api/v1/groups/{group}/time")).await;
    assert_eq!(status, 200);
    assert_eq!(http["remaining_minutes"], 90);
    let text = http["history"].to_string();
    assert!(text.contains(&bob_ticket) && !text.contains(&ann_ticket) && !text.contains("printer"), "{text}");

    server.stop().await.expect("stop");
}

#[tokio::test]
async fn passwords_are_compared_after_unicode_normalization() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let email = unique("zoe");
    let mut accounts = AccountServiceClient::new(server.identity_channel());
    let request = id::RequestAccountRequest { name: "Zoë".into(), email: email.clone(), ..Default::default() };
    accounts.request_account(request).await.expect("sign-up");
    let mails = wait_for_mail(&email, 1).await;
    let token = link_token(mails.last().expect("activation mail"), "activate");
    // Composed é and full-width digits when the account is made …
    let composed = "caf\u{e9} au lait \u{ff11}\u{ff12}\u{ff13}";
    let activate = id::ActivateAccountRequest { token, password: composed.into(), ..Default::default() };
    accounts.activate_account(activate).await.expect("activate");
    // … decomposed e + combining acute and ASCII digits when typed on another device.
    let login = |password: &str| id::LoginRequest { email: email.clone(), password: password.into(), ..Default::default() };
    accounts.login(login("cafe\u{301} au lait 123")).await.expect("the same password, typed differently");
    accounts.login(login(composed)).await.expect("as typed first");
    assert_eq!(code(&accounts.login(login("cafe au lait 123")).await), Code::Unauthenticated, "a different password");

    server.stop().await.expect("stop");
}
