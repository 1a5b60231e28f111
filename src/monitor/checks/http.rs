//! `http` / `https`: an HTTP/1.1 request over hyper (method, path, Host header) per URL, one
//! after another, every one of which must pass: the status checked against accepted ranges,
//! the body against a regular expression it must match, one it must not match and its MD5
//! (keepalived's `digest`, as `genhash` prints it); over rustls for https, with SNI,
//! verification on or off, a client certificate, and a warning when the certificate expires
//! soon.

use super::tls;
use crate::monitor::outcome::{CheckError, Outcome, Pass};
use crate::monitor::spec::HttpCheck;
use crate::monitor::status::StatusRanges;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use md5::{Digest, Md5};
use regex::bytes::Regex;
use rustls::ClientConfig;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;

const MAX_BODY: usize = 1024 * 1024;

/// An http(s) check with its regexes compiled and its TLS configuration built.
#[derive(Debug)]
pub struct PreparedHttp {
    spec: HttpCheck,
    method: hyper::Method,
    urls: Vec<PreparedUrl>,
    tls: Option<Arc<ClientConfig>>,
}

/// One URL and what its answer must be.
#[derive(Debug)]
struct PreparedUrl {
    path: String,
    status: StatusRanges,
    body: Option<Regex>,
    body_not: Option<Regex>,
    digest: Option<String>,
}

impl PreparedUrl {
    fn new(
        path: &str,
        status: &StatusRanges,
        body: Option<&str>,
        body_not: Option<&str>,
        digest: Option<&str>,
    ) -> Result<Self, CheckError> {
        let regex = |r: Option<&str>| {
            r.map(Regex::new)
                .transpose()
                .map_err(|e| CheckError::Spec(format!("invalid body regex: {e}")))
        };
        let digest = digest.map(str::to_ascii_lowercase);
        if let Some(d) = &digest {
            if d.len() != 32 || !d.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(CheckError::Spec(format!("invalid md5 digest {d:?}")));
            }
        }
        Ok(PreparedUrl {
            path: path.to_string(),
            status: status.clone(),
            body: regex(body)?,
            body_not: regex(body_not)?,
            digest,
        })
    }

    /// Whether the answer's body is needed at all.
    fn reads_body(&self) -> bool {
        self.body.is_some() || self.body_not.is_some() || self.digest.is_some()
    }

    /// The body checks, in order: the regex, the refused regex, the digest.
    fn verify(&self, body: &[u8]) -> Result<(), CheckError> {
        if let Some(re) = &self.body {
            if !re.is_match(body) {
                return Err(CheckError::Body(re.as_str().to_string()));
            }
        }
        if let Some(re) = &self.body_not {
            if re.is_match(body) {
                return Err(CheckError::BodyRefused(re.as_str().to_string()));
            }
        }
        if let Some(want) = &self.digest {
            let got = md5_hex(body);
            if &got != want {
                return Err(CheckError::Digest {
                    got,
                    want: want.clone(),
                });
            }
        }
        Ok(())
    }
}

