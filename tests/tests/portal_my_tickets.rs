//! My Tickets (`GET /tickets`) over HTTP, with tickets seeded over gRPC: the guest's way to log
//! in and back, counts per queue and category, the filters, sort, search and page links changing
//! the rows, `aria-sort` and `aria-current`, nobody else's tickets, the group view with a
//! colleague's ticket and the support-time alert, and bad parameters that never make a 500.
//! (The same page in Chromium, at both widths with JavaScript on and off: tests/browser/my-tickets.test.mjs.)

use helpdesk_kit::auth::{StaffRole, bearer};
use helpdesk_proto::{
    identity::v1::{self as id, group_service_client::GroupServiceClient},
    tickets::v1::{self as pb, ticket_admin_service_client::TicketAdminServiceClient},
};
use helpdesk_tests::{Server, TestEnv, eventually, http};
use reqwest::{StatusCode, header};

/// A due date on 2031-03-15, noon UTC.
const DUE: i64 = 1_931_342_400;

/// The page at `path` as the contact with `token` sees it.
async fn page(server: &Server, token: &str, path: &str) -> (StatusCode, String) {
    let response = http()
        .get(format!("{}{path}", server.gateway))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .expect("GET");
    let status = response.status();
    (status, response.text().await.expect("html"))
}

