//! `smtp`: keepalived's SMTP_CHECK. Connect, read the greeting (220), send `HELO name`, read
//! the answer (250), send `QUIT` and close. A reply may span several lines (`250-...` then
//! `250 ...`); [`reply`] reads one whole reply from a buffer and is pure.

use crate::monitor::outcome::{io_error, CheckError, Outcome, Pass};
use crate::monitor::spec::SmtpCheck;
use std::net::{IpAddr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A reply longer than this is not an SMTP server's.
const MAX_REPLY: usize = 8 * 1024;

/// One complete SMTP reply at the start of `buf`: its code and the bytes it took. `None`: not
/// complete yet; `Some(Err(text))`: not an SMTP reply (the start of it, for the error).
pub fn reply(buf: &[u8]) -> Option<Result<(u16, usize), String>> {
    let mut at = 0;
    loop {
        let rest = buf.get(at..)?;
        let end = rest.windows(2).position(|w| w == b"\r\n")?;
        let line = rest.get(..end)?;
        let bad = || Err(String::from_utf8_lossy(&line[..line.len().min(64)]).into_owned());
        let code = match line.get(..3).and_then(|c| std::str::from_utf8(c).ok()) {
            Some(c) if c.bytes().all(|b| b.is_ascii_digit()) => c.parse::<u16>().ok(),
            _ => None,
        };
        let Some(code) = code.filter(|c| (200..600).contains(c)) else {
            return Some(bad());
        };
        at += end + 2;
        match line.get(3) {
            None | Some(b' ') => return Some(Ok((code, at))),
            Some(b'-') => continue,
            Some(_) => return Some(bad()),
        }
    }
}

/// Reads one reply (`what`: the greeting, the HELO answer) from `stream` into `buf` (which
/// may already hold part of it).
async fn read_reply(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    what: &str,
) -> Result<u16, CheckError> {
    let mut chunk = vec![0u8; 1024];
    loop {
        match reply(buf) {
            Some(Ok((code, used))) => {
                buf.drain(..used);
                return Ok(code);
            }
            Some(Err(text)) => {
                return Err(CheckError::Smtp(format!(
                    "{what} is not an SMTP reply: {text:?}"
                )))
            }
            None if buf.len() > MAX_REPLY => {
                return Err(CheckError::Smtp(format!("{what} too long")));
            }
            None => {}
        }
        let n = match stream.read(&mut chunk).await {
            Ok(n) => n,
            Err(e) => return Err(CheckError::Smtp(format!("{e} before the {what}"))),
        };
        if n == 0 {
            return Err(CheckError::Smtp(format!(
                "connection closed before the {what}"
            )));
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

pub async fn check(spec: &SmtpCheck, addr: IpAddr, source: Option<IpAddr>) -> Outcome {
    let mut stream = super::connect(SocketAddr::new(addr, spec.port), source).await?;
    let _ = stream.set_zero_linger();
    let mut buf = Vec::new();
    let greeting = read_reply(&mut stream, &mut buf, "greeting").await?;
    if greeting != 220 {
        return Err(CheckError::Smtp(format!("greeting {greeting} (want 220)")));
    }
    let helo = format!("HELO {}\r\n", spec.helo);
    stream.write_all(helo.as_bytes()).await.map_err(io_error)?;
    let answer = read_reply(&mut stream, &mut buf, "HELO answer").await?;
    if answer != 250 {
        return Err(CheckError::Smtp(format!(
            "HELO answered {answer} (want 250)"
        )));
    }
    let _ = stream.write_all(b"QUIT\r\n").await;
    Ok(Pass::default())
}

#[cfg(test)]
mod tests {
    use super::reply;

    #[test]
    fn replies_parse_whole_or_wait() {
        assert_eq!(reply(b"220 mx ESMTP\r\n"), Some(Ok((220, 14))));
        assert_eq!(reply(b"220 mx ESMTP"), None);
        let multi = b"250-mx hello\r\n250-PIPELINING\r\n250 8BITMIME\r\nQUIT";
        assert_eq!(reply(multi), Some(Ok((250, multi.len() - 4))));
        assert_eq!(reply(b"250-mx hello\r\n250-PIPE"), None);
        assert_eq!(reply(b"554\r\n"), Some(Ok((554, 5))));
        for bad in [
            &b"HTTP/1.1 200 OK\r\n"[..],
            b"22x ok\r\n",
            b"999 no\r\n",
            b"220_x\r\n",
        ] {
            assert!(matches!(reply(bad), Some(Err(_))), "{bad:?}");
        }
        assert_eq!(reply(b""), None);
    }
}
