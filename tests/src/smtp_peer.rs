//! A scripted SMTP peer for the mail-out tests, because the stack's sink accepts everything: a
//! small tokio server on 127.0.0.1:0 that speaks enough SMTP for lettre (EHLO/HELO, MAIL, RCPT,
//! DATA, RSET, NOOP, QUIT; no SMTPUTF8, so lettre refuses non-ASCII addresses itself), answers
//! each `RCPT TO` as the test's script says, and records what it was asked and what it took. It
//! runs as a task of the test's runtime, so it ends with the test.

use std::sync::{Arc, Mutex};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
};

/// Answers `RCPT TO:<address>` for the `attempt`-th time that address is asked (from 1) with a
/// full reply line such as `250 2.1.5 OK`, `550 5.1.1 no such user` or `451 4.3.0 later`.
pub type Script = dyn Fn(&str, usize) -> String + Send + Sync;

#[derive(Default)]
struct Log {
    /// Every `RCPT TO` address, lower-cased, in order.
    recipients: Vec<String>,
    /// (accepted recipients, raw message) for every DATA the peer took.
    delivered: Vec<(Vec<String>, String)>,
}

pub struct SmtpPeer {
    pub port: u16,
    log: Arc<Mutex<Log>>,
}

impl SmtpPeer {
    pub async fn start(script: impl Fn(&str, usize) -> String + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the SMTP peer");
        let port = listener.local_addr().expect("address").port();
        let log = Arc::new(Mutex::new(Log::default()));
        let script: Arc<Script> = Arc::new(script);
        let shared = log.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, script.clone(), shared.clone()));
            }
        });
        Self { port, log }
    }

    /// How often the relay was asked to take mail for `address`.
    pub fn attempts(&self, address: &str) -> usize {
        let address = address.to_lowercase();
        self.log.lock().expect("log").recipients.iter().filter(|r| **r == address).count()
    }

    /// The raw mails the peer accepted for `address`, oldest first.
    pub fn delivered_to(&self, address: &str) -> Vec<String> {
        let address = address.to_lowercase();
        let log = self.log.lock().expect("log");
        log.delivered.iter().filter(|(to, _)| to.contains(&address)).map(|(_, raw)| raw.clone()).collect()
    }

    /// Every mail the peer accepted.
    pub fn delivered(&self) -> usize {
        self.log.lock().expect("log").delivered.len()
    }
}

/// One SMTP session; any I/O error just ends it (the client sees a dropped connection).
async fn session(stream: TcpStream, script: Arc<Script>, log: Arc<Mutex<Log>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 peer.test ESMTP scripted\r\n").await?;
    let mut accepted: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let verb = command.split([' ', ':']).next().unwrap_or_default().to_ascii_uppercase();
        let reply = match verb.as_str() {
            "EHLO" => "250-peer.test\r\n250 8BITMIME".to_string(),
            "HELO" | "NOOP" => "250 OK".to_string(),
            "MAIL" | "RSET" => {
                accepted.clear();
                "250 2.1.0 OK".to_string()
            }
            "RCPT" => {
                let address = command
                    .split_once('<')
                    .and_then(|(_, rest)| rest.split_once('>'))
                    .map(|(address, _)| address.to_lowercase())
                    .unwrap_or_default();
                let attempt = {
                    let mut log = log.lock().expect("log");
                    log.recipients.push(address.clone());
                    log.recipients.iter().filter(|r| **r == address).count()
                };
                let reply = script(&address, attempt);
                if reply.starts_with('2') {
                    accepted.push(address);
                }
                reply
            }
            "DATA" if accepted.is_empty() => "554 5.5.1 no valid recipients".to_string(),
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut raw = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    raw.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                log.lock().expect("log").delivered.push((std::mem::take(&mut accepted), raw));
                "250 2.0.0 queued".to_string()
            }
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => "502 5.5.2 command not recognized".to_string(),
        };
        write.write_all(format!("{reply}\r\n").as_bytes()).await?;
    }
}
