//! The client side of paged RPCs: callers that need a whole conversation (the gateway's JSON
//! answer, the CLI, the mail part looking up a reply) follow `ListMessages`' pages here, so each
//! gRPC answer stays bounded while they keep seeing every message.

use helpdesk_proto::tickets::v1::{ListMessagesRequest, Message, ticket_service_client::TicketServiceClient};
use tonic::{Status, transport::Channel};

use crate::auth::bearer;

/// Every message of the ticket the caller may see, oldest first, in pages of the largest size.
pub async fn all_messages(client: &mut TicketServiceClient<Channel>, token: &str, ticket_id: &str) -> Result<Vec<Message>, Status> {
    let mut messages = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = ListMessagesRequest { ticket_id: ticket_id.to_string(), page_size: u32::MAX, page_token };
        let page = client.list_messages(bearer(request, token)?).await?.into_inner();
        messages.extend(page.messages);
        if page.next_page_token.is_empty() {
            return Ok(messages);
        }
        page_token = page.next_page_token;
    }
}
