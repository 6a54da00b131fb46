//! The command line: `serve` runs parts; the other commands are internal callers over gRPC. They
//! authenticate as the service `cli` with the shared service secret from the key directory (an
//! operator on the host has it, like an admin kubeconfig), and act as a contact with a contact
//! token that identity issues to them.

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use helpdesk_kit::{
    CancellationToken,
    auth::{bearer, keys, service_token::ServiceTokens},
    config::SharedConfig,
};
use helpdesk_proto::{
    identity::v1::{
        FindOrCreateContactRequest, IssueContactTokenRequest, contact_service_client::ContactServiceClient,
        find_or_create_contact_request, issue_contact_token_request, token_service_client::TokenServiceClient,
    },
    kb::v1::{self as kb, kb_service_client::KbServiceClient},
    tickets::v1::{self as tickets, ticket_service_client::TicketServiceClient},
};
use tonic::transport::{Channel, Endpoint};

use crate::{admin, agent, config::HelpdeskConfig, demo, mail, serve};

#[derive(Parser)]
#[command(name = "helpdesk", version, about = "An open-source help desk: email, Discord and a contact portal.")]
struct Cli {
    /// TOML config file; `HELPDESK_SECTION__KEY` environment variables override it.
    #[arg(long, global = true, env = "HELPDESK_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run parts of the help desk in this process: `all`, or any of identity, tickets, kb, mail,
    /// chat, gateway (`all` runs chat only when a Discord bot token is configured).
    Serve {
        /// Checked by `serve::parse_parts`, whose refusal lists the parts.
        parts: Vec<String>,
        /// Seed a demo contact, ticket and articles, and print how to use them.
        #[arg(long)]
        demo: bool,
    },
    /// Issue caller tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Work with tickets as a contact.
    #[command(subcommand)]
    Tickets(TicketsCommand),
    /// Manage and search knowledge-base articles.
    #[command(subcommand)]
    Kb(KbCommand),
    /// Work the queues as support: reply, note, assign, change, log time.
    #[command(subcommand)]
    Agent(agent::AgentCommand),
    /// Manage agents and admins.
    #[command(subcommand)]
    Staff(admin::StaffCommand),
    /// Manage contact groups.
    #[command(subcommand)]
    Groups(admin::GroupsCommand),
    /// Show or change the portal settings.
    #[command(subcommand)]
    Settings(admin::SettingsCommand),
    /// The email channel: quarantined mail.
    #[command(subcommand)]
    Mail(mail::MailCommand),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a bearer token that acts as the contact with this address (for the JSON API).
    Contact {
        email: String,
        /// Create the contact if there is none with this address.
        #[arg(long)]
        create: bool,
        #[arg(long, default_value = "")]
        name: String,
    },
}

