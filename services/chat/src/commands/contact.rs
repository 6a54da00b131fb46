//! Who the interaction's user is to the help desk: the contact with the external identity
//! `discord:<user id>` (found or created at identity with chat's service token, as tickets does
//! for her messages), and a contact token acting as her, so tickets decides what she may see and
//! do exactly as for the portal. Chat never reads or changes a contact's tickets with its service
//! token.

use helpdesk_kit::auth::bearer;
use helpdesk_proto::identity::v1::{
    ExternalIdentity, FindOrCreateContactRequest, IssueContactTokenRequest, find_or_create_contact_request::Key,
    issue_contact_token_request::Contact,
};
use serenity::model::user::User;
use tonic::{Code, Request, Status};

use super::respond::went_wrong;
use crate::context::Chat;

/// Told to a blocked contact, whatever she asked.
const BLOCKED: &str = "Your account cannot use the help desk. Please contact us by another way.";

/// The Discord user's external identity at identity.
pub fn identity_of(user: &User) -> ExternalIdentity {
    ExternalIdentity { provider: "discord".into(), subject: user.id.get().to_string() }
}

/// The name she goes by on Discord.
pub fn display_name(user: &User) -> String {
    user.global_name.clone().unwrap_or_else(|| user.name.clone())
}

/// Chat acting as a contact.
pub struct ActingContact {
    token: String,
}

impl ActingContact {
    /// A request carrying her token.
    pub fn request<T>(&self, message: T) -> Result<Request<T>, Status> {
        bearer(message, &self.token)
    }
}

/// The user's contact and a token acting as her; `Err` is the answer to give instead (blocked,
/// or identity unreachable).
pub async fn acting_as(chat: &Chat, user: &User) -> Result<ActingContact, String> {
    let service = chat.tokens.token().await.map_err(|error| went_wrong("chat's service token", error))?;
    let find = FindOrCreateContactRequest { key: Some(Key::ExternalIdentity(identity_of(user))), name: display_name(user) };
    let contact = chat
        .contacts
        .clone()
        .find_or_create_contact(bearer(find, &service).map_err(|error| went_wrong("a contact request", error))?)
        .await
        .map_err(|error| went_wrong("finding the Discord user's contact", error))?
        .into_inner()
        .contact
        .ok_or_else(|| went_wrong("finding the Discord user's contact", "identity answered no contact"))?;
    let issue = IssueContactTokenRequest { contact: Some(Contact::ContactId(contact.id)) };
    let token = chat
        .token_service
        .clone()
        .issue_contact_token(bearer(issue, &service).map_err(|error| went_wrong("a token request", error))?)
        .await
        .map_err(|status| match status.code() {
            Code::FailedPrecondition => BLOCKED.to_string(),
            _ => went_wrong("a contact token for the Discord user", status),
        })?
        .into_inner()
        .token;
    Ok(ActingContact { token })
}
