//! The HTTP listener on `director.listen` (127.0.0.1:9180 by default): `GET /metrics`
//! (OpenMetrics for a scraper that asks for it, the classic text format 0.0.4 otherwise:
//! [`crate::metrics::format`]), `GET /` (the read-only status page), `GET /status.json`.
//! Anything else is 404, any method but GET and HEAD is 405. The page and the JSON get their
//! data by sending `Request::Status` through the daemon's handle, like `lbctl status`. Every
//! request is logged at info (peer, method, path, status): a scrape every 15 s is one line.
//!
//! Hostile or broken clients are bounded: one request per connection, the request head within
//! [`HEADER_TIMEOUT`], the whole exchange within [`CONNECTION_TIMEOUT`], at most
//! [`MAX_CONNECTIONS`] at once, and a connection still sending its head is evicted when a newer
//! one needs the place ([`super::admission`]): connections that each sent half a request line
//! never keep a scrape waiting.

use super::admission::Admission;
use super::page;
use super::proto::{Request, Response};
use super::server::{ask, Handle};
use crate::metrics::format::Format;
use crate::metrics::Metrics;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ACCEPT, ALLOW, CACHE_CONTROL, CONTENT_TYPE, VARY};
use hyper::{Method, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};

/// Concurrent HTTP connections; more wait in the kernel's backlog (or evict, see below).
pub const MAX_CONNECTIONS: usize = 64;
/// Connections still sending their request head; a newer one evicts the oldest beyond this.
pub const MAX_WAITING: usize = 32;
/// How long the daemon may take to answer the page's status request.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client may take to send its request head.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one connection may last, request, answer and a slow reader included.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

/// Binds the listener (a failure names the address).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, std::io::Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    handle: Handle,
    metrics: Metrics,
    shutdown: impl Future<Output = ()>,
) {
    let state = Arc::new((handle, metrics));
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let admission = Admission::new(MAX_WAITING);
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "status page and /metrics listening");
    }
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => return,
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    warn!(error = %e, "http: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (ticket, mut evicted, n) = admission.admit();
        if n > 0 {
            debug!(%peer, evicted = n, "http: evicted the oldest connection still sending its request");
        }
        // Every connection holds a slot; when all are taken, one still sending its request
        // gives its slot up, else this one waits for a slot (answers are bounded in time).
        let permit = match limit.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                admission.evict_older_than(&ticket);
                tokio::select! {
                    _ = &mut shutdown => return,
                    p = limit.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => return,
                    },
                }
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let conn = serve_connection(tcp, peer, &state.0, &state.1, || ticket.served());
            tokio::select! {
                r = tokio::time::timeout(CONNECTION_TIMEOUT, conn) => match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => debug!(%peer, error = %e, "http: connection ended with an error"),
                    Err(_) => debug!(%peer, "http: connection closed after {CONNECTION_TIMEOUT:?}"),
                },
                Ok(()) = &mut evicted => {
                    debug!(%peer, "http: connection evicted before its request came");
                }
            }
            drop(ticket);
            drop(permit);
        });
    }
}

/// Serves the one request of a connection on `io` (a TCP stream, or a test's in-memory pipe)
/// and returns when hyper is done with it; `on_request` runs when the request head has come
/// in. The caller bounds the whole exchange in time ([`CONNECTION_TIMEOUT`]).
pub async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    handle: &Handle,
    metrics: &Metrics,
    on_request: impl Fn(),
) -> Result<(), hyper::Error>
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let service = hyper::service::service_fn(|req| {
        on_request();
        async move {
            let (method, path) = (req.method().clone(), req.uri().path().to_string());
            let reply = route(req, handle, metrics).await;
            info!(%peer, %method, %path, status = reply.status().as_u16(), "http request");
            Ok::<_, std::convert::Infallible>(reply)
        }
    });
    hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(false)
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(io), service)
        .await
}

type Reply = hyper::Response<Full<Bytes>>;

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = hyper::Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    r
}

const TEXT: &str = "text/plain; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";

async fn route(req: hyper::Request<Incoming>, handle: &Handle, metrics: &Metrics) -> Reply {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    // An Accept header that is not text negotiates as none.
    let accept = req
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // (hyper itself leaves the body out of HEAD answers.)
    if method != Method::GET && method != Method::HEAD {
        let mut r = reply(
            StatusCode::METHOD_NOT_ALLOWED,
            TEXT,
            "method not allowed: this listener is read-only\n",
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        r
    } else {
        match path.as_str() {
            "/metrics" => {
                let format = Format::negotiate(accept.as_deref());
                let mut r = reply(
                    StatusCode::OK,
                    format.content_type(),
                    metrics.encode_as(format),
                );
                r.headers_mut()
                    .insert(VARY, HeaderValue::from_static("accept"));
                r
            }
            "/" => match ask(handle, Request::Status, STATUS_TIMEOUT).await {
                Response::Status(s) => reply(StatusCode::OK, HTML, page::render(&s)),
                other => reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    HTML,
                    page::render_error(&unavailable(&other)),
                ),
            },
            "/status.json" => match ask(handle, Request::Status, STATUS_TIMEOUT).await {
                Response::Status(s) => reply(
                    StatusCode::OK,
                    JSON,
                    serde_json::to_vec(&s).unwrap_or_default(),
                ),
                other => reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    JSON,
                    serde_json::to_vec(&other).unwrap_or_default(),
                ),
            },
            _ => reply(StatusCode::NOT_FOUND, TEXT, "not found\n"),
        }
    }
}

fn unavailable(r: &Response) -> String {
    match r {
        Response::Error { message, .. } => format!("lbd could not give its status: {message}"),
        _ => "lbd answered the status request with something else".into(),
    }
}
