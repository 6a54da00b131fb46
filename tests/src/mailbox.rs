//! Test mailboxes on the stack's Dovecot (`deploy/stack.sh`: any user name logs in with the one
//! test password and gets its own mail store, so every test makes fresh mailboxes). A test appends
//! customer mail over IMAP exactly as a mail server would deliver it, points the mail part at the
//! mailbox, and reads the flags and folders back.

use futures::TryStreamExt;
use helpdesk_mail::{ImapTls, MailboxConfig};
use tokio::net::TcpStream;

use crate::stack_env;

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the tests with deploy/test.sh (it starts Dovecot)"))
}

type Session = async_imap::Session<TcpStream>;

#[derive(Debug, Clone)]
pub struct TestMailbox {
    /// The mailbox's name in the mail config (cursor and lease key).
    pub name: String,
    /// The support address mail is sent to.
    pub address: String,
    user: String,
}

impl TestMailbox {
    pub fn new(label: &str) -> Self {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let user = format!("{label}-{}", &unique[..10]);
        Self {
            name: user.clone(),
            address: format!("{user}@support.example"),
            user,
        }
    }

    pub fn port() -> u16 {
        required_env(stack_env::HELPDESK_TEST_IMAP_PORT).parse().expect("the IMAP port is a port")
    }

    /// The `[[mail.mailboxes]]` entry that reads this mailbox.
    pub fn config(&self) -> MailboxConfig {
        MailboxConfig {
            name: self.name.clone(),
            address: self.address.clone(),
            host: "127.0.0.1".into(),
            port: Self::port(),
            tls: ImapTls::None,
            username: self.user.clone(),
            password: required_env(stack_env::HELPDESK_TEST_IMAP_PASSWORD).into(),
            ..MailboxConfig::default()
        }
    }

    /// The same entry as an inline TOML table, for `HELPDESK_MAIL__MAILBOXES=[…]` in a child's
    /// environment.
    pub fn toml(&self) -> String {
        format!(
            "{{name=\"{}\",address=\"{}\",host=\"127.0.0.1\",port={},tls=\"none\",username=\"{}\",password=\"{}\"}}",
            self.name,
            self.address,
            Self::port(),
            self.user,
            required_env(stack_env::HELPDESK_TEST_IMAP_PASSWORD)
        )
    }

    pub async fn session(&self) -> Session {
        let tcp = TcpStream::connect(("127.0.0.1", Self::port())).await.expect("connect to Dovecot");
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.expect("greeting").expect("greeting");
        client
            .login(&self.user, required_env(stack_env::HELPDESK_TEST_IMAP_PASSWORD))
            .await
            .map_err(|(e, _)| e)
            .expect("login to Dovecot")
    }

    /// Delivers a raw mail to the inbox.
    pub async fn append(&self, raw: &str) {
        self.append_to("INBOX", raw).await;
    }

    pub async fn append_to(&self, folder: &str, raw: &str) {
        let mut session = self.session().await;
        session.append(folder, None, None, raw.replace("\r\n", "\n").replace('\n', "\r\n")).await.expect("APPEND");
        session.logout().await.expect("LOGOUT");
    }

    /// Delivers many mails over one connection.
    pub async fn append_all(&self, mails: &[String]) {
        let mut session = self.session().await;
        for raw in mails {
            session.append("INBOX", None, None, raw.replace("\r\n", "\n").replace('\n', "\r\n")).await.expect("APPEND");
        }
        session.logout().await.expect("LOGOUT");
    }

    /// (UID, flags) of every mail in `folder`, in UID order.
    pub async fn flags(&self, folder: &str) -> Vec<(u32, Vec<String>)> {
        let mut session = self.session().await;
        session.select(folder).await.expect("SELECT");
        let fetched: Vec<async_imap::types::Fetch> = session
            .uid_fetch("1:*", "(UID FLAGS)")
            .await
            .expect("UID FETCH")
            .try_collect()
            .await
            .unwrap_or_default();
        let mut mails: Vec<(u32, Vec<String>)> = fetched
            .iter()
            .map(|f| (f.uid.unwrap_or_default(), f.flags().map(|flag| format!("{flag:?}")).collect()))
            .collect();
        mails.sort();
        session.logout().await.expect("LOGOUT");
        mails
    }

    /// Removes every flag from every mail in the inbox (as if they had never been imported).
    pub async fn clear_flags(&self) {
        let mut session = self.session().await;
        session.select("INBOX").await.expect("SELECT");
        let _: Vec<async_imap::types::Fetch> = session
            .uid_store("1:*", "-FLAGS.SILENT (\\Seen $HelpdeskImported)")
            .await
            .expect("UID STORE")
            .try_collect()
            .await
            .expect("UID STORE");
        session.logout().await.expect("LOGOUT");
    }
}

/// Whether an IMAP flag list (as [`TestMailbox::flags`] prints it) marks a mail imported.
pub fn imported(flags: &[String]) -> bool {
    flags.iter().any(|f| f.contains("HelpdeskImported")) && flags.iter().any(|f| f == "Seen")
}

/// A customer's mail as a mail client writes it.
pub fn customer_mail(message_id: &str, from: &str, to: &str, subject: &str, body: &str, extra_headers: &[&str]) -> String {
    let mut mail = format!(
        "From: Customer <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
    );
    for header in extra_headers {
        mail.push_str(header);
        mail.push_str("\r\n");
    }
    mail.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
    mail.push_str(body);
    mail.push_str("\r\n");
    mail
}
