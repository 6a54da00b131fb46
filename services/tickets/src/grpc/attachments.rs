//! Attachment handlers of `TicketService`: upload (size-limited, type sniffed, stored in the blob
//! store under a fresh key), metadata and download behind the ticket's visibility check.

use bytes::Bytes;
use helpdesk_kit::{auth::Caller, blob::BlobStore};
use helpdesk_proto::tickets::v1 as pb;
use tonic::Status;
use uuid::Uuid;

use crate::{
    domain::{
        TicketError,
        attachments::{check_size, clean_filename, sniff_content_type},
    },
    grpc::{author, ticket_id, viewer},
    store::{AttachmentRow, Store},
};

pub fn attachment_to_pb(row: AttachmentRow) -> pb::AttachmentRef {
    pb::AttachmentRef {
        id: row.id.to_string(),
        filename: row.filename,
        content_type: row.content_type,
        size: u64::try_from(row.size).unwrap_or(0),
        // Keys stay inside the service: downloads go through the authorization check.
        blob_key: String::new(),
        content_id: String::new(),
    }
}

pub async fn upload(
    store: &Store,
    blobs: &BlobStore,
    max_bytes: usize,
    caller: &Caller,
    request: pb::UploadAttachmentRequest,
) -> Result<pb::AttachmentRef, Status> {
    viewer(caller)?;
    check_size(&request.data, max_bytes)?;
    let id = Uuid::now_v7();
    let row = AttachmentRow {
        id,
        message_id: None,
        filename: clean_filename(&request.filename),
        content_type: sniff_content_type(&request.data).to_string(),
        size: i64::try_from(request.data.len()).unwrap_or(i64::MAX),
        blob_key: format!("attachments/{}/{id}", &id.simple().to_string()[..2]),
    };
    blobs
        .put(&row.blob_key, Bytes::from(request.data))
        .await
        .map_err(helpdesk_kit::error::internal)?;
    let (_, uploader) = author(caller).kind_and_id();
    store.record_upload(&row, &uploader).await?;
    Ok(attachment_to_pb(row))
}

/// The attachment's row if the caller may see it.
pub async fn visible(store: &Store, caller: &Caller, request: &pb::GetAttachmentRequest) -> Result<AttachmentRow, Status> {
    let viewer = viewer(caller)?;
    let ticket = ticket_id(&request.ticket_id)?;
    let attachment = helpdesk_kit::error::parse_id(&request.attachment_id, "attachment")?;
    Ok(store
        .attachment(ticket, attachment, viewer)
        .await?
        .ok_or(TicketError::NotFound)?)
}

pub async fn download(blobs: &BlobStore, row: AttachmentRow) -> Result<pb::AttachmentData, Status> {
    let data = blobs.get(&row.blob_key).await.map_err(helpdesk_kit::error::internal)?;
    Ok(pb::AttachmentData { attachment: Some(attachment_to_pb(row)), data: data.to_vec() })
}