/// The page, which must answer 200.
async fn ok(server: &Server, token: &str, path: &str) -> String {
    let (status, html) = page(server, token, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {html}");
    html
}

/// The `href` of the link whose attribute list ends with `marker` (`rel="next"`), unescaped.
fn link(html: &str, marker: &str) -> Option<String> {
    let before = html.split(&format!("{marker}>")).next().filter(|b| b.len() < html.len())?;
    let href = before.rsplit("href=\"").next()?.split('"').next()?;
    Some(href.replace("&#38;", "&"))
}

/// Where each subject appears on the page (`None`: not listed), for asserting order.
fn positions(html: &str, subjects: &[&str]) -> Vec<Option<usize>> {
    subjects.iter().map(|s| html.find(&format!(">{s}</a>"))).collect()
}

fn listed(html: &str, subject: &str) -> bool {
    html.contains(&format!(">{subject}</a>"))
}

/// Whether the navigation link whose first text is `label` is marked as the current one.
fn current(html: &str, label: &str) -> bool {
    let before = html.split(&format!("<span>{label}</span>")).next().unwrap_or("");
    before.rsplit("<a ").next().is_some_and(|a| a.contains("aria-current=\"page\""))
}

/// The count shown in the navigation link whose first text is `label`.
fn count(html: &str, label: &str) -> u64 {
    let after = html.split(&format!("<span>{label}</span>")).nth(1).unwrap_or_else(|| panic!("no {label} link: {html}"));
    let number = after.split("<span class=\"count\">").nth(1).and_then(|r| r.split('<').next()).expect("count");
    number.parse().expect("a number")
}

async fn admin_client(server: &Server) -> TicketAdminServiceClient<tonic::transport::Channel> {
    TicketAdminServiceClient::new(server.clients.tickets_channel())
}

async fn category(server: &Server, admin: &str, name: &str) -> String {
    let category = pb::Category { id: String::new(), name: name.into(), fields: vec![], active: true };
    admin_client(server).await.upsert_category(bearer(category, admin).expect("req")).await.expect("category").into_inner().id
}

async fn file(server: &Server, token: &str, request: pb::CreateTicketRequest) -> pb::Ticket {
    let request = pb::CreateTicketRequest { text: format!("About: {}", request.subject), ..request };
    server.clients.tickets().create_ticket(bearer(request, token).expect("req")).await.expect("create").into_inner()
}

fn ticket(subject: &str, category_id: &str, priority: &str) -> pb::CreateTicketRequest {
    pb::CreateTicketRequest {
        subject: subject.into(),
        category_id: category_id.into(),
        priority_id: priority.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_guest_is_sent_to_log_in_and_back_to_the_same_list() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let response = client.get(format!("{}/tickets?queue=all&q=vpn", server.gateway)).send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[header::LOCATION].to_str().expect("location");
    assert_eq!(location, "/login?next=%2Ftickets%3Fqueue%3Dall%26q%3Dvpn");
    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn queues_categories_filters_sort_and_search_change_the_rows_and_nobody_elses_are_listed() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let (_, admin) = env.staff_token(StaffRole::Admin);
    let (_, agent) = env.staff_token(StaffRole::Agent);
    let billing = category(&server, &admin, "Billing").await;
    let technical = category(&server, &admin, "Technical").await;
    let alice = server.contact_token("alice@example.com").await;
    let mallory = server.contact_token("mallory@example.com").await;

    let invoice = file(&server, &alice, ticket("Invoice charged twice", &billing, "high")).await;
    let mut vpn = ticket("VPN drops every hour", &technical, "urgent");
    vpn.due_at = Some(Default::default());
    if let Some(due) = vpn.due_at.as_mut() {
        due.seconds = DUE;
    }
    file(&server, &alice, vpn).await;
    let printer = file(&server, &alice, ticket("Printer jams on page two", "", "low")).await;
    let done = pb::UpdateTicketRequest { ticket_id: printer.id.clone(), status_id: Some("completed".into()), ..Default::default() };
    server.clients.tickets().update_ticket(bearer(done, &agent).expect("req")).await.expect("complete");
    file(&server, &mallory, ticket("Mallory's private matter", &billing, "urgent")).await;
    let all = ["Invoice charged twice", "VPN drops every hour", "Printer jams on page two"];

    // The default is Pending, newest first; counts per queue and per category.
    let html = ok(&server, &alice, "/tickets").await;
    let at = positions(&html, &all);
    assert!(at[0].is_some() && at[1].is_some() && at[2].is_none(), "pending only: {html}");
    assert!(at[1] < at[0], "newest first: {html}");
    assert_eq!((count(&html, "Pending"), count(&html, "Completed"), count(&html, "All")), (2, 1, 3));
    assert_eq!((count(&html, "Billing"), count(&html, "Technical")), (1, 1), "alice's own, not mallory's");
    assert!(current(&html, "Pending") && !current(&html, "All"), "the current queue: {html}");
    assert!(html.contains(&format!("<a href=\"/tickets/{}\">Invoice charged twice</a>", invoice.id)));
    assert!(html.contains("<span class=\"pill\">Open</span>") && html.contains(">High<") && html.contains(">Billing<"));
    assert!(html.contains("<time datetime=\"2031-03-15T12:00:00+00:00\">"), "the due date as a <time>: {html}");
    assert!(html.contains(&format!("#{}", invoice.number)));

    let completed = ok(&server, &alice, "/tickets?queue=completed").await;
    assert_eq!(positions(&completed, &all).iter().map(Option::is_some).collect::<Vec<_>>(), [false, false, true]);
    assert!(completed.contains("pill pill--completed\">Completed<"));
    let everything = ok(&server, &alice, "/tickets?queue=all").await;
    assert!(all.iter().all(|s| listed(&everything, s)));

    // Category (with aria-current on its link), status, priority, dates.
    let html = ok(&server, &alice, &format!("/tickets?queue=all&category={billing}")).await;
    assert_eq!(positions(&html, &all).iter().map(Option::is_some).collect::<Vec<_>>(), [true, false, false]);
    assert!(current(&html, "Billing") && current(&html, "All") && !current(&html, "Every category"), "{html}");
    assert!(html.contains(&format!("name=\"category\" value=\"{billing}\"")), "the filter form keeps the category");
    let only = |html: &str| all.iter().filter(|s| listed(html, s)).copied().collect::<Vec<_>>();
    for (query, expected) in [
        ("queue=all&status=completed", vec!["Printer jams on page two"]),
        ("queue=all&priority=urgent", vec!["VPN drops every hour"]),
        ("queue=all&created_from=2000-01-01&created_to=2999-12-31", all.to_vec()),
        ("queue=all&created_from=2999-01-01", vec![]),
        ("queue=all&created_to=2000-01-01", vec![]),
        ("queue=all&due_from=2031-03-15&due_to=2031-03-15", vec!["VPN drops every hour"]),
        ("queue=all&due_to=2031-03-14", vec![]),
        ("queue=all&q=vpn", vec!["VPN drops every hour"]),
        ("queue=all&q=printer&category=", vec!["Printer jams on page two"]),
    ] {
        let html = ok(&server, &alice, &format!("/tickets?{query}")).await;
        assert_eq!(only(&html), expected, "{query}");
        if expected.is_empty() {
            assert!(html.contains("No tickets match this search and these filters"), "{query}: {html}");
            assert!(html.contains("href=\"/tickets/new\""), "an empty list links to a new ticket");
        }
    }
    let html = ok(&server, &alice, "/tickets?queue=all&status=waiting&q=vpn").await;
    assert!(html.contains("<option value=\"waiting\" selected>") && html.contains("value=\"vpn\""), "the form shows the state");

    // Sort: header links with aria-sort on the sorted column only.
    let html = ok(&server, &alice, "/tickets?queue=pending&sort=priority&dir=desc").await;
    let at = positions(&html, &all);
    assert!(at[1] < at[0], "urgent before high");
    assert_eq!(html.matches("aria-sort=").count(), 1);
    assert!(html.contains("aria-sort=\"descending\" class=\"ticket-table__sortable\""), "{html}");
    assert!(html.contains("href=\"/tickets?queue=pending&#38;sort=priority&#38;dir=asc\">Priority"), "the sorted column flips: {html}");
    assert!(html.contains("href=\"/tickets?queue=pending&#38;sort=due&#38;dir=asc\">Due"), "another starts soonest first");
    let html = ok(&server, &alice, "/tickets?queue=pending&sort=priority&dir=asc").await;
    let at = positions(&html, &all);
    assert!(at[0] < at[1], "high before urgent");
    assert!(html.contains("aria-sort=\"ascending\""));
    let html = ok(&server, &alice, "/tickets?queue=all&sort=due&dir=asc").await;
    let at = positions(&html, &all);
    assert!(at[1] < at[0] && at[1] < at[2], "the one with a due date first");

    // Nobody else's tickets, whatever the parameters.
    for query in ["", "queue=all", "queue=all&q=mallory", &format!("queue=all&category={billing}"), "queue=all&scope=group", "queue=all&priority=urgent"] {
        let html = ok(&server, &alice, &format!("/tickets?{query}")).await;
        assert!(!html.contains("Mallory"), "{query}: {html}");
    }
    // A contact without a group is offered no group view, and asking for one is a notice.
    let html = ok(&server, &alice, "/tickets?scope=group").await;
    assert!(!html.contains("My group's tickets</a>") && html.contains("the choice of whose tickets to show"), "{html}");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn pages_go_forward_back_and_to_the_first_through_the_links() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let paula = server.contact_token("paula@example.com").await;
    let subjects: Vec<String> = (1..=23).map(|i| format!("Question number {i:02}")).collect();
    for subject in &subjects {
        file(&server, &paula, ticket(subject, "", "")).await;
    }
    let on = |html: &str| subjects.iter().filter(|s| listed(html, s)).cloned().collect::<Vec<_>>();

    let first = ok(&server, &paula, "/tickets?queue=all&sort=created&dir=asc").await;
    assert_eq!(on(&first), subjects[..20].to_vec(), "oldest first, twenty a page");
    assert!(link(&first, "rel=\"prev\"").is_none() && !first.contains(">First page<"));
    let next = link(&first, "rel=\"next\"").expect("a next page");
    assert!(next.starts_with("/tickets?queue=all&sort=created&dir=asc&after="), "{next}");

    let second = ok(&server, &paula, &next).await;
    assert_eq!(on(&second), subjects[20..].to_vec());
    assert!(link(&second, "rel=\"next\"").is_none(), "the last page");
    assert!(second.contains(">First page</a>"));
    let previous = link(&second, "rel=\"prev\"").expect("previous");
    assert_eq!(previous, "/tickets?queue=all&sort=created&dir=asc");
    assert_eq!(on(&ok(&server, &paula, &previous).await), subjects[..20].to_vec());
    assert_eq!(count(&first, "All"), 23);

    // A cursor made for another sort, or one the service never issued: the first page, said so.
    let other_sort = next.replace("dir=asc", "dir=desc");
    for stale in [other_sort, "/tickets?queue=all&after=bm90LWEtY3Vyc29y".to_string()] {
        let html = ok(&server, &paula, &stale).await;
        assert!(html.contains("belongs to an older list"), "{stale}: {html}");
        assert_eq!(on(&html).len(), 20, "{stale}");
    }

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_group_member_sees_a_colleagues_ticket_and_the_groups_time_alert() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let service = server.service_token().await;
    let (_, admin) = env.staff_token(StaffRole::Admin);
    let (_, agent) = env.staff_token(StaffRole::Agent);
    let mut groups = GroupServiceClient::new(server.identity_channel());
    let mut contacts = Vec::new();
    for (group_name, emails) in [("Acme", vec!["ann@acme.example", "ben@acme.example"]), ("Globex", vec!["olga@globex.example"])] {
        let request = id::CreateGroupRequest { name: group_name.into(), share_tickets: true, auto_join_domains: vec![] };
        let group = groups.create_group(bearer(request, &service).expect("req")).await.expect("group").into_inner();
        for email in emails {
            let contact = server.clients.find_or_create_contact(email, "").await.expect("contact");
            let member = id::GroupMemberRequest { group_id: group.id.clone(), contact_id: contact.clone() };
            groups.add_group_member(bearer(member, &service).expect("req")).await.expect("member");
            contacts.push((email, group.id.clone()));
        }
    }
    let pg = env.pg().await;
    eventually("tickets knows the members", || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM tickets.group_members").fetch_one(&pg).await.expect("count") == 3
    })
    .await;
    let acme = contacts[0].1.clone();
    let (ann, ben, olga) = (
        server.contact_token("ann@acme.example").await,
        server.contact_token("ben@acme.example").await,
        server.contact_token("olga@globex.example").await,
    );
    let projector = file(&server, &ben, ticket("Projector flickers <b>badly</b>", "", "")).await;
    assert_eq!(projector.group_id, acme);
    file(&server, &ann, ticket("Ann's own question", "", "")).await;
    let escaped = "Projector flickers &#60;b&#62;badly&#60;/b&#62;";

    // Before any support time is granted there is nothing to warn about.
    let html = ok(&server, &ann, "/tickets?scope=group").await;
    assert!(!html.contains("support time"), "{html}");

    let grant = pb::GrantGroupTimeRequest { group_id: acme.clone(), minutes: 120, note: "Q4".into() };
    admin_client(&server).await.grant_group_time(bearer(grant, &admin).expect("req")).await.expect("grant");
    let log = |minutes: i32| pb::LogTimeRequest { ticket_id: projector.id.clone(), minutes, note: "on site".into() };
    server.clients.tickets().log_time(bearer(log(100), &agent).expect("req")).await.expect("log");

    let html = ok(&server, &ann, "/tickets?scope=group").await;
    assert!(html.contains(escaped) && !html.contains("<b>badly"), "the colleague's ticket, escaped: {html}");
    assert!(html.contains("Ann&#39;s own question"));
    assert!(html.contains(">A colleague</td>") && html.contains(">You</td>"), "who filed each: {html}");
    assert!(html.contains("role=\"alert\"") && html.contains("running low") && html.contains("Time left: 20 min."), "{html}");
    assert!(html.contains("aria-current=\"page\">My group's tickets</a>"), "{html}");
    assert!(html.contains("<h1>My group's tickets</h1>"));
    assert_eq!(count(&html, "All"), 2);
    // Her own list: not Ben's ticket, but the same alert.
    let html = ok(&server, &ann, "/tickets").await;
    assert!(!html.contains("Projector") && html.contains("Time left: 20 min."), "{html}");
    assert!(html.contains("aria-current=\"page\">My tickets</a>"));
    // Another group's member sees neither the ticket nor Acme's time.
    let html = ok(&server, &olga, "/tickets?scope=group&queue=all").await;
    assert!(!html.contains("Projector") && !html.contains("support time"), "{html}");

    server.clients.tickets().log_time(bearer(log(50), &agent).expect("req")).await.expect("log");
    let html = ok(&server, &ann, "/tickets").await;
    assert!(html.contains("used up") && html.contains("Balance: 30 min over what was granted."), "{html}");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn parameters_the_page_cannot_use_are_ignored_with_a_notice_never_a_500() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let carl = server.contact_token("carl@example.com").await;
    file(&server, &carl, ticket("<script>alert('x')</script> & more", "", "")).await;
    let long = "word ".repeat(60);
    for (query, notice) in [
        ("queue=closed", "the queue"),
        ("sort=colour", "the sort column"),
        ("dir=sideways", "the sort direction"),
        ("created_from=2026-02-30", "\"created from\" date"),
        ("created_to=yesterday", "\"created to\" date"),
        ("due_from=%3Cscript%3E", "\"due from\" date"),
        ("due_to=99999-01-01", "\"due to\" date"),
        ("status=no-such-status", "the status, which does not exist"),
        ("priority=%27%3B--", "the priority"),
        ("category=00000000-0000-0000-0000-000000000000", "the category, which does not exist"),
        ("after=%22%3E%3Cscript%3E", "belongs to an older list"),
        ("after=abc&back=%3Cx%3E", "the page trail"),
        ("q=a%00b", "the search"),
        (&format!("q={long}"), "the search"),
    ] {
        let (status, html) = page(&server, &carl, &format!("/tickets?queue=all&{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {html}");
        assert!(html.contains("Part of this address could not be used") && html.contains(notice), "{query}: {html}");
        assert!(html.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; more"), "{query}: still the list");
        assert!(!html.contains("<script>alert") && !html.contains("\"><script>"), "{query}: escaped");
    }
    // Bytes that are not UTF-8, repeated and unknown parameters: read as well as they can be.
    for query in ["q=%FF%FE", "queue=all&queue=completed&queue=all", "utm_source=x&page=2", "sort=&dir=&status="] {
        let (status, html) = page(&server, &carl, &format!("/tickets?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {html}");
    }
    server.stop().await.expect("clean shutdown");
}
