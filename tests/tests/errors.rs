//! The error path of identity and kb, end to end: a violated constraint is answered as what it
//! means by the constraint's name (a vanished article is "not found", a vanished category is the
//! caller's `category_id`, a taken group name "already exists"), and an unexpected database
//! failure is answered `INTERNAL` with a reference id and nothing of the SQL.
//!
//! The races are made deterministic from the test's own connection: a transaction deletes the
//! row and holds it while the service's insert waits on the foreign key check, then commits.

use helpdesk_kit::auth::bearer;
use helpdesk_proto::{
    identity::v1::{self as identity, group_service_client::GroupServiceClient},
    kb::v1 as kb,
};
use helpdesk_tests::{Server, TestEnv, eventually};
use sqlx::PgPool;
use tonic::Code;

/// Published and public, as an article is unless the request says otherwise.
async fn public_article(server: &Server, title: &str) -> kb::Article {
    let article = kb::CreateArticleRequest { title: title.into(), body_markdown: "How refunds work.".into(), ..Default::default() };
    server.clients.create_article(article).await.expect("create article")
}

/// Runs `call` while the test's own transaction deletes `id` from `table` and holds it: the
/// service still sees the row, so its write that references the row waits on the foreign key
/// check. Once a statement starting with `statement` waits for that lock, the deletion commits,
/// and the answer is what the service makes of the violated constraint.
async fn while_deleting<T: Send + 'static>(
    pg: &PgPool,
    table: &str,
    id: &str,
    statement: &str,
    call: impl Future<Output = T> + Send + 'static,
) -> T {
    let mut deleting = pg.begin().await.expect("begin");
    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE id = $1")))
        .bind(uuid::Uuid::parse_str(id).expect("an id"))
        .execute(&mut *deleting)
        .await
        .expect("delete");
    let answer = tokio::spawn(call);
    let pattern = format!("{statement}%");
    eventually(&format!("`{statement}` waits for the test's transaction"), async || {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1",
        )
        .bind(&pattern)
        .fetch_one(pg)
        .await
        .expect("pg_stat_activity");
        waiting > 0
    })
    .await;
    deleting.commit().await.expect("commit");
    answer.await.expect("the call's task")
}

#[tokio::test]
async fn feedback_on_an_article_deleted_meanwhile_is_not_found_not_a_bad_category() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let article = public_article(&server, "Refunds").await;
    let pg = env.pg().await;

    let mut client = server.clients.kb();
    let feedback = kb::RecordFeedbackRequest {
        article_id: article.id.clone(),
        kind: kb::FeedbackKind::Click as i32,
        query: "refund".into(),
    };
    let answer = while_deleting(&pg, "kb.articles", &article.id, "INSERT INTO feedback", async move {
        client.record_feedback(feedback).await
    })
    .await;

    let error = answer.expect_err("the article is gone");
    assert_eq!(error.code(), Code::NotFound, "{error:?}");
    assert_eq!(error.message(), "article not found");
    assert!(!error.message().contains("category"), "{error:?}");
}

#[tokio::test]
async fn an_article_filed_under_a_category_deleted_meanwhile_is_refused_for_its_category_id() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let token = server.service_token().await;
    let category = server
        .clients
        .kb()
        .create_category(bearer(kb::CreateCategoryRequest { name: "Billing".into(), description: String::new() }, &token).expect("request"))
        .await
        .expect("category")
        .into_inner();
    let pg = env.pg().await;

    let mut client = server.clients.kb();
    let create = kb::CreateArticleRequest { title: "Invoices".into(), category_id: category.id.clone(), ..Default::default() };
    let request = bearer(create, &token).expect("request");
    let answer = while_deleting(&pg, "kb.categories", &category.id, "INSERT INTO articles", async move {
        client.create_article(request).await
    })
    .await;

    let error = answer.expect_err("the category is gone");
    assert_eq!(error.code(), Code::InvalidArgument, "{error:?}");
    assert!(error.message().starts_with("category_id:"), "{error:?}");
}

#[tokio::test]
async fn renaming_a_group_onto_another_groups_name_is_already_exists_whatever_the_case() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let mut groups = GroupServiceClient::new(server.identity_channel());
    let token = server.service_token().await;
    let create = |name: &str| {
        bearer(identity::CreateGroupRequest { name: name.into(), ..Default::default() }, &token).expect("request")
    };
    groups.create_group(create("Acme")).await.expect("acme");
    let globex = groups.create_group(create("Globex")).await.expect("globex").into_inner();

    let rename = identity::UpdateGroupRequest { id: globex.id.clone(), name: Some("ACME".into()), ..Default::default() };
    let error = groups.update_group(bearer(rename, &token).expect("request")).await.expect_err("name taken");
    assert_eq!(error.code(), Code::AlreadyExists, "{error:?}");
    assert_eq!(error.message(), "a group with this name already exists");
    let error = groups.create_group(create("acme")).await.expect_err("name taken");
    assert_eq!(error.code(), Code::AlreadyExists, "{error:?}");
}

/// What an unexpected failure may tell the caller: that it happened, and the reference id the
/// log line carries — no table, no SQL, no database message.
fn assert_opaque(error: &tonic::Status, table: &str) {
    assert_eq!(error.code(), Code::Internal, "{error:?}");
    assert!(error.message().starts_with("internal error (reference "), "{error:?}");
    for leak in [table, "relation", "does not exist", "SELECT"] {
        assert!(!error.message().contains(leak), "{leak:?} leaked: {error:?}");
    }
}

#[tokio::test]
async fn an_unexpected_database_failure_is_answered_internal_with_only_a_reference_id() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let token = server.service_token().await;
    let pg = env.pg().await;
    // Tables that are suddenly not where the services' SQL looks: their queries fail.
    for sql in ["ALTER TABLE kb.categories RENAME TO categories_moved", "ALTER TABLE identity.contact_groups RENAME TO contact_groups_moved"] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pg).await.expect(sql);
    }

    let error = server
        .clients
        .kb()
        .list_categories(kb::ListCategoriesRequest {})
        .await
        .expect_err("kb's categories are gone");
    assert_opaque(&error, "categories");
    let error = GroupServiceClient::new(server.identity_channel())
        .list_groups(bearer(identity::ListGroupsRequest {}, &token).expect("request"))
        .await
        .expect_err("identity's groups are gone");
    assert_opaque(&error, "contact_groups");
}
