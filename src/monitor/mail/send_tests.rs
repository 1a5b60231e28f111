//! The mailer against an SMTP server on loopback: a tokio listener that speaks SMTP as a
//! script says and records every line the client sends.

use super::message_tests::{down, spec};
use super::{send, MailError, MailSpec};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// How the fake server answers.
#[derive(Clone, Copy)]
enum Server {
    /// Accepts everything.
    Accepting,
    /// Refuses every recipient with 550.
    RefusingRecipients,
    /// Accepts the connection and says nothing.
    Silent,
}

/// Starts the server; the task returns every line it received (the DATA lines included).
async fn server(how: Server) -> (MailSpec, tokio::task::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let mut got = Vec::new();
        if let Server::Silent = how {
            tokio::time::sleep(Duration::from_secs(5)).await;
            return got;
        }
        write
            .write_all(b"220-mx.example.com ESMTP\r\n220 ready\r\n")
            .await
            .unwrap();
        let mut in_data = false;
        while let Ok(Some(line)) = lines.next_line().await {
            got.push(line.clone());
            let answer: &[u8] = if in_data {
                if line != "." {
                    continue;
                }
                in_data = false;
                b"250 2.0.0 queued as 42\r\n"
            } else if line.starts_with("HELO ") {
                b"250 mx.example.com\r\n"
            } else if line.starts_with("MAIL FROM:") {
                b"250 2.1.0 ok\r\n"
            } else if line.starts_with("RCPT TO:") {
                match how {
                    Server::RefusingRecipients => b"550 5.1.1 no such user\r\n",
                    _ => b"250 2.1.5 ok\r\n",
                }
            } else if line == "DATA" {
                in_data = true;
                b"354 end with <CRLF>.<CRLF>\r\n"
            } else if line == "QUIT" {
                let _ = write.write_all(b"221 bye\r\n").await;
                break;
            } else {
                b"500 what?\r\n"
            };
            write.write_all(answer).await.unwrap();
        }
        got
    });
    let spec = MailSpec {
        port,
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_millis(500),
        ..spec()
    };
    (spec, task)
}

#[tokio::test]
async fn a_mail_goes_through_the_whole_dialogue_with_its_headers_and_dot_stuffed_body() {
    let (spec, task) = server(Server::Accepting).await;
    let mut call = down();
    call.summary = "line one\n.hidden dot line".into();
    send(&spec, &call, 1_796_312_749).await.unwrap();
    let got = task.await.unwrap();
    let data = got.iter().position(|l| l == "DATA").unwrap();
    assert_eq!(
        got[..=data],
        [
            "HELO lb1.example.com",
            "MAIL FROM:<lbd@lb1.example.com>",
            "RCPT TO:<ops@example.com>",
            "RCPT TO:<oncall@example.com>",
            "DATA"
        ]
    );
    assert_eq!(got.last().unwrap(), "QUIT");
    let message = &got[data + 1..got.len() - 1];
    assert_eq!(message.last().unwrap(), ".");
    assert!(message.contains(&"Date: Thu, 03 Dec 2026 15:45:49 +0000".to_string()));
    assert!(message.contains(&"From: lbd@lb1.example.com".to_string()));
    assert!(message.contains(&"To: ops@example.com, oncall@example.com".to_string()));
    assert!(message.contains(&"Subject: [lb1] Realserver [198.51.100.12]:8080 - DOWN".to_string()));
    // The summary's second line started with a dot: it went out doubled.
    assert!(
        message.contains(&"..hidden dot line".to_string()),
        "{message:?}"
    );
}

#[tokio::test]
async fn a_refused_recipient_fails_the_mail_with_the_servers_reply() {
    let (spec, task) = server(Server::RefusingRecipients).await;
    let e = send(&spec, &down(), 0).await.unwrap_err();
    assert!(
        matches!(&e, MailError::Refused(r) if r.code == 550),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "RCPT TO refused: 550 5.1.1 no such user");
    assert!(!e.is_timeout());
    // No DATA after the refusal; the client said QUIT.
    let got = task.await.unwrap();
    assert!(!got.iter().any(|l| l == "DATA"), "{got:?}");
    assert_eq!(got.last().unwrap(), "QUIT");
}

#[tokio::test]
async fn a_silent_server_times_out_within_the_dialogue_limit() {
    let (spec, task) = server(Server::Silent).await;
    let started = std::time::Instant::now();
    let e = send(&spec, &down(), 0).await.unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
    assert_eq!(e.to_string(), "timed out waiting for the greeting reply");
    assert!(started.elapsed() < Duration::from_secs(2));
    task.abort();
}

#[tokio::test]
async fn a_closed_port_is_a_connection_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let spec = MailSpec { port, ..spec() };
    let e = send(&spec, &down(), 0).await.unwrap_err();
    assert!(matches!(e, MailError::Connect(_)), "{e:?}");
    assert!(e.to_string().starts_with("cannot connect: "), "{e}");
}
