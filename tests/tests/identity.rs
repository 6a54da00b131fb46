//! Identity's slice: find-or-create is idempotent, case-insensitive and safe under concurrency;
//! tokens are issued only to those who may have them; a contact reads only themselves.

use helpdesk_kit::auth::bearer;
use helpdesk_proto::identity::v1::{
    FindOrCreateContactRequest, GetContactRequest, IssueContactTokenRequest, IssueServiceTokenRequest,
    contact_service_client::ContactServiceClient, find_or_create_contact_request::Key,
    issue_contact_token_request, token_service_client::TokenServiceClient,
};
use helpdesk_tests::TestEnv;
use tonic::Code;

#[tokio::test]
async fn concurrent_find_or_create_with_differently_cased_addresses_yields_one_contact() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let token = server.clients.service_token().await.expect("service token");
    let channel = tonic::transport::Endpoint::from_shared(server.config.shared.endpoints.identity.clone())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");

    let mut calls = Vec::new();
    for i in 0..16 {
        let mut client = ContactServiceClient::new(channel.clone());
        let address = if i % 2 == 0 { "Erin@Example.COM" } else { " erin@example.com" };
        let request = bearer(
            FindOrCreateContactRequest {
                key: Some(Key::Email(address.into())),
                name: "Erin".into(),
            },
            &token,
        )
        .expect("request");
        calls.push(tokio::spawn(async move { client.find_or_create_contact(request).await }));
    }
    let mut ids = Vec::new();
    let mut created = 0;
    for call in calls {
        let response = call.await.expect("task").expect("find_or_create").into_inner();
        created += usize::from(response.created);
        ids.push(response.contact.expect("contact").id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(created, 1);

    let pg = env.pg().await;
    let (contacts, addresses): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM identity.contacts), (SELECT count(*) FROM identity.contact_emails)",
    )
    .fetch_one(&pg)
    .await
    .expect("counts");
    assert_eq!((contacts, addresses), (1, 1));

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn tokens_and_contacts_are_guarded() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let channel = tonic::transport::Endpoint::from_shared(server.config.shared.endpoints.identity.clone())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut tokens = TokenServiceClient::new(channel.clone());
    let mut contacts = ContactServiceClient::new(channel);

    // The wrong service secret gets nothing, and says nothing about why beyond that.
    let wrong = tokens
        .issue_service_token(IssueServiceTokenRequest { service: "tickets".into(), secret: "guess".into() })
        .await
        .expect_err("wrong secret");
    assert_eq!(wrong.code(), Code::Unauthenticated);

    let frank = server.contact_token("frank@example.com").await;
    let grace = server.contact_token("grace@example.com").await;
    let frank_id = server.clients.find_or_create_contact("frank@example.com", "").await.expect("id");

    // A contact cannot mint tokens or create contacts.
    let minted = tokens
        .issue_contact_token(
            bearer(
                IssueContactTokenRequest {
                    contact: Some(issue_contact_token_request::Contact::Email("grace@example.com".into())),
                },
                &frank,
            )
            .expect("request"),
        )
        .await
        .expect_err("contacts cannot mint tokens");
    assert_eq!(minted.code(), Code::PermissionDenied);
    let create = contacts
        .find_or_create_contact(
            bearer(
                FindOrCreateContactRequest { key: Some(Key::Email("x@example.com".into())), name: String::new() },
                &frank,
            )
            .expect("request"),
        )
        .await
        .expect_err("contacts cannot create contacts");
    assert_eq!(create.code(), Code::PermissionDenied);

    // Frank reads himself; Grace asking about Frank hears "not found"; anonymous must sign in.
    let own = contacts
        .get_contact(bearer(GetContactRequest { id: frank_id.clone() }, &frank).expect("request"))
        .await
        .expect("own contact")
        .into_inner();
    assert_eq!(own.emails[0].address, "frank@example.com");
    let foreign = contacts
        .get_contact(bearer(GetContactRequest { id: frank_id.clone() }, &grace).expect("request"))
        .await
        .expect_err("foreign contact");
    assert_eq!(foreign.code(), Code::NotFound);
    let anonymous = contacts
        .get_contact(GetContactRequest { id: frank_id })
        .await
        .expect_err("anonymous");
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    // Unknown addresses and malformed input.
    let unknown = server
        .clients
        .contact_token(issue_contact_token_request::Contact::Email("nobody@example.com".into()))
        .await
        .expect_err("no such contact");
    assert!(unknown.to_string().contains("not found"), "{unknown}");
    let service = server.clients.service_token().await.expect("service token");
    let malformed = contacts
        .find_or_create_contact(
            bearer(
                FindOrCreateContactRequest { key: Some(Key::Email("not an address".into())), name: String::new() },
                &service,
            )
            .expect("request"),
        )
        .await
        .expect_err("malformed address");
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert!(malformed.message().starts_with("email:"), "{}", malformed.message());

    server.stop().await.expect("clean shutdown");
}
