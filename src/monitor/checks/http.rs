//! `http` / `https`: one HTTP/1.1 request over hyper (method, path, Host header), the status
//! checked against accepted ranges and the body against a regular expression; over rustls for
//! https, with SNI, verification on or off and a warning when the certificate expires soon.

use super::tls;
use crate::monitor::outcome::{io_error, CheckError, Outcome, Pass};
use crate::monitor::spec::HttpCheck;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use regex::bytes::Regex;
use rustls::ClientConfig;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const MAX_BODY: usize = 1024 * 1024;

/// An http(s) check with its regex compiled and its TLS configuration built.
#[derive(Debug)]
pub struct PreparedHttp {
    spec: HttpCheck,
    method: hyper::Method,
    body: Option<Regex>,
    tls: Option<Arc<ClientConfig>>,
}

impl PreparedHttp {
    pub fn new(spec: &HttpCheck, https: bool) -> Result<Self, CheckError> {
        let method = hyper::Method::from_bytes(spec.method.as_bytes())
            .map_err(|_| CheckError::Spec(format!("invalid http method {:?}", spec.method)))?;
        let body = spec
            .body
            .as_deref()
            .map(Regex::new)
            .transpose()
            .map_err(|e| CheckError::Spec(format!("invalid body regex: {e}")))?;
        let tls = https
            .then(|| tls::client_config(spec.verify, spec.ca_file.as_deref()))
            .transpose()?;
        Ok(PreparedHttp {
            spec: spec.clone(),
            method,
            body,
            tls,
        })
    }

    pub async fn check(&self, addr: IpAddr) -> Outcome {
        let (warning, body) = self.fetch(addr).await?;
        self.judge_body(&body)?;
        Ok(Pass {
            load: None,
            warning,
        })
    }

    /// Whether the body of an accepted answer matches the check's `body` regex (if any).
    pub fn judge_body(&self, body: &[u8]) -> Result<(), CheckError> {
        match &self.body {
            Some(re) if !re.is_match(body) => Err(CheckError::Body(re.as_str().to_string())),
            _ => Ok(()),
        }
    }

