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
        if let Some(re) = &self.body {
            if !re.is_match(&body) {
                return Err(CheckError::Body(re.as_str().to_string()));
            }
        }
        Ok(Pass {
            load: None,
            warning,
        })
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
            None => Ok((None, self.request(TokioIo::new(tcp), &host).await?)),
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
                Ok((warning, self.request(TokioIo::new(stream), &host).await?))
            }
        }
    }

    async fn request<IO>(&self, io: TokioIo<IO>, host: &str) -> Result<Vec<u8>, CheckError>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let http_err = |e: hyper::Error| CheckError::Http(e.to_string());
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
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
    use super::strip_port;

    #[test]
    fn host_ports_strip() {
        assert_eq!(strip_port("www.example.test:8443"), "www.example.test");
        assert_eq!(strip_port("www.example.test"), "www.example.test");
        assert_eq!(strip_port("[2001:db8::1]:443"), "2001:db8::1");
        assert_eq!(strip_port("2001:db8::1"), "2001:db8::1");
    }
}
