//! The reply form's body: `multipart/form-data` with the message and up to
//! [`MAX_FILES_PER_FORM`] files (the CSRF token, which `guard` already checked, is skipped).
//! Files are uploaded to tickets with the contact's own token, then the reply names them, as the
//! JSON API's two steps do. What is wrong with the submission becomes field errors, and the page
//! re-renders with the text kept; only a body that cannot be read at all is an error page.

use axum::{body::Bytes, extract::Request};
use helpdesk_proto::tickets::v1 as pb;
use tonic::Code;

use crate::{
    api::tickets::{TicketClients, attachment_refs},
    clean,
    extract::Multipart,
    portal::{MAX_FILES_PER_FORM, chrome::Chrome, error::PageError, form::FormErrors},
};

/// One chosen file.
pub struct File {
    pub filename: String,
    pub content_type: String,
    pub data: Bytes,
}

/// What the contact sent.
#[derive(Default)]
pub struct ReplyForm {
    pub message: String,
    pub files: Vec<File>,
}

/// The fields a service's `INVALID_ARGUMENT` may name (`text` is the message's field there).
const FIELDS: &[&str] = &["message", "attachments"];

impl ReplyForm {
    /// Reads the multipart body. A file input left empty sends a part with no file name and no
    /// bytes: that is no file.
    pub async fn read(request: Request) -> Result<(Self, FormErrors), PageError> {
        let mut multipart = <Multipart as axum::extract::FromRequest<()>>::from_request(request, &()).await?;
        let mut form = Self::default();
        let mut errors = FormErrors::default();
        let mut too_many = false;
        while let Some(field) = multipart.next_field().await? {
            match field.name().unwrap_or_default() {
                "message" => form.message = field.text().await.map_err(|e| PageError::bad_request(e.body_text()))?,
                "attachments" => {
                    let filename = field.file_name().unwrap_or_default().to_string();
                    let content_type = field.content_type().unwrap_or_default().to_string();
                    let data = Multipart::bytes(field).await?;
                    if filename.is_empty() && data.is_empty() {
                        continue;
                    }
                    if form.files.len() == MAX_FILES_PER_FORM {
                        too_many = true;
                        continue;
                    }
                    form.files.push(File { filename, content_type, data });
                }
                _ => {}
            }
        }
        if clean::check("message", &form.message).is_err() {
            errors.add("message", "The message must not contain control characters.");
        } else if form.message.trim().is_empty() {
            errors.add("message", "Enter your reply.");
        }
        if too_many {
            errors.add("attachments", format!("Attach at most {MAX_FILES_PER_FORM} files."));
        }
        Ok((form, errors))
    }

    /// Uploads the files and sends the reply as the contact; the new message's id, or the field
    /// errors the services' refusals become.
    pub async fn send(&self, clients: &mut TicketClients, chrome: &Chrome, ticket_id: &str) -> Result<Result<String, FormErrors>, PageError> {
        let mut ids = Vec::with_capacity(self.files.len());
        for file in &self.files {
            let upload = pb::UploadAttachmentRequest {
                filename: file.filename.clone(),
                content_type: file.content_type.clone(),
                data: file.data.to_vec(),
            };
            match clients.tickets.upload_attachment(chrome.request(upload)?).await {
                Ok(uploaded) => ids.push(uploaded.into_inner().id),
                Err(status) => return refused(status, "attachments"),
            }
        }
        let reply = pb::ReplyRequest {
            ticket_id: ticket_id.to_string(),
            text: self.message.clone(),
            attachments: attachment_refs(ids),
            ..Default::default()
        };
        match clients.tickets.reply(chrome.request(reply)?).await {
            Ok(message) => Ok(Ok(message.into_inner().id)),
            Err(status) => refused(status, "message"),
        }
    }
}

/// A refusal the contact can act on becomes a field error; anything else fails the page.
fn refused<T>(status: tonic::Status, fallback: &'static str) -> Result<Result<T, FormErrors>, PageError> {
    match status.code() {
        Code::InvalidArgument | Code::ResourceExhausted | Code::FailedPrecondition => {
            let message = status.message().replacen("text:", "message:", 1);
            Ok(Err(FormErrors::from_service(&message, FIELDS, fallback)))
        }
        _ => Err(status.into()),
    }
}
