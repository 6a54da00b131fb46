//! Attachments: uploaded through the gateway as multipart, stored in the blob store, attached by
//! their uploader only and only once, listed with the conversation, and downloaded only after the
//! ticket's authorization check — always as a download, with the type sniffed from the bytes.

use helpdesk_tests::{Client, TestEnv};
use serde_json::json;

#[tokio::test]
async fn attachments_go_up_once_and_come_down_only_to_those_who_may_see_the_ticket() {
    let mut env = TestEnv::new().await;
    env.config.tickets.attachment_max_bytes = 4096;
    let server = env.start().await;
    let kim = Client::new(&server.gateway, Some(&server.contact_token("kim@example.com").await));
    let lee = Client::new(&server.gateway, Some(&server.contact_token("lee@example.com").await));
    let anonymous = Client::new(&server.gateway, None);

    // An HTML page posing as a PNG: stored, but served as opaque bytes and as a download.
    let page = b"<html><script>steal()</script></html>".to_vec();
    let (status, upload) = kim.upload("../../shot.png", "image/png", page.clone()).await;
    assert_eq!(status, 201, "{upload}");
    assert_eq!(upload["filename"], "shot.png");
    assert_eq!(upload["content_type"], "application/octet-stream");
    let attachment = upload["id"].as_str().expect("id").to_string();

    // Someone else cannot attach Kim's upload.
    let (status, body) = lee
        .post("/api/v1/tickets", json!({ "subject": "Mine now", "message": "x", "attachments": [attachment] }))
        .await;
    assert_eq!(status, 422, "{body}");

    let (status, ticket) = kim
        .post("/api/v1/tickets", json!({ "subject": "Screenshot", "message": "see attached", "attachments": [attachment] }))
        .await;
    assert_eq!(status, 201, "{ticket}");
    let ticket = ticket["id"].as_str().expect("id").to_string();
    // Once attached, it cannot be attached again.
    let (status, _) = kim
        .post("/api/v1/tickets", json!({ "subject": "Again", "message": "x", "attachments": [attachment] }))
        .await;
    assert_eq!(status, 422);

    let (_, messages) = kim.get(&format!("/api/v1/tickets/{ticket}/messages")).await;
    assert_eq!(messages[0]["attachments"][0]["id"], json!(attachment));

    let path = format!("/api/v1/tickets/{ticket}/attachments/{attachment}");
    let (status, headers, body) = kim.download(&path).await;
    assert_eq!(status, 200);
    assert_eq!(body, page);
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["content-disposition"], "attachment; filename*=UTF-8''shot.png");

    assert_eq!(lee.download(&path).await.0, 404, "another contact");
    assert_eq!(anonymous.download(&path).await.0, 401);
    assert_eq!(kim.download(&format!("/api/v1/tickets/{ticket}/attachments/{}", uuid::Uuid::new_v4())).await.0, 404);

    // Limits: too large, empty, no file part, anonymous.
    let (status, body) = kim.upload("big.bin", "application/octet-stream", vec![7; 5000]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().expect("error").contains("larger than 4096"));
    assert_eq!(kim.upload("empty.txt", "text/plain", Vec::new()).await.0, 422);
    assert_eq!(anonymous.upload("a.txt", "text/plain", b"hi".to_vec()).await.0, 401);
    let (status, _) = kim.post("/api/v1/attachments", json!({ "not": "multipart" })).await;
    assert!(status == 400 || status == 415, "{status}");

    server.stop().await.expect("stop");
}
