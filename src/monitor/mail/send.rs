//! The tokio edge of the mailer: one TCP connection to the relay, the dialogue of
//! `dialogue.rs` spoken over it, under `connect_timeout` for the connection and `timeout` for
//! everything. It runs as a task of the alert queues, never on the event loop; an error comes
//! back to the caller, which logs and counts it (no retry).

use super::dialogue::{BadReply, Dialogue, Next, Refused, Reply, ReplyParser};
use super::{message, MailSpec};
use crate::monitor::alert::AlertCall;
use std::fmt;
use std::io;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Longest reply line read (RFC 5321 4.5.3.1.5 says 512 with the CRLF; some servers send more).
const MAX_LINE: u64 = 4096;
/// Most lines one reply may have.
const MAX_LINES: usize = 100;

/// Why a mail was not delivered.
#[derive(Debug)]
pub enum MailError {
    /// The connection could not be made (or the relay's name resolved).
    Connect(io::Error),
    ConnectTimeout,
    /// The whole dialogue took longer than `timeout`, waiting at this step.
    Timeout(&'static str),
    /// Reading or writing failed, or the server closed the connection, at this step.
    Io(&'static str, io::Error),
    BadReply(BadReply),
    Refused(Refused),
}

impl MailError {
    /// A time limit, rather than a refusal or an error.
    pub fn is_timeout(&self) -> bool {
        matches!(self, MailError::ConnectTimeout | MailError::Timeout(_))
    }
}

impl fmt::Display for MailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailError::Connect(e) => write!(f, "cannot connect: {e}"),
            MailError::ConnectTimeout => write!(f, "connection timed out"),
            MailError::Timeout(step) => write!(f, "timed out waiting for the {step} reply"),
            MailError::Io(step, e) => write!(f, "at the {step} step: {e}"),
            MailError::BadReply(e) => e.fmt(f),
            MailError::Refused(r) => r.fmt(f),
        }
    }
}

impl std::error::Error for MailError {}

/// Mails `call` as `spec` says; `unix_secs` is the Date.
pub async fn send(spec: &MailSpec, call: &AlertCall, unix_secs: u64) -> Result<(), MailError> {
    let (from, helo) = spec.from_and_helo(&host_name());
    let data = message::dot_stuffed(&message::message(spec, &from, call, unix_secs));
    let mut dialogue = Dialogue::new(&helo, &from, &spec.to, data);
    let run = speak(spec, &mut dialogue);
    let result = match tokio::time::timeout(spec.timeout, run).await {
        Ok(r) => r,
        Err(_) => Err(MailError::Timeout(dialogue.step().name())),
    };
    match result {
        // Once the message is accepted, a lost QUIT does not undo the mail.
        Err(_) if dialogue.delivered() => Ok(()),
        r => r,
    }
}

/// This machine's name (keepalived's default for the sender and HELO).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

async fn speak(spec: &MailSpec, dialogue: &mut Dialogue) -> Result<(), MailError> {
    let connect = TcpStream::connect((spec.server.as_str(), spec.port));
    let stream = tokio::time::timeout(spec.connect_timeout, connect)
        .await
        .map_err(|_| MailError::ConnectTimeout)?
        .map_err(MailError::Connect)?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let step = dialogue.step().name();
        let reply = read_reply(&mut read, step).await?;
        match dialogue.on_reply(&reply) {
            Next::Send(bytes) => write
                .write_all(bytes.as_bytes())
                .await
                .map_err(|e| MailError::Io(step, e))?,
            Next::Done => return Ok(()),
            Next::Refused(r) => {
                // Polite, but a refusal is the outcome whether or not QUIT goes out.
                let _ = write.write_all(b"QUIT\r\n").await;
                return Err(MailError::Refused(r));
            }
        }
    }
}

async fn read_reply<R: tokio::io::AsyncBufRead + Unpin>(
    read: &mut R,
    step: &'static str,
) -> Result<Reply, MailError> {
    let mut parser = ReplyParser::default();
    for _ in 0..MAX_LINES {
        let mut line = String::new();
        let n = (&mut *read)
            .take(MAX_LINE)
            .read_line(&mut line)
            .await
            .map_err(|e| MailError::Io(step, e))?;
        if n == 0 {
            return Err(MailError::Io(
                step,
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed by the server",
                ),
            ));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if let Some(reply) = parser.line(line).map_err(MailError::BadReply)? {
            return Ok(reply);
        }
    }
    Err(MailError::BadReply(BadReply(format!(
        "a reply of more than {MAX_LINES} lines"
    ))))
}
