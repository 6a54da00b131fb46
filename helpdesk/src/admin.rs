//! Admin commands over identity's gRPC: staff (`helpdesk staff …`), contact groups
//! (`helpdesk groups …`) and portal settings (`helpdesk settings …`). They run as the `cli`
//! service, which identity trusts like an admin — holding the service secret is the credential.

use clap::{Subcommand, ValueEnum};
use helpdesk_kit::auth::bearer;
use helpdesk_proto::identity::v1::{
    self as pb, group_service_client::GroupServiceClient, settings_service_client::SettingsServiceClient,
    staff_service_client::StaffServiceClient, token_service_client::TokenServiceClient,
};

use crate::cli::Clients;

#[derive(Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Agent,
    Admin,
}

impl RoleArg {
    fn to_pb(self) -> i32 {
        match self {
            RoleArg::Agent => pb::StaffRole::Agent as i32,
            RoleArg::Admin => pb::StaffRole::Admin as i32,
        }
    }
}

#[derive(Subcommand)]
pub enum StaffCommand {
    /// Create an agent or admin; prints its id.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        #[arg(long, value_enum, default_value = "agent")]
        role: RoleArg,
    },
    /// List staff.
    List,
    /// Change a staff member's role, or deactivate them with --inactive.
    SetRole {
        id: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        #[arg(long)]
        inactive: bool,
    },
    /// Print a bearer token acting as this staff member.
    Token { id: String },
}