    /// Runs the request; returns the expiry warning (https) and the body of an accepted status.
    pub async fn fetch(&self, addr: IpAddr) -> Result<(Option<String>, Vec<u8>), CheckError> {
        let https = self.tls.is_some();
        let port = self.spec.port.unwrap_or(if https { 443 } else { 80 });
        let tcp = TcpStream::connect(SocketAddr::new(addr, port))
            .await
            .map_err(io_error)?;
        let _ = tcp.set_zero_linger();
        let host = self.spec.host.clone().unwrap_or_else(|| match addr {
            IpAddr::V6(a) => format!("[{a}]:{port}"),
            IpAddr::V4(a) => format!("{a}:{port}"),
        });
        match &self.tls {
            None => Ok((None, self.exchange(tcp, &host).await?)),
            Some(config) => {
                let name = match (&self.spec.sni, &self.spec.host) {
                    (Some(sni), _) => sni.clone(),
                    (None, Some(h)) => strip_port(h).to_string(),
                    (None, None) => addr.to_string(),
                };
                let stream = TlsConnector::from(config.clone())
                    .connect(tls::server_name(&name)?, tcp)
                    .await
                    .map_err(|e| CheckError::Tls(e.to_string()))?;
                let warning = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| tls::not_after(c.as_ref()))
                    .and_then(|na| {
                        let now = SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .map(|d| d.as_secs() as i64)
                            .unwrap_or(0);
                        tls::expiry_warning(na, now, self.spec.cert_expiry_warn_days)
                    });
                Ok((warning, self.exchange(stream, &host).await?))
            }
        }
    }

    /// The request and its answer on a connected stream (TCP, TLS, or a test's in-memory
    /// pipe): the body of an answer whose status the check accepts, else why not. This is where
    /// the node's bytes are parsed (by hyper, the body limited to 1 MiB); never panics.
    pub async fn exchange<IO>(&self, io: IO, host: &str) -> Result<Vec<u8>, CheckError>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let http_err = |e: hyper::Error| CheckError::Http(e.to_string());
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(http_err)?;
        let request = hyper::Request::builder()
            .method(self.method.clone())
            .uri(self.spec.path.as_str())
            .header(hyper::header::HOST, host)
            .header(hyper::header::USER_AGENT, "lbd-check")
            .header(hyper::header::CONNECTION, "close")
            .body(Empty::<Bytes>::new())
            .map_err(|e| CheckError::Spec(format!("invalid request: {e}")))?;
        let exchange = async {
            let response = sender.send_request(request).await.map_err(http_err)?;
            let status = response.status().as_u16();
            if !self.spec.status.contains(status) {
                return Err(CheckError::Status {
                    got: status,
                    want: self.spec.status.to_string(),
                });
            }
            if self.body.is_none() && self.method != hyper::Method::GET {
                return Ok(Vec::new());
            }
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| CheckError::Http(e.to_string()))?;
            Ok(body.to_bytes().to_vec())
        };
        tokio::pin!(conn);
        tokio::pin!(exchange);
        tokio::select! {
            r = &mut exchange => r,
            c = &mut conn => match c {
                Err(e) => Err(http_err(e)),
                Ok(()) => exchange.await,
            },
        }
    }
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // Answers as `tests/monitor_netns.rs`'s server and common servers give them; `fuzz/run`
    // seeds the `http_check_reply` target with them.
    const HTTP_OK: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nrs1\n";
    const HTTP_NOT_FOUND: &[u8] =
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 13\r\nConnection: close\r\n\r\nno such page\n";
    const HTTP_CHUNKED: &[u8] =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nrs\r\n2\r\n1\n\r\n0\r\n\r\n";
    const HTTP_10_UNTIL_CLOSE: &[u8] = b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nrs1\n";
    // An interim answer before the final one (found by the fuzzer: hyper skips it, as RFC 9110
    // section 15.2 asks).
    const HTTP_CONTINUE_THEN_OK: &[u8] =
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nrs1\n";

    /// The check's exchange against a node that reads the request, then answers `reply` and
    /// hangs up.
    async fn exchange(spec: &HttpCheck, reply: &'static [u8]) -> Result<Vec<u8>, CheckError> {
        let prepared = PreparedHttp::new(spec, false).unwrap();
        let (client, mut node) = tokio::io::duplex(64 * 1024);
        let answer = async move {
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match node.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            assert!(request.starts_with(b"GET / HTTP/1.1\r\n"), "{request:?}");
            node.write_all(reply).await.unwrap();
            node.shutdown().await.unwrap();
        };
        let (outcome, ()) = tokio::join!(prepared.exchange(client, "192.0.2.1:80"), answer);
        outcome
    }

    #[tokio::test]
    async fn answers_parse_into_a_body_or_an_error() {
        let spec = HttpCheck::default();
        for reply in [
            HTTP_OK,
            HTTP_CHUNKED,
            HTTP_10_UNTIL_CLOSE,
            HTTP_CONTINUE_THEN_OK,
        ] {
            assert_eq!(exchange(&spec, reply).await, Ok(b"rs1\n".to_vec()));
        }
        assert_eq!(
            exchange(&spec, HTTP_NOT_FOUND).await,
            Err(CheckError::Status {
                got: 404,
                want: "200-399".into()
            })
        );
        let accepts_404 = HttpCheck {
            status: crate::monitor::status::StatusRanges(vec![(404, 404)]),
            body: Some("^rs1".into()),
            ..HttpCheck::default()
        };
        let prepared = PreparedHttp::new(&accepts_404, false).unwrap();
        let body = exchange(&accepts_404, HTTP_NOT_FOUND).await.unwrap();
        assert_eq!(
            prepared.judge_body(&body),
            Err(CheckError::Body("^rs1".into()))
        );
        assert_eq!(prepared.judge_body(b"rs1\n"), Ok(()));
        for broken in [&b"HTTP/1.1 2OO OK\r\n\r\n"[..], b"SSH-2.0-OpenSSH\r\n", b""] {
            let outcome = exchange(&spec, broken).await;
            assert!(matches!(outcome, Err(CheckError::Http(_))), "{outcome:?}");
        }
    }

    #[test]
    fn host_ports_strip() {
        assert_eq!(strip_port("www.example.test:8443"), "www.example.test");
        assert_eq!(strip_port("www.example.test"), "www.example.test");
        assert_eq!(strip_port("[2001:db8::1]:443"), "2001:db8::1");
        assert_eq!(strip_port("2001:db8::1"), "2001:db8::1");
    }
}
