//! Attachments of a Discord message, downloaded when the message arrives: Discord's CDN links are
//! signed and expire, so the bytes go to the blob store (`chat/parts/<sha256>`, content-addressed
//! like mail's parts) and the message carries `BlobRef`s — never the URL. An attachment over
//! `attachment_max_bytes`, or one the CDN refuses for good, is left out with a line in the text;
//! one that fails for a moment fails the message, which is taken again later.

use std::time::Duration;

use anyhow::Context as _;
use bytes::{Bytes, BytesMut};
use helpdesk_proto::events::v1::BlobRef;
use serenity::model::channel::Attachment;
use sha2::{Digest, Sha256};

use crate::context::Chat;

const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);

pub fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(DOWNLOAD_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .context("build the attachment download client")
}

enum Fetched {
    Bytes(Bytes),
    TooBig,
    /// Refused for good (e.g. the link expired); the reason for the line in the text.
    Refused(String),
}

/// The attachments kept, and a line for each left out. An error is a transient failure; on
/// `last_try` that too is a reason to leave the attachment out.
pub async fn take(chat: &Chat, client: &reqwest::Client, attachments: &[Attachment], last_try: bool) -> anyhow::Result<(Vec<BlobRef>, Vec<String>)> {
    let max = chat.config.attachment_max_bytes;
    let (mut kept, mut left_out) = (Vec::new(), Vec::new());
    for attachment in attachments {
        let fetched = if usize::try_from(attachment.size).unwrap_or(usize::MAX) > max {
            Fetched::TooBig
        } else {
            match download(client, &attachment.url, max).await {
                Ok(fetched) => fetched,
                Err(error) if last_try => Fetched::Refused(format!("{error:#}")),
                Err(error) => return Err(error.context(format!("download attachment {}", attachment.filename))),
            }
        };
        match fetched {
            Fetched::Bytes(bytes) => {
                let key = format!("chat/parts/{:x}", Sha256::digest(&bytes));
                let size = bytes.len() as u64;
                chat.blobs.put(&key, bytes).await.context("store an attachment")?;
                kept.push(BlobRef {
                    key,
                    filename: attachment.filename.clone(),
                    content_type: attachment.content_type.clone().unwrap_or_else(|| "application/octet-stream".into()),
                    size,
                    content_id: String::new(),
                });
            }
            Fetched::TooBig => left_out.push(format!("[attachment {} left out: larger than {}]", attachment.filename, megabytes(max))),
            Fetched::Refused(reason) => left_out.push(format!("[attachment {} left out: could not be downloaded ({reason})]", attachment.filename)),
        }
    }
    Ok((kept, left_out))
}

/// Downloads at most `max` bytes. Errors are transient (connection, timeout, 5xx, 429).
async fn download(client: &reqwest::Client, url: &str, max: usize) -> anyhow::Result<Fetched> {
    let mut response = client.get(url).send().await.context("request")?;
    let status = response.status();
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        anyhow::bail!("the CDN answered {status}");
    }
    if !status.is_success() {
        return Ok(Fetched::Refused(format!("HTTP {}", status.as_u16())));
    }
    if response.content_length().is_some_and(|length| length > max as u64) {
        return Ok(Fetched::TooBig);
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.context("read the body")? {
        if body.len() + chunk.len() > max {
            return Ok(Fetched::TooBig);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched::Bytes(body.freeze()))
}

fn megabytes(bytes: usize) -> String {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    if mb >= 1.0 { format!("{mb:.0} MB") } else { format!("{} KB", bytes.div_ceil(1024)) }
}

#[cfg(test)]
mod tests {
    use super::megabytes;

    #[test]
    fn limits_read_as_people_say_them() {
        assert_eq!(megabytes(25 * 1024 * 1024), "25 MB");
        assert_eq!(megabytes(1000), "1 KB");
    }
}