#[derive(Subcommand)]
enum TicketsCommand {
    /// List the contact's tickets, newest first.
    List {
        #[arg(long = "as", value_name = "EMAIL")]
        contact: String,
    },
    /// File a ticket as the contact.
    Create {
        #[arg(long = "as", value_name = "EMAIL")]
        contact: String,
        #[arg(long)]
        subject: String,
        #[arg(long)]
        message: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum VisibilityArg {
    Public,
    SignedIn,
    Internal,
}

#[derive(Subcommand)]
enum KbCommand {
    /// Add an article; the body is Markdown read from a file (`-` for standard input).
    Add {
        #[arg(long)]
        title: String,
        #[arg(long)]
        body_file: PathBuf,
        #[arg(long, value_enum, default_value = "public")]
        visibility: VisibilityArg,
        #[arg(long)]
        draft: bool,
    },
    /// Search articles (as an agent: drafts and internal articles included).
    Search { query: String },
    /// Suggestions for a subject being typed (the last word counts as a prefix unless followed by a space).
    Suggest { query: String },
    /// Import (upsert by slug) every Markdown file under a folder as an article (title: the first `# heading`,
    /// else the file name; slug: the file name); prints what was created, updated and unchanged.
    Import {
        folder: PathBuf,
        #[arg(long, value_enum, default_value = "public")]
        visibility: VisibilityArg,
        #[arg(long)]
        draft: bool,
        /// Category id for every imported article.
        #[arg(long, default_value = "")]
        category: String,
    },
    /// Publish or unpublish (back to draft) an article.
    Publish {
        id: String,
        #[arg(long)]
        undo: bool,
    },
    /// Change an article's title and/or body (Markdown from a file, `-` for standard input).
    Update {
        id: String,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        body_file: Option<PathBuf>,
    },
    /// Delete an article.
    Delete { id: String },
    /// Create a category.
    CategoryAdd {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List the categories.
    Categories,
    /// Suggestion impressions, clicks and answered questions per article.
    Report,
}

fn visibility(arg: VisibilityArg) -> kb::Visibility {
    match arg {
        VisibilityArg::Public => kb::Visibility::Public,
        VisibilityArg::SignedIn => kb::Visibility::SignedIn,
        VisibilityArg::Internal => kb::Visibility::Internal,
    }
}

fn status(draft: bool) -> kb::ArticleStatus {
    if draft { kb::ArticleStatus::Draft } else { kb::ArticleStatus::Published }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // One rustls crypto provider for every TLS client in the process (SMTP, SSO providers).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("helpdesk: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("helpdesk: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    helpdesk_kit::telemetry::init();
    let config = HelpdeskConfig::load(cli.config.as_deref()).context("configuration")?;
    match cli.command {
        Command::Serve { parts, demo } => serve_until_signal(config, &parts, demo).await,
        Command::Token(TokenCommand::Contact { email, create, name }) => {
            let clients = Clients::connect(&config.shared)?;
            let contact = if create {
                Some(clients.find_or_create_contact(&email, &name).await?)
            } else {
                None
            };
            let token = match contact {
                Some(id) => clients.contact_token(issue_contact_token_request::Contact::ContactId(id)).await?,
                None => clients.contact_token(issue_contact_token_request::Contact::Email(email)).await?,
            };
            println!("{token}");
            Ok(())
        }
        Command::Tickets(command) => tickets_command(&Clients::connect(&config.shared)?, command).await,
        Command::Kb(command) => kb_command(&Clients::connect(&config.shared)?, command).await,
        Command::Agent(command) => agent::run(&Clients::connect(&config.shared)?, command).await,
        Command::Staff(command) => admin::staff(&Clients::connect(&config.shared)?, command).await,
        Command::Groups(command) => admin::groups(&Clients::connect(&config.shared)?, command).await,
        Command::Settings(command) => admin::settings(&Clients::connect(&config.shared)?, command).await,
        Command::Mail(command) => mail::run(&Clients::connect(&config.shared)?, command).await,
    }
}

async fn serve_until_signal(config: HelpdeskConfig, parts: &[String], seed_demo: bool) -> anyhow::Result<()> {
    let parts = serve::parse_parts(parts, config.chat.enabled()).map_err(anyhow::Error::msg)?;
    let shutdown = CancellationToken::new();
    let running = serve::start(config.clone(), &parts, shutdown.clone()).await?;
    for (part, addr) in &running.addrs {
        let kind = if *part == serve::Part::Gateway { "HTTP" } else { "gRPC" };
        println!("{part} listening on http://{addr} ({kind})");
    }
    if let Some(url) = running.url(serve::Part::Gateway) {
        println!("portal and JSON API: {url}/  (health: {url}/healthz)");
    }
    if seed_demo {
        let mut config = config.shared;
        if let Some(url) = running.url(serve::Part::Identity) {
            config.endpoints.identity = url;
        }
        if let Some(url) = running.url(serve::Part::Tickets) {
            config.endpoints.tickets = url;
        }
        if let Some(url) = running.url(serve::Part::Kb) {
            config.endpoints.kb = url;
        }
        let clients = Clients::connect(&config)?;
        demo::seed(&clients, running.url(serve::Part::Gateway).as_deref()).await?;
    }
    println!("helpdesk ready");
    let stopper = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        stopper.cancel();
    });
    running.wait().await
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn tickets_command(clients: &Clients, command: TicketsCommand) -> anyhow::Result<()> {
    match command {
        TicketsCommand::List { contact } => {
            let token = clients.contact_token(issue_contact_token_request::Contact::Email(contact)).await?;
            let page = clients
                .tickets()
                .list_tickets(bearer(tickets::ListTicketsRequest::default(), &token)?)
                .await?
                .into_inner();
            for ticket in page.tickets {
                let status = ticket.status.map(|s| s.name).unwrap_or_default();
                println!("#{}\t{}\t{}", ticket.number, status, ticket.subject);
            }
            Ok(())
        }
        TicketsCommand::Create { contact, subject, message } => {
            let token = clients.contact_token(issue_contact_token_request::Contact::Email(contact)).await?;
            let request = tickets::CreateTicketRequest {
                subject,
                text: message,
                ..Default::default()
            };
            let ticket = clients.tickets().create_ticket(bearer(request, &token)?).await?.into_inner();
            println!("#{}\t{}", ticket.number, ticket.id);
            Ok(())
        }
    }
}

async fn kb_command(clients: &Clients, command: KbCommand) -> anyhow::Result<()> {
    match command {
        KbCommand::Add { title, body_file, visibility: v, draft } => {
            let body = read_body(&body_file)?;
            let article = clients
                .create_article(kb::CreateArticleRequest {
                    title,
                    body_markdown: body,
                    visibility: visibility(v) as i32,
                    status: status(draft) as i32,
                    ..Default::default()
                })
                .await?;
            println!("{}\t{}", article.slug, article.id);
            Ok(())
        }
        KbCommand::Search { query } => print_hits(clients, query, false).await,
        KbCommand::Suggest { query } => print_hits(clients, query, true).await,
        KbCommand::Import { folder, visibility: v, draft, category } => {
            let options = crate::kb_import::Options { visibility: visibility(v), status: status(draft), category_id: category };
            let summary = crate::kb_import::import(clients, &folder, &options).await?;
            println!("{summary}");
            if !summary.failed.is_empty() {
                anyhow::bail!("{} files failed (listed above)", summary.failed.len());
            }
            Ok(())
        }
        KbCommand::Publish { id, undo } => {
            let request = kb::UpdateArticleRequest { id, status: status(undo) as i32, ..Default::default() };
            let article = clients.kb().update_article(bearer(request, &clients.service_token().await?)?).await?.into_inner();
            println!("{}\t{}", article.slug, if undo { "draft" } else { "published" });
            Ok(())
        }
        KbCommand::Update { id, title, body_file } => {
            let body_markdown = body_file.as_deref().map(read_body).transpose()?;
            let request = kb::UpdateArticleRequest { id, title, body_markdown, ..Default::default() };
            let article = clients.kb().update_article(bearer(request, &clients.service_token().await?)?).await?.into_inner();
            println!("{}\t{}", article.slug, article.id);
            Ok(())
        }
        KbCommand::CategoryAdd { name, description } => {
            let request = kb::CreateCategoryRequest { name, description };
            let category = clients.kb().create_category(bearer(request, &clients.service_token().await?)?).await?.into_inner();
            println!("{}\t{}", category.slug, category.id);
            Ok(())
        }
        KbCommand::Categories => {
            let request = kb::ListCategoriesRequest {};
            let response = clients.kb().list_categories(bearer(request, &clients.service_token().await?)?).await?.into_inner();
            for category in response.categories {
                println!("{}\t{}\t{}", category.id, category.slug, category.name);
            }
            Ok(())
        }
        KbCommand::Delete { id } => {
            let request = kb::DeleteArticleRequest { id };
            clients.kb().delete_article(bearer(request, &clients.service_token().await?)?).await?;
            Ok(())
        }
        KbCommand::Report => {
            let request = kb::DeflectionReportRequest { since: None };
            let report = clients.kb().deflection_report(bearer(request, &clients.service_token().await?)?).await?.into_inner();
            println!("impressions\tclicks\tanswered\ttitle");
            for row in report.articles {
                println!("{}\t{}\t{}\t{}", row.impressions, row.clicks, row.answered, row.title);
            }
            Ok(())
        }
    }
}

/// Markdown from a file, or standard input for `-`.
fn read_body(path: &std::path::Path) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        Ok(std::io::read_to_string(std::io::stdin())?)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    }
}