/// The MD5 of `body` in lowercase hex (keepalived's `genhash` output).
pub fn md5_hex(body: &[u8]) -> String {
    Md5::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl PreparedHttp {
    pub fn new(spec: &HttpCheck, https: bool) -> Result<Self, CheckError> {
        let method = hyper::Method::from_bytes(spec.method.as_bytes())
            .map_err(|_| CheckError::Spec(format!("invalid http method {:?}", spec.method)))?;
        let mut urls = vec![PreparedUrl::new(
            &spec.path,
            &spec.status,
            spec.body.as_deref(),
            spec.body_not.as_deref(),
            spec.digest.as_deref(),
        )?];
        for u in &spec.more_urls {
            urls.push(PreparedUrl::new(
                &u.path,
                &u.status,
                u.body.as_deref(),
                u.body_not.as_deref(),
                u.digest.as_deref(),
            )?);
        }
        let client = match (&spec.client_cert, &spec.client_key) {
            (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
            (None, None) => None,
            _ => {
                return Err(CheckError::Spec(
                    "client_cert and client_key go together".into(),
                ))
            }
        };
        let tls = https
            .then(|| tls::client_config(spec.verify, spec.ca_file.as_deref(), client))
            .transpose()?;
        Ok(PreparedHttp {
            spec: spec.clone(),
            method,
            urls,
            tls,
        })
    }

    /// Asks for every URL in order; the first that fails is the check's failure (named by its
    /// path when there are several).
    pub async fn check(&self, addr: IpAddr) -> Outcome {
        self.check_from(addr, None).await
    }

    /// [`PreparedHttp::check`] from `source` when given.
    pub async fn check_from(&self, addr: IpAddr, source: Option<IpAddr>) -> Outcome {
        let mut warning = None;
        for url in &self.urls {
            let result = async {
                let (w, body) = self.fetch_url(addr, source, url).await?;
                url.verify(&body)?;
                Ok(w)
            }
            .await;
            match result {
                Ok(w) => warning = warning.or(w),
                Err(error) if self.urls.len() > 1 => {
                    return Err(CheckError::Url {
                        path: url.path.clone(),
                        error: Box::new(error),
                    })
                }
                Err(error) => return Err(error),
            }
        }
        Ok(Pass {
            load: None,
            warning,
            weight: None,
        })
    }

    /// The first URL's answer: the expiry warning (https) and the body of an accepted status.
    pub async fn fetch(
        &self,
        addr: IpAddr,
        source: Option<IpAddr>,
    ) -> Result<(Option<String>, Vec<u8>), CheckError> {
        match self.urls.first() {
            Some(url) => self.fetch_url(addr, source, url).await,
            None => Err(CheckError::Spec("no url".into())),
        }
    }

    /// Runs one URL's request; returns the expiry warning (https) and the body of an accepted
    /// status.
    async fn fetch_url(
        &self,
        addr: IpAddr,
        source: Option<IpAddr>,
        url: &PreparedUrl,
    ) -> Result<(Option<String>, Vec<u8>), CheckError> {
        let https = self.tls.is_some();
        let port = self.spec.port.unwrap_or(if https { 443 } else { 80 });
        let tcp = super::connect(SocketAddr::new(addr, port), source).await?;
        let _ = tcp.set_zero_linger();
        let host = self.spec.host.clone().unwrap_or_else(|| match addr {
            IpAddr::V6(a) => format!("[{a}]:{port}"),
            IpAddr::V4(a) => format!("{a}:{port}"),
        });
        match &self.tls {
            None => Ok((None, self.exchange_url(tcp, &host, url).await?)),
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
                Ok((warning, self.exchange_url(stream, &host, url).await?))
            }
        }
    }

    /// The first URL's request and answer on a connected stream (TCP, TLS, or a test's
    /// in-memory pipe): the body of an answer whose status the check accepts, else why not.
    pub async fn exchange<IO>(&self, io: IO, host: &str) -> Result<Vec<u8>, CheckError>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        match self.urls.first() {
            Some(url) => self.exchange_url(io, host, url).await,
            None => Err(CheckError::Spec("no url".into())),
        }
    }

    /// Whether the body of the first URL's accepted answer passes its body checks.
    pub fn judge_body(&self, body: &[u8]) -> Result<(), CheckError> {
        match self.urls.first() {
            Some(url) => url.verify(body),
            None => Ok(()),
        }
    }

    /// One URL's request and answer on a connected stream. This is where the node's bytes
    /// are parsed (by hyper, the body limited to 1 MiB); never panics.
    async fn exchange_url<IO>(
        &self,
        io: IO,
        host: &str,
        url: &PreparedUrl,
    ) -> Result<Vec<u8>, CheckError>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let http_err = |e: hyper::Error| CheckError::Http(e.to_string());
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(http_err)?;
        let request = hyper::Request::builder()
            .method(self.method.clone())
            .uri(url.path.as_str())
            .header(hyper::header::HOST, host)
            .header(hyper::header::USER_AGENT, "lbd-check")
            .header(hyper::header::CONNECTION, "close")
            .body(Empty::<Bytes>::new())
            .map_err(|e| CheckError::Spec(format!("invalid request: {e}")))?;
        let exchange = async {
            let response = sender.send_request(request).await.map_err(http_err)?;
            let status = response.status().as_u16();
            if !url.status.contains(status) {
                return Err(CheckError::Status {
                    got: status,
                    want: url.status.to_string(),
                });
            }
            if !url.reads_body() && self.method != hyper::Method::GET {
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
    fn digests_are_genhash_hex() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            md5_hex(b"The quick brown fox jumps over the lazy dog"),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
    }

    #[test]
    fn host_ports_strip() {
        assert_eq!(strip_port("www.example.test:8443"), "www.example.test");
        assert_eq!(strip_port("www.example.test"), "www.example.test");
        assert_eq!(strip_port("[2001:db8::1]:443"), "2001:db8::1");
        assert_eq!(strip_port("2001:db8::1"), "2001:db8::1");
    }
}
