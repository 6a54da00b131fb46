//! Connecting and logging in to an IMAP server over plain TCP, implicit TLS or STARTTLS (rustls
//! with the Mozilla roots, plus the mailbox's own CA file if it names one), with a timeout on
//! every step. The password only ever goes to `LOGIN`.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::net::TcpStream;
use tokio_rustls::{
    TlsConnector,
    client::TlsStream,
    rustls::{
        self,
        pki_types::{CertificateDer, ServerName, pem::PemObject},
    },
};
use tokio_util::either::Either;

use crate::config::{ImapTls, MailboxConfig};

pub type Stream = Either<TcpStream, TlsStream<TcpStream>>;
pub type Session = async_imap::Session<Stream>;

pub async fn login(mailbox: &MailboxConfig, timeout: Duration) -> anyhow::Result<Session> {
    let step = |what: &'static str| move |_| anyhow::anyhow!("{what} timed out after {timeout:?}");
    let tcp = tokio::time::timeout(timeout, TcpStream::connect((mailbox.host.as_str(), mailbox.port)))
        .await
        .map_err(step("connect"))?
        .with_context(|| format!("connect to {}:{}", mailbox.host, mailbox.port))?;
    tcp.set_nodelay(true)?;
    let client = match mailbox.tls {
        ImapTls::None => greeted(Either::Left(tcp), timeout).await?,
        ImapTls::Tls => greeted(Either::Right(tls(mailbox, tcp).await?), timeout).await?,
        ImapTls::Starttls => {
            let mut plain = greeted(tcp, timeout).await?;
            tokio::time::timeout(timeout, plain.run_command_and_check_ok("STARTTLS", None))
                .await
                .map_err(step("STARTTLS"))?
                .context("STARTTLS refused")?;
            // No second greeting after STARTTLS.
            async_imap::Client::new(Either::Right(tls(mailbox, plain.into_inner()).await?))
        }
    };
    tokio::time::timeout(timeout, client.login(&mailbox.username, mailbox.password.expose_secret()))
        .await
        .map_err(step("login"))?
        .map_err(|(error, _)| anyhow::anyhow!("login as {} refused: {error}", mailbox.username))
}

/// A client that has read the server's greeting (which must come before any command).
async fn greeted<T>(stream: T, timeout: Duration) -> anyhow::Result<async_imap::Client<T>>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let mut client = async_imap::Client::new(stream);
    tokio::time::timeout(timeout, client.read_response())
        .await
        .map_err(|_| anyhow::anyhow!("no IMAP greeting within {timeout:?}"))??
        .context("the server closed the connection before its greeting")?;
    Ok(client)
}

/// TLS towards the mailbox's server, verified against the public roots and its `ca_file`.
async fn tls(mailbox: &MailboxConfig, tcp: TcpStream) -> anyhow::Result<TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if !mailbox.ca_file.is_empty() {
        for cert in CertificateDer::pem_file_iter(&mailbox.ca_file).with_context(|| format!("ca_file {}", mailbox.ca_file))? {
            roots.add(cert.with_context(|| format!("ca_file {}", mailbox.ca_file))?)?;
        }
    }
    let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let name = ServerName::try_from(mailbox.host.clone()).context("server name for TLS")?;
    TlsConnector::from(Arc::new(config)).connect(name, tcp).await.context("TLS handshake")
}