async fn print_hits(clients: &Clients, query: String, suggest: bool) -> anyhow::Result<()> {
    let request = bearer(kb::SearchArticlesRequest { query, limit: 10 }, &clients.service_token().await?)?;
    let hits = if suggest { clients.kb().suggest_articles(request).await } else { clients.kb().search_articles(request).await }?
        .into_inner()
        .hits;
    for hit in hits {
        println!("{:.3}\t{}\t{}", hit.score, hit.slug, hit.title);
    }
    Ok(())
}

/// gRPC clients of every service, authenticated as the `cli` service.
pub struct Clients {
    identity: Channel,
    tickets: Channel,
    kb: Channel,
    mail: Channel,
    tokens: Arc<ServiceTokens>,
}

impl Clients {
    pub fn connect(config: &SharedConfig) -> anyhow::Result<Self> {
        let lazy = |url: &str| -> anyhow::Result<Channel> {
            Ok(Endpoint::from_shared(url.to_string())
                .with_context(|| format!("endpoint {url}"))?
                .connect_timeout(std::time::Duration::from_secs(5))
                .connect_lazy())
        };
        let identity = lazy(&config.endpoints.identity)?;
        let secret = keys::service_secret(&config.auth.key_dir)?;
        Ok(Self {
            tokens: Arc::new(ServiceTokens::new(identity.clone(), "cli", secret)),
            identity,
            tickets: lazy(&config.endpoints.tickets)?,
            kb: lazy(&config.endpoints.kb)?,
            mail: lazy(&config.endpoints.mail)?,
        })
    }

