//! What every task of the chat part shares: its settings, the Discord REST client, its own store,
//! NATS, the blob store, and the gRPC clients of tickets and identity with chat's service token.
//! One `Arc<Chat>` is built by `app` and handed to the connection, the reply poster and the
//! command handlers, so none of them opens connections of its own.

use std::sync::Arc;

use helpdesk_kit::{auth::service_token::ServiceTokens, blob::BlobStore, nats::Nats};
use helpdesk_proto::{
    identity::v1::{
        account_service_client::AccountServiceClient, contact_service_client::ContactServiceClient,
        staff_service_client::StaffServiceClient,
        token_service_client::TokenServiceClient,
    },
    tickets::v1::{ticket_admin_service_client::TicketAdminServiceClient, ticket_service_client::TicketServiceClient},
};
use secrecy::SecretString;
use serenity::http::Http;
use tonic::transport::Channel;

use crate::{config::ChatConfig, store::Store};

pub struct Chat {
    pub config: ChatConfig,
    /// Discord's REST API (through `config.api_url` when set).
    pub http: Arc<Http>,
    pub store: Store,
    pub nats: Nats,
    /// Where attachments from Discord are kept (shared with tickets, which reads them).
    pub blobs: BlobStore,
    pub tickets: TicketServiceClient<Channel>,
    /// Statuses, priorities and categories by name (a forum post's tags; the new-ticket modal's
    /// category).
    pub ticket_admin: TicketAdminServiceClient<Channel>,
    pub contacts: ContactServiceClient<Channel>,
    /// Agents' names, for signing their replies on Discord.
    pub staff: StaffServiceClient<Channel>,
    /// Contact tokens, when chat acts for a contact (slash commands).
    pub token_service: TokenServiceClient<Channel>,
    /// Accounts: `/link` asks identity to mail a link (`RequestIdentityLink`).
    pub accounts: AccountServiceClient<Channel>,
    /// Chat's own service token, for calls as the chat service.
    pub tokens: Arc<ServiceTokens>,
    /// Signs reply tokens (`kit::auth::reply_token`) naming a conversation's ticket.
    pub reply_secret: SecretString,
}