#[derive(Subcommand)]
pub enum GroupsCommand {
    /// Create a contact group; prints its id.
    Add {
        name: String,
        /// Members see each other's tickets.
        #[arg(long)]
        share_tickets: bool,
        /// Contacts with an address in this domain join automatically (repeatable).
        #[arg(long = "domain")]
        domains: Vec<String>,
    },
    List,
    Rename { id: String, name: String },
    AddMember { group_id: String, contact_id: String },
    RemoveMember { group_id: String, contact_id: String },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SignupArg {
    Open,
    Closed,
    Domains,
}

#[derive(Subcommand)]
pub enum SettingsCommand {
    /// Print the portal settings as JSON.
    Show,
    /// Change some settings; the others stay as they are.
    Set {
        #[arg(long, value_enum)]
        signup: Option<SignupArg>,
        /// Sign-up domains (with `--signup domains`; repeatable; replaces the list).
        #[arg(long = "signup-domain")]
        signup_domains: Vec<String>,
        #[arg(long)]
        password_login: Option<bool>,
        #[arg(long)]
        captcha: Option<bool>,
        #[arg(long)]
        login_required_to_submit: Option<bool>,
        #[arg(long)]
        login_required_for_kb: Option<bool>,
        #[arg(long)]
        contacts_may_close_tickets: Option<bool>,
        /// SSO providers offered on the login page (repeatable; replaces the list).
        #[arg(long = "sso-provider")]
        sso_providers: Vec<String>,
    },
}

fn print_group(group: &pb::ContactGroup) {
    println!(
        "{}\t{}\tshare_tickets={}\tdomains={}\tmembers={}",
        group.id,
        group.name,
        group.share_tickets,
        group.auto_join_domains.join(","),
        group.member_ids.len()
    );
}

pub async fn staff(clients: &Clients, command: StaffCommand) -> anyhow::Result<()> {
    let token = clients.service_token().await?;
    let mut client = StaffServiceClient::new(clients.identity());
    match command {
        StaffCommand::Add { name, email, role } => {
            let request = pb::CreateStaffRequest { name, email, role: role.to_pb() };
            let staff = client.create_staff(bearer(request, &token)?).await?.into_inner();
            println!("{}", staff.id);
        }
        StaffCommand::List => {
            for s in client.list_staff(bearer(pb::ListStaffRequest {}, &token)?).await?.into_inner().staff {
                let role = pb::StaffRole::try_from(s.role).map(|r| r.as_str_name()).unwrap_or("?");
                println!("{}\t{}\t{}\t{}\tactive={}", s.id, s.name, s.email, role, s.active);
            }
        }
        StaffCommand::SetRole { id, role, inactive } => {
            let request = pb::SetStaffRoleRequest { id, role: role.to_pb(), active: !inactive };
            client.set_staff_role(bearer(request, &token)?).await?;
        }
        StaffCommand::Token { id } => {
            let response = TokenServiceClient::new(clients.identity())
                .issue_staff_token(bearer(pb::IssueStaffTokenRequest { staff_id: id }, &token)?)
                .await?;
            println!("{}", response.into_inner().token);
        }
    }
    Ok(())
}

pub async fn groups(clients: &Clients, command: GroupsCommand) -> anyhow::Result<()> {
    let token = clients.service_token().await?;
    let mut client = GroupServiceClient::new(clients.identity());
    let group = match command {
        GroupsCommand::Add { name, share_tickets, domains } => {
            let request = pb::CreateGroupRequest { name, share_tickets, auto_join_domains: domains };
            client.create_group(bearer(request, &token)?).await?.into_inner()
        }
        GroupsCommand::List => {
            for group in client.list_groups(bearer(pb::ListGroupsRequest {}, &token)?).await?.into_inner().groups {
                print_group(&group);
            }
            return Ok(());
        }
        GroupsCommand::Rename { id, name } => {
            let request = pb::UpdateGroupRequest { id, name: Some(name), ..Default::default() };
            client.update_group(bearer(request, &token)?).await?.into_inner()
        }
        GroupsCommand::AddMember { group_id, contact_id } => {
            let request = pb::GroupMemberRequest { group_id, contact_id };
            client.add_group_member(bearer(request, &token)?).await?.into_inner()
        }
        GroupsCommand::RemoveMember { group_id, contact_id } => {
            let request = pb::GroupMemberRequest { group_id, contact_id };
            client.remove_group_member(bearer(request, &token)?).await?.into_inner()
        }
    };
    print_group(&group);
    Ok(())
}

pub async fn settings(clients: &Clients, command: SettingsCommand) -> anyhow::Result<()> {
    let token = clients.service_token().await?;
    let mut client = SettingsServiceClient::new(clients.identity());
    let mut current = client
        .get_portal_settings(bearer(pb::GetPortalSettingsRequest {}, &token)?)
        .await?
        .into_inner();
    if let SettingsCommand::Set {
        signup,
        signup_domains,
        password_login,
        captcha,
        login_required_to_submit,
        login_required_for_kb,
        contacts_may_close_tickets,
        sso_providers,
    } = command
    {
        if let Some(signup) = signup {
            current.signup_mode = match signup {
                SignupArg::Open => pb::SignupMode::Open,
                SignupArg::Closed => pb::SignupMode::Closed,
                SignupArg::Domains => pb::SignupMode::Domains,
            } as i32;
        }
        if !signup_domains.is_empty() {
            current.signup_domains = signup_domains;
        }
        if !sso_providers.is_empty() {
            current.sso_providers = sso_providers;
        }
        let flags = [
            (password_login, &mut current.password_login),
            (captcha, &mut current.captcha_enabled),
            (login_required_to_submit, &mut current.login_required_to_submit),
            (login_required_for_kb, &mut current.login_required_for_kb),
            (contacts_may_close_tickets, &mut current.contacts_may_close_tickets),
        ];
        for (value, field) in flags {
            if let Some(value) = value {
                *field = value;
            }
        }
        let request = pb::UpdatePortalSettingsRequest { settings: Some(current) };
        current = client.update_portal_settings(bearer(request, &token)?).await?.into_inner();
    }
    let signup = pb::SignupMode::try_from(current.signup_mode).map(|m| m.as_str_name()).unwrap_or("?");
    println!(
        "{}",
        serde_json::json!({
            "password_login": current.password_login,
            "sso_providers": current.sso_providers,
            "signup_mode": signup,
            "signup_domains": current.signup_domains,
            "login_required_to_submit": current.login_required_to_submit,
            "login_required_for_kb": current.login_required_for_kb,
            "contacts_may_close_tickets": current.contacts_may_close_tickets,
            "captcha_enabled": current.captcha_enabled,
        })
    );
    Ok(())
}