    pub async fn service_token(&self) -> anyhow::Result<String> {
        self.tokens.token().await.context("getting a service token from identity")
    }

    pub fn identity(&self) -> Channel {
        self.identity.clone()
    }

    pub fn tickets(&self) -> TicketServiceClient<Channel> {
        TicketServiceClient::new(self.tickets.clone())
    }

    pub fn tickets_channel(&self) -> Channel {
        self.tickets.clone()
    }

    pub fn mail(&self) -> Channel {
        self.mail.clone()
    }

    pub fn kb(&self) -> KbServiceClient<Channel> {
        KbServiceClient::new(self.kb.clone())
    }

    /// The contact's id, creating the contact if the address is new.
    pub async fn find_or_create_contact(&self, email: &str, name: &str) -> anyhow::Result<String> {
        let request = FindOrCreateContactRequest {
            key: Some(find_or_create_contact_request::Key::Email(email.to_string())),
            name: name.to_string(),
        };
        let response = ContactServiceClient::new(self.identity.clone())
            .find_or_create_contact(bearer(request, &self.service_token().await?)?)
            .await?
            .into_inner();
        response.contact.map(|c| c.id).context("identity answered without a contact")
    }

    pub async fn contact_token(&self, contact: issue_contact_token_request::Contact) -> anyhow::Result<String> {
        let request = IssueContactTokenRequest { contact: Some(contact) };
        let response = TokenServiceClient::new(self.identity.clone())
            .issue_contact_token(bearer(request, &self.service_token().await?)?)
            .await?;
        Ok(response.into_inner().token)
    }

    pub async fn create_article(&self, request: kb::CreateArticleRequest) -> anyhow::Result<kb::Article> {
        Ok(self.kb().create_article(bearer(request, &self.service_token().await?)?).await?.into_inner())
    }
}
