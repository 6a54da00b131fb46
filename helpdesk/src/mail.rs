//! `helpdesk mail …`: the email channel's admin commands over the mail part's gRPC — list the
//! quarantined mail and retry one. They run as the `cli` service (the service secret is the
//! credential, as for the other admin commands).

use clap::Subcommand;
use helpdesk_kit::auth::bearer;
use helpdesk_proto::mail::v1::{self as pb, mail_admin_service_client::MailAdminServiceClient};

use crate::cli::Clients;

#[derive(Subcommand)]
pub enum MailCommand {
    /// List mail that could not become a message, newest first.
    Quarantine {
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Parse a quarantined mail again under the current limits and publish it.
    Retry { id: String },
}

pub async fn run(clients: &Clients, command: MailCommand) -> anyhow::Result<()> {
    let token = clients.service_token().await?;
    let mut client = MailAdminServiceClient::new(clients.mail());
    match command {
        MailCommand::Quarantine { limit } => {
            let mails = client
                .list_quarantined_mail(bearer(pb::ListQuarantinedMailRequest { limit }, &token)?)
                .await?
                .into_inner()
                .mails;
            for mail in mails {
                println!(
                    "{}\t{}\tuid {}\t{} bytes\t{} attempt(s)\t{}",
                    mail.id, mail.mailbox, mail.uid, mail.size, mail.attempts, mail.reason
                );
            }
        }
        MailCommand::Retry { id } => {
            let done = client
                .retry_quarantined_mail(bearer(pb::RetryQuarantinedMailRequest { id }, &token)?)
                .await?
                .into_inner();
            println!("published {}", done.external_id);
        }
    }
    Ok(())
}
