//! `/link email:<address>`: identity mails the address a link that, once followed, links the
//! Discord identity to that address's contact (or gives the Discord contact the address). Chat
//! only asks, with its service token (identity allows services only), and always answers the
//! same "check your mail" whatever the address, so nobody learns which addresses are known.
//! Only an address identity cannot use at all (malformed) is said so.

use helpdesk_kit::auth::bearer;
use helpdesk_proto::identity::v1::RequestIdentityLinkRequest;
use serenity::model::user::User;
use tonic::Code;

use super::{
    contact::{acting_as, identity_of},
    respond::went_wrong,
};
use crate::context::Chat;

/// Told when `/link` comes without its required option (Discord enforces it; odd data).
pub const NO_ADDRESS: &str = "Tell me your email address: `/link email:you@example.com`.";

pub async fn link(chat: &Chat, user: &User, email: &str) -> String {
    answer(chat, user, email.trim()).await.unwrap_or_else(|answer| answer)
}

async fn answer(chat: &Chat, user: &User, email: &str) -> Result<String, String> {
    if email.is_empty() {
        return Err(NO_ADDRESS.into());
    }
    // Identity links only an identity a contact holds: make sure hers exists (and is not blocked).
    acting_as(chat, user).await?;
    let service = chat.tokens.token().await.map_err(|error| went_wrong("chat's service token", error))?;
    let request = RequestIdentityLinkRequest { identity: Some(identity_of(user)), email: email.to_string() };
    let request = bearer(request, &service).map_err(|error| went_wrong("a link request", error))?;
    match chat.accounts.clone().request_identity_link(request).await {
        Ok(_) => Ok(format!(
            "Check your mail: we sent a link to {} (valid for 30 minutes). Follow it to see all your tickets in one place.",
            as_code(email)
        )),
        Err(status) if status.code() == Code::InvalidArgument => Err(format!("{} is not an email address I can use.", as_code(email))),
        Err(status) => Err(went_wrong("asking identity to mail a link", status)),
    }
}

/// The address as typed, shown literally (a code span: no markdown, no mentions).
fn as_code(email: &str) -> String {
    format!("`{}`", email.replace('`', ""))
}
