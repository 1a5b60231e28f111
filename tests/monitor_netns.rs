//! Real checks against real servers in network namespaces on the host (needs root).
//!
//! Topology, made fresh per test and deleted by a Drop guard even when the test fails:
//! - `C` (checker) 192.0.2.1/24 + 2001:db8::1/64 ── veth ── `S` (servers) 192.0.2.2 + 2001:db8::2
//! - `C` 198.51.100.1/24 ── veth ── `D` 198.51.100.2, whose link is then set down (silent node)
//!
//! The servers (HTTP, HTTPS with rcgen certificates, TCP banner, UDP echo and silence, DNS,
//! agent) are small tokio tasks run in `S` by a thread that joined it with setns; the checks run
//! in `C` the same way, so nothing touches the host's own network.

use lbd::monitor::alert::{run_alerts, AlertCall};
use lbd::monitor::checks::Pingers;
use lbd::monitor::external;
use lbd::monitor::spec::*;
use lbd::monitor::status::StatusRanges;
use lbd::monitor::{CheckError, Outcome, Pass, Prepared};
use lbd::node::{AlertKind, NodeState};
use std::future::Future;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

const SERVER: &str = "192.0.2.2";
const SERVER6: &str = "2001:db8::2";
const SILENT: &str = "192.0.2.3";
const LINK_DOWN: &str = "198.51.100.2";

fn ip(cmd: &[&str]) {
    let st = Command::new("ip").args(cmd).status().expect("ip runs");
    assert!(st.success(), "ip {cmd:?} failed");
}

/// Namespaces and veths of one test; deleted on drop.
struct Lab {
    c: String,
    s: String,
    d: String,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.c, &self.s, &self.d] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

impl Lab {
    fn new() -> Lab {
        static N: AtomicU32 = AtomicU32::new(0);
        let id = format!("{}{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
        let lab = Lab {
            c: format!("lbdm{id}c"),
            s: format!("lbdm{id}s"),
            d: format!("lbdm{id}d"),
        };
        for ns in [&lab.c, &lab.s, &lab.d] {
            ip(&["netns", "add", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        let (vc, vs) = (format!("m{id}c"), format!("m{id}s"));
        let (wc, wd) = (format!("m{id}e"), format!("m{id}d"));
        ip(&[
            "link", "add", &vc, "netns", &lab.c, "type", "veth", "peer", "name", &vs, "netns",
            &lab.s,
        ]);
        ip(&[
            "link", "add", &wc, "netns", &lab.c, "type", "veth", "peer", "name", &wd, "netns",
            &lab.d,
        ]);
        for (ns, dev, v4, v6) in [
            (&lab.c, &vc, "192.0.2.1/24", Some("2001:db8::1/64")),
            (&lab.s, &vs, "192.0.2.2/24", Some("2001:db8::2/64")),
            (&lab.c, &wc, "198.51.100.1/24", None),
            (&lab.d, &wd, "198.51.100.2/24", None),
        ] {
            ip(&["-n", ns, "addr", "add", v4, "dev", dev]);
            if let Some(v6) = v6 {
                // No duplicate address detection at all on this link (the link-local address
                // too): a tentative address would make the first IPv6 echo go unanswered.
                let sysctl = format!("net.ipv6.conf.{dev}.accept_dad=0");
                ip(&["netns", "exec", ns, "sysctl", "-qw", &sysctl]);
                ip(&["-n", ns, "addr", "add", v6, "dev", dev, "nodad"]);
            }
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        // A second checker address, for checks bound to a `source`.
        ip(&["-n", &lab.c, "addr", "add", "192.0.2.4/24", "dev", &vc]);
        // Both families answer before any check runs (a check must not race the link's set-up).
        for target in ["192.0.2.2", "2001:db8::2"] {
            let ready = (0..30).any(|_| {
                let ok = Command::new("ip")
                    .args([
                        "netns", "exec", &lab.c, "busybox", "ping", "-c", "1", "-W", "1", target,
                    ])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|st| st.success());
                if !ok {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                ok
            });
            assert!(
                ready,
                "{target} does not answer ping from the checker namespace"
            );
        }
        // The silent node: its link goes down, so nothing answers for 198.51.100.2.
        ip(&["-n", &lab.d, "link", "set", &wd, "down"]);
        lab
    }
}

/// Runs `f` on a new thread inside namespace `ns` with its own current-thread runtime.
fn in_netns<F, Fut, T>(ns: &str, f: F) -> std::thread::JoinHandle<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("netns file");
        // SAFETY: setns on a valid namespace fd affects only this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}");
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f())
    })
}

struct Certs {
    /// Self-signed for www.example.test.
    self_signed: (Vec<u8>, Vec<u8>),
    /// Signed by `ca_pem`, for www.example.test and 192.0.2.2, expiring in 5 days.
    leaf: (Vec<u8>, Vec<u8>),
    ca_pem: String,
    /// A client certificate signed by `ca_pem` (PEM certificate, PEM key).
    client: (String, String),
}

fn make_certs() -> Certs {
    let ss = rcgen::generate_simple_self_signed(vec!["www.example.test".to_string()])
        .expect("self-signed");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("ca");
    let mut leaf_params =
        rcgen::CertificateParams::new(vec!["www.example.test".to_string(), SERVER.to_string()])
            .expect("leaf params");
    leaf_params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(5);
    let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
    let leaf = leaf_params.signed_by(&leaf_key, &ca).expect("leaf");
    let client_params = rcgen::CertificateParams::new(vec!["director.example.test".to_string()])
        .expect("client params");
    let client_key = rcgen::KeyPair::generate().expect("client key");
    let client = client_params.signed_by(&client_key, &ca).expect("client");
    Certs {
        self_signed: (ss.cert.der().to_vec(), ss.signing_key.serialize_der()),
        leaf: (leaf.der().to_vec(), leaf_key.serialize_der()),
        ca_pem: ca.pem(),
        client: (client.pem(), client_key.serialize_pem()),
    }
}

/// A tiny HTTP/1.1 server: `/` → 200 `rs1`, `/load` → `40`, `/slow` → never answers,
/// anything else → 404.
async fn serve_http<S>(mut s: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let req = String::from_utf8_lossy(&buf);
    let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (status, body) = match path.as_str() {
        "/" => ("200 OK", "rs1\n"),
        "/load" => ("200 OK", "40\n"),
        "/maintenance" => ("200 OK", "maintenance: back soon\n"),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return;
        }
        _ => ("404 Not Found", "no such page\n"),
    };
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(resp.as_bytes()).await;
    let _ = s.shutdown().await;
}

async fn tcp_server(port: u16, handler: fn(tokio::net::TcpStream) -> tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind(("::", port)).await.expect("bind");
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            handler(s);
        }
    });
}

fn tls_acceptor(cert: &(Vec<u8>, Vec<u8>)) -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.0.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.1.clone())),
        )
        .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// [`tls_acceptor`] for the leaf that asks for a client certificate signed by `ca_pem`.
fn tls_acceptor_with_clients(cert: &(Vec<u8>, Vec<u8>), ca_pem: &str) -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("ca pem"))
        .expect("ca root");
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .expect("client verifier");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(cert.0.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.1.clone())),
        )
        .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

async fn tls_server(port: u16, acceptor: tokio_rustls::TlsAcceptor) {
    let l = TcpListener::bind(("::", port)).await.expect("bind");
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let a = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = a.accept(s).await {
                    serve_http(tls).await;
                }
            });
        }
    });
}

async fn dns_server() {
    use hickory_proto::op::{Message, ResponseCode};
    use hickory_proto::rr::{rdata::A, Name, RData, Record};
    let sock = UdpSocket::bind(("0.0.0.0", 53)).await.expect("dns bind");
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut r = Message::response(q.metadata.id, q.metadata.op_code);
            for query in &q.queries {
                r.add_query(query.clone());
            }
            let name = q
                .queries
                .first()
                .map(|q| q.name().to_ascii())
                .unwrap_or_default();
            if name == "www.example.test." {
                let a = Record::from_rdata(
                    Name::from_ascii("www.example.test.").expect("name"),
                    60,
                    RData::A(A::new(192, 0, 2, 80)),
                );
                r.add_answer(a);
            } else {
                r.metadata.response_code = ResponseCode::NXDomain;
            }
            if let Ok(bytes) = r.to_vec() {
                let _ = sock.send_to(&bytes, from).await;
            }
        }
    });
}

/// Starts every server in `S` and waits until they listen.
fn start_servers(lab: &Lab, certs: &Certs) {
    let ss = tls_acceptor(&certs.self_signed);
    let leaf = tls_acceptor(&certs.leaf);
    let mutual = tls_acceptor_with_clients(&certs.leaf, &certs.ca_pem);
    let (tx, rx) = std::sync::mpsc::channel();
    in_netns(&lab.s, move || async move {
        tcp_server(80, |s| tokio::spawn(serve_http(s))).await;
        tcp_server(25, |mut s| {
            tokio::spawn(async move {
                let _ = s.write_all(b"220 rs1 ESMTP ready\r\n").await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            })
        })
        .await;
        // SMTP: a multi-line greeting and HELO answer (2525), a HELO refused (2526).
        for (port, answer) in [(2525u16, true), (2526, false)] {
            let l = TcpListener::bind(("::", port)).await.expect("bind smtp");
            tokio::spawn(async move {
                while let Ok((mut s, _)) = l.accept().await {
                    tokio::spawn(async move {
                        let _ = s.write_all(b"220-rs1 ESMTP\r\n220 ready\r\n").await;
                        let mut buf = Vec::new();
                        let mut chunk = [0u8; 256];
                        while !buf.ends_with(b"\r\n") {
                            match s.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let reply: &[u8] = if !buf.starts_with(b"HELO director.example.test") {
                            b"500 what\r\n"
                        } else if answer {
                            b"250-rs1 hello\r\n250 OK\r\n"
                        } else {
                            b"554 go away\r\n"
                        };
                        let _ = s.write_all(reply).await;
                        let _ = s.read(&mut chunk).await;
                    });
                }
            });
        }
        // Writes the address the connection came from.
        tcp_server(7070, |mut s| {
            tokio::spawn(async move {
                let peer = s
                    .peer_addr()
                    .map(|a| a.ip().to_string())
                    .unwrap_or_default();
                let _ = s.write_all(format!("from {peer}\n").as_bytes()).await;
            })
        })
        .await;
        tcp_server(3333, |mut s| {
            tokio::spawn(async move {
                let _ = s.write_all(b"25\n").await;
            })
        })
        .await;
        tls_server(443, ss).await;
        tls_server(8443, leaf).await;
        tls_server(9443, mutual).await;
        dns_server().await;
        let echo = UdpSocket::bind(("::", 7)).await.expect("udp 7");
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while let Ok((n, from)) = echo.recv_from(&mut buf).await {
                let mut reply = b"echo: ".to_vec();
                reply.extend_from_slice(&buf[..n]);
                let _ = echo.send_to(&reply, from).await;
            }
        });
        let silent = UdpSocket::bind(("::", 9)).await.expect("udp 9");
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while silent.recv_from(&mut buf).await.is_ok() {}
        });
        tx.send(()).expect("ready");
        std::future::pending::<()>().await
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("servers ready");
}

/// Runs checks in `C`: each (name, spec, address, timeout) → outcome.
fn run_checks(
    lab: &Lab,
    cases: Vec<(String, CheckSpec, IpAddr)>,
) -> Vec<(String, Outcome, Duration)> {
    in_netns(&lab.c, move || async move {
        let pingers = Pingers::default();
        let mut out = Vec::new();
        for (name, spec, addr) in cases {
            let prepared = Prepared::new(&spec).expect("valid spec");
            let t0 = Instant::now();
            let outcome = prepared
                .run(&pingers, addr, Duration::from_millis(1500))
                .await;
            out.push((name, outcome, t0.elapsed()));
        }
        out
    })
    .join()
    .expect("checker thread")
}

fn http(f: impl FnOnce(&mut HttpCheck)) -> HttpCheck {
    let mut h = HttpCheck::default();
    f(&mut h);
    h
}

#[test]
fn built_in_checks_pass_and_fail_for_the_right_reasons() {
    let lab = Lab::new();
    let certs = make_certs();
    start_servers(&lab, &certs);
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &certs.ca_pem).expect("ca file");
    let (client_cert, client_key) = (dir.path().join("client.pem"), dir.path().join("client.key"));
    std::fs::write(&client_cert, &certs.client.0).expect("client cert");
    std::fs::write(&client_key, &certs.client.1).expect("client key");

    let server: IpAddr = SERVER.parse().expect("ip");
    let server6: IpAddr = SERVER6.parse().expect("ip");
    let silent: IpAddr = SILENT.parse().expect("ip");
    let link_down: IpAddr = LINK_DOWN.parse().expect("ip");
    let tcp = |port, send: Option<&str>, expect: Option<&str>| {
        CheckSpec::Tcp(TcpCheck {
            port,
            send: send.map(str::to_string),
            expect: expect.map(str::to_string),
        })
    };
    let smtp = |port| {
        CheckSpec::Smtp(SmtpCheck {
            port,
            helo: "director.example.test".into(),
        })
    };
    let dns = |name: &str, expect: &[&str], rcode: &str| {
        CheckSpec::Dns(DnsCheck {
            port: 53,
            name: name.into(),
            qtype: "A".into(),
            expect: expect.iter().map(|s| s.to_string()).collect(),
            rcode: rcode.into(),
        })
    };
    let udp = |port, expect: Option<&str>| {
        CheckSpec::Udp(UdpCheck {
            port,
            send: "hello".into(),
            expect: expect.map(str::to_string),
        })
    };
    let https_sni = |verify: bool, port: u16, ca: Option<PathBuf>| {
        CheckSpec::Https(http(|h| {
            h.port = Some(port);
            h.verify = verify;
            h.sni = Some("www.example.test".into());
            h.ca_file = ca;
            h.cert_expiry_warn_days = 14;
        }))
    };
    let cases: Vec<(&str, CheckSpec, IpAddr)> = vec![
        (
            "ping live v4",
            CheckSpec::Ping(PingCheck { count: 1 }),
            server,
        ),
        (
            "ping live v6",
            CheckSpec::Ping(PingCheck { count: 1 }),
            server6,
        ),
        (
            "ping link down",
            CheckSpec::Ping(PingCheck { count: 2 }),
            link_down,
        ),
        ("tcp open", tcp(80, None, None), server),
        ("tcp open v6", tcp(80, None, None), server6),
        ("tcp refused", tcp(81, None, None), server),
        ("tcp timeout", tcp(80, None, None), silent),
        ("tcp banner", tcp(25, None, Some("ESMTP")), server),
        (
            "tcp wrong banner",
            tcp(25, Some("EHLO x\r\n"), Some("IMAP")),
            server,
        ),
        ("smtp ok", smtp(2525), server),
        ("smtp ok v6", smtp(2525), server6),
        ("smtp helo refused", smtp(2526), server),
        ("smtp no helo answer", smtp(25), server),
        ("smtp not smtp", smtp(3333), server),
        (
            "http ok",
            CheckSpec::Http(http(|h| h.body = Some("^rs1".into()))),
            server,
        ),
        (
            "http wrong status",
            CheckSpec::Http(http(|h| h.path = "/missing".into())),
            server,
        ),
        (
            "http 404 accepted",
            CheckSpec::Http(http(|h| {
                h.path = "/missing".into();
                h.status = StatusRanges::parse("404").expect("status");
            })),
            server,
        ),
        (
            "http wrong body",
            CheckSpec::Http(http(|h| h.body = Some("^rs2".into()))),
            server,
        ),
        (
            "http hung",
            CheckSpec::Http(http(|h| h.path = "/slow".into())),
            server,
        ),
        (
            "http refused",
            CheckSpec::Http(http(|h| h.port = Some(81))),
            server,
        ),
        (
            "https self-signed verify on",
            https_sni(true, 443, None),
            server,
        ),
        (
            "https self-signed verify off",
            https_sni(false, 443, None),
            server,
        ),
        (
            "https ca verify on",
            https_sni(true, 8443, Some(ca_file.clone())),
            server,
        ),
        (
            "https ca by ip",
            CheckSpec::Https(http(|h| {
                h.port = Some(8443);
                h.ca_file = Some(ca_file.clone());
            })),
            server,
        ),
        (
            "https wrong name",
            CheckSpec::Https(http(|h| {
                h.port = Some(8443);
                h.sni = Some("other.example.test".into());
                h.ca_file = Some(ca_file.clone());
            })),
            server,
        ),
        (
            "https client cert",
            CheckSpec::Https(http(|h| {
                h.port = Some(9443);
                h.ca_file = Some(ca_file.clone());
                h.client_cert = Some(client_cert.clone());
                h.client_key = Some(client_key.clone());
            })),
            server,
        ),
        (
            "https no client cert",
            CheckSpec::Https(http(|h| {
                h.port = Some(9443);
                h.ca_file = Some(ca_file.clone());
            })),
            server,
        ),
        (
            "http digest",
            CheckSpec::Http(http(|h| {
                h.digest = Some("7a6c0d2ef5a9e6e1776090916c66ba3a".into())
            })),
            server,
        ),
        (
            "http wrong digest",
            CheckSpec::Http(http(|h| {
                h.digest = Some("00000000000000000000000000000000".into())
            })),
            server,
        ),
        (
            "http body_not",
            CheckSpec::Http(http(|h| {
                h.path = "/maintenance".into();
                h.body_not = Some("^maintenance".into());
            })),
            server,
        ),
        (
            "http urls",
            CheckSpec::Http(http(|h| {
                h.body = Some("^rs1".into());
                h.more_urls = vec![HttpUrl {
                    path: "/load".into(),
                    status: StatusRanges::parse("200").expect("status"),
                    body: Some("^40".into()),
                    body_not: Some("maintenance".into()),
                    digest: None,
                }];
            })),
            server,
        ),
        (
            "http second url fails",
            CheckSpec::Http(http(|h| {
                h.more_urls = vec![HttpUrl {
                    path: "/missing".into(),
                    status: StatusRanges::default(),
                    body: None,
                    body_not: None,
                    digest: None,
                }];
            })),
            server,
        ),
        (
            "dns answer",
            dns("www.example.test", &["192.0.2.80"], "NOERROR"),
            server,
        ),
        (
            "dns wrong answer",
            dns("www.example.test", &["192.0.2.81"], "NOERROR"),
            server,
        ),
        (
            "dns nxdomain",
            dns("nope.example.test", &[], "NOERROR"),
            server,
        ),
        (
            "dns nxdomain expected",
            dns("nope.example.test", &[], "NXDOMAIN"),
            server,
        ),
        ("udp echo", udp(7, Some("echo: hello")), server),
        ("udp wrong reply", udp(7, Some("pong")), server),
        ("udp no reply", udp(9, None), server),
        ("udp refused", udp(10, None), server),
        (
            "agent tcp",
            CheckSpec::Agent(AgentCheck {
                port: 3333,
                protocol: AgentProtocol::Tcp,
                path: "/".into(),
            }),
            server,
        ),
        (
            "agent http",
            CheckSpec::Agent(AgentCheck {
                port: 80,
                protocol: AgentProtocol::Http,
                path: "/load".into(),
            }),
            server,
        ),
        (
            "agent garbage",
            CheckSpec::Agent(AgentCheck {
                port: 80,
                protocol: AgentProtocol::Http,
                path: "/".into(),
            }),
            server,
        ),
    ];
    let results = run_checks(
        &lab,
        cases
            .into_iter()
            .map(|(n, s, a)| (n.to_string(), s, a))
            .collect(),
    );
    let get = |name: &str| {
        results
            .iter()
            .find(|r| r.0 == name)
            .map(|r| (r.1.clone(), r.2))
            .unwrap_or_else(|| panic!("no result for {name}"))
    };
    let pass = |name: &str| {
        let (o, _) = get(name);
        assert!(o.is_ok(), "{name}: expected a pass, got {o:?}");
        o.unwrap_or_default()
    };
    let fail = |name: &str| -> CheckError {
        match get(name).0 {
            Ok(p) => panic!("{name}: expected a failure, got a pass {p:?}"),
            Err(e) => e,
        }
    };
    pass("ping live v4");
    pass("ping live v6");
    assert_eq!(fail("ping link down"), CheckError::NoEchoReply);
    pass("tcp open");
    pass("tcp open v6");
    assert_eq!(fail("tcp refused"), CheckError::Refused);
    assert_eq!(fail("tcp timeout"), CheckError::Timeout(1500));
    let (_, took) = get("tcp timeout");
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    pass("tcp banner");
    assert_eq!(fail("tcp wrong banner"), CheckError::Expect("IMAP".into()));
    pass("smtp ok");
    pass("smtp ok v6");
    assert_eq!(
        fail("smtp helo refused"),
        CheckError::Smtp("HELO answered 554 (want 250)".into())
    );
    // The server hangs up (a reset) a second after its greeting.
    match fail("smtp no helo answer") {
        CheckError::Smtp(m) => assert!(m.ends_with("before the HELO answer"), "{m}"),
        e => panic!("no HELO answer: {e:?}"),
    }
    assert_eq!(
        fail("smtp not smtp"),
        CheckError::Smtp("connection closed before the greeting".into())
    );
    pass("http ok");
    assert_eq!(
        fail("http wrong status"),
        CheckError::Status {
            got: 404,
            want: "200-399".into()
        }
    );
    pass("http 404 accepted");
    assert_eq!(fail("http wrong body"), CheckError::Body("^rs2".into()));
    assert_eq!(fail("http hung"), CheckError::Timeout(1500));
    assert_eq!(fail("http refused"), CheckError::Refused);
    match fail("https self-signed verify on") {
        CheckError::Tls(m) => assert!(m.contains("UnknownIssuer") || m.contains("issuer"), "{m}"),
        e => panic!("self-signed with verification: {e:?}"),
    }
    let p = pass("https self-signed verify off");
    assert_eq!(
        p.warning, None,
        "a fresh self-signed certificate is valid for long"
    );
    let p = pass("https ca verify on");
    assert!(
        p.warning
            .as_deref()
            .is_some_and(|w| w.starts_with("certificate expires in 4 days")),
        "expiry warning: {:?}",
        p.warning
    );
    pass("https ca by ip");
    match fail("https wrong name") {
        CheckError::Tls(m) => assert!(m.contains("NotValidForName") || m.contains("name"), "{m}"),
        e => panic!("wrong name: {e:?}"),
    }
    pass("https client cert");
    match fail("https no client cert") {
        CheckError::Tls(m) | CheckError::Http(m) | CheckError::Io(m) => {
            assert!(!m.is_empty())
        }
        e => panic!("no client certificate: {e:?}"),
    }
    pass("http digest");
    assert_eq!(
        fail("http wrong digest"),
        CheckError::Digest {
            got: "7a6c0d2ef5a9e6e1776090916c66ba3a".into(),
            want: "00000000000000000000000000000000".into()
        }
    );
    assert_eq!(
        fail("http body_not"),
        CheckError::BodyRefused("^maintenance".into())
    );
    pass("http urls");
    assert_eq!(
        fail("http second url fails"),
        CheckError::Url {
            path: "/missing".into(),
            error: Box::new(CheckError::Status {
                got: 404,
                want: "200-399".into()
            })
        }
    );
    pass("dns answer");
    assert_eq!(
        fail("dns wrong answer"),
        CheckError::DnsAnswer {
            missing: "192.0.2.81".into(),
            got: "192.0.2.80".into()
        }
    );
    assert_eq!(
        fail("dns nxdomain"),
        CheckError::DnsRcode {
            got: "NXDOMAIN".into(),
            want: "NOERROR".into()
        }
    );
    pass("dns nxdomain expected");
    pass("udp echo");
    assert_eq!(fail("udp wrong reply"), CheckError::Expect("pong".into()));
    assert_eq!(fail("udp no reply"), CheckError::Timeout(1500));
    assert_eq!(fail("udp refused"), CheckError::Refused);
    assert_eq!(pass("agent tcp").load, Some(25));
    assert_eq!(pass("agent http").load, Some(40));
    assert_eq!(fail("agent garbage"), CheckError::Agent("rs1\n".into()));
}

fn monitors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("monitors")
}

/// Process groups still alive whose id is `pgid` (from /proc).
fn group_members(pgid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the command's closing parenthesis: state ppid pgrp ...
        let rest = stat.rsplit_once(')').map(|r| r.1).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn external_monitors_in_mon_convention() {
    let lab = Lab::new();
    let certs = make_certs();
    start_servers(&lab, &certs);
    let dir = tempfile::tempdir().expect("tempdir");
    let hung = dir.path().join("hung.monitor");
    let pidfile = dir.path().join("pids");
    std::fs::write(
        &hung,
        format!(
            "#!/bin/sh\nsleep 300 &\necho $$ $! > {}\nwait\n",
            pidfile.display()
        ),
    )
    .expect("script");
    std::fs::set_permissions(&hung, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let whoami = dir.path().join("whoami.monitor");
    std::fs::write(&whoami, "#!/bin/sh\nid -u\nexit 1\n").expect("script");
    std::fs::set_permissions(&whoami, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");

    let mons = monitors_dir();
    let dirpath = dir.path().to_path_buf();
    let results = in_netns(&lab.c, move || async move {
        let ext = |monitor: &str, args: &[&str], d: &Path| ExternalCheck {
            monitor: monitor.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            dir: d.to_path_buf(),
            user: None,
        };
        let hosts =
            |hs: &[&str]| -> Vec<Vec<String>> { hs.iter().map(|h| vec![h.to_string()]).collect() };
        let t = Duration::from_secs(8);
        let mut r = Vec::new();
        r.push(
            external::check(
                &ext("http.monitor", &["-t", "2"], &mons),
                "g",
                "http",
                &hosts(&[SERVER, LINK_DOWN]),
                t,
            )
            .await,
        );
        r.push(
            external::check(
                &ext("http.monitor", &["-u", "/missing"], &mons),
                "g",
                "http",
                &hosts(&[SERVER]),
                t,
            )
            .await,
        );
        r.push(
            external::check(
                &ext("tcp.monitor", &["-p", "80", "-t", "2"], &mons),
                "g",
                "tcp",
                &hosts(&[SERVER, LINK_DOWN]),
                t,
            )
            .await,
        );
        r.push(
            external::check(
                &ext("ping.monitor", &["-t", "1"], &mons),
                "g",
                "ping",
                &hosts(&[SERVER, LINK_DOWN]),
                t,
            )
            .await,
        );
        let t0 = Instant::now();
        r.push(
            external::check(
                &ext("hung.monitor", &[], &dirpath),
                "g",
                "hung",
                &hosts(&[SERVER]),
                Duration::from_millis(700),
            )
            .await,
        );
        let hung_took = t0.elapsed();
        let mut nobody = ext("whoami.monitor", &[], &dirpath);
        nobody.user = Some("nobody".into());
        r.push(external::check(&nobody, "g", "who", &hosts(&[SERVER]), t).await);
        (r, hung_took)
    })
    .join()
    .expect("checker thread");
    let (r, hung_took) = results;
    let monitor_err = |o: &Outcome| match o {
        Err(CheckError::Monitor(m)) => m.clone(),
        other => panic!("expected a monitor failure, got {other:?}"),
    };
    // http.monitor: the live server passes, the silent one is named in the summary.
    assert!(r[0][0].is_ok(), "{:?}", r[0][0]);
    assert!(
        monitor_err(&r[0][1]).starts_with(LINK_DOWN),
        "{:?}",
        r[0][1]
    );
    assert!(monitor_err(&r[1][0]).contains("HTTP 404"), "{:?}", r[1][0]);
    assert!(r[2][0].is_ok(), "{:?}", r[2][0]);
    assert!(
        monitor_err(&r[2][1]).contains("cannot connect"),
        "{:?}",
        r[2][1]
    );
    assert!(r[3][0].is_ok(), "{:?}", r[3][0]);
    assert!(
        monitor_err(&r[3][1]).contains("no echo reply"),
        "{:?}",
        r[3][1]
    );
    // The hung monitor is killed at its timeout with everything it started.
    assert_eq!(r[4][0], Err(CheckError::Timeout(700)));
    assert!(hung_took < Duration::from_secs(3), "{hung_took:?}");
    let pids = std::fs::read_to_string(&pidfile).expect("hung monitor wrote its pids");
    let mut it = pids
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok());
    let (leader, sleeper) = (it.next().expect("leader"), it.next().expect("sleeper"));
    // Killed members are reaped by their parent (the leader's, us) or by init for orphans.
    let t0 = Instant::now();
    while !group_members(leader).is_empty() && t0.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        group_members(leader).is_empty(),
        "process group {leader} still has members"
    );
    assert!(
        !Path::new(&format!("/proc/{sleeper}")).exists(),
        "orphan {sleeper} left"
    );
    assert!(
        !Path::new(&format!("/proc/{leader}")).exists(),
        "zombie {leader} left"
    );
    // Run as nobody: the summary line is the uid.
    let uid = monitor_err(&r[5][0]);
    assert_eq!(uid.trim(), "65534");
}

#[test]
fn alert_scripts_get_the_transition_in_their_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let script = dir.path().join("env.alert");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nread summary\necho \"$*|$LBD_NODE|$LBD_SERVICE|$LBD_OLD_STATE|$LBD_NEW_STATE|$MON_ALERTTYPE|$summary\" >> {}\nexit 3\n",
            out.display()
        ),
    )
    .expect("script");
    let slow = dir.path().join("slow.alert");
    std::fs::write(&slow, "#!/bin/sh\nsleep 30\n").expect("script");
    for p in [&script, &slow] {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
    }
    let call = AlertCall {
        node: "rs2".into(),
        address: "198.51.100.12".into(),
        group: "http_nodes".into(),
        watch: "http".into(),
        kind: AlertKind::Alert,
        old: NodeState::Online,
        new: NodeState::Failed,
        summary: "rs2 returned 503".into(),
    };
    let alerts = vec![
        AlertSpec::Log,
        AlertSpec::Script {
            path: script.clone(),
            args: vec!["extra".into()],
            user: None,
        },
        AlertSpec::Script {
            path: slow.clone(),
            args: vec![],
            user: None,
        },
        AlertSpec::Script {
            path: dir.path().join("missing.alert"),
            args: vec![],
            user: None,
        },
    ];
    let records = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run_alerts(&alerts, &call, Duration::from_millis(500)));
    assert_eq!(records.len(), 4);
    assert_eq!(records[0].alert, "log");
    assert_eq!(records[1].exit_code, Some(3));
    assert!(!records[1].timed_out);
    assert!(records[2].timed_out && records[2].signal == Some(9));
    assert!(records[2].duration_ms >= 500 && records[2].duration_ms < 2_000);
    assert!(records[3]
        .error
        .as_deref()
        .is_some_and(|e| e.starts_with("cannot run")));
    let line = std::fs::read_to_string(&out).expect("alert ran");
    let fields: Vec<&str> = line.trim().split('|').collect();
    assert!(
        fields[0].starts_with("-s http -g http_nodes -h rs2 -t "),
        "{line}"
    );
    assert!(fields[0].ends_with(" extra"), "{line}");
    assert_eq!(
        &fields[1..],
        &[
            "rs2",
            "http",
            "online",
            "failed",
            "failure",
            "rs2 returned 503"
        ]
    );
}

#[test]
fn quorum_scripts_get_the_passing_servers_and_the_quorum_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let script = dir.path().join("quorum.alert");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nread summary\necho \"$*|$LBD_ALERT|$LBD_QUORUM|$LBD_NODE|$LBD_NODE_ADDRESS|$MON_ALERTTYPE|${{LBD_OLD_STATE-unset}}|$summary\" >> {}\n",
            out.display()
        ),
    )
    .expect("write script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let alerts = vec![AlertSpec::Script {
        path: script.clone(),
        args: vec![],
        user: None,
    }];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for (kind, nodes, summary) in [
        (
            AlertKind::QuorumDown,
            "rs3",
            "quorum lost: 1 passing real server(s), quorum 2",
        ),
        (
            AlertKind::QuorumUp,
            "rs2 rs3",
            "quorum back: 2 passing real server(s), quorum 2",
        ),
    ] {
        let call = AlertCall {
            node: nodes.into(),
            address: nodes.replace("rs", "198.51.100.1"),
            group: "http_nodes".into(),
            watch: "http".into(),
            kind,
            old: NodeState::Online,
            new: NodeState::Online,
            summary: summary.into(),
        };
        let records = runtime.block_on(run_alerts(&alerts, &call, Duration::from_secs(5)));
        assert_eq!(records[0].exit_code, Some(0), "{records:?}");
    }
    let text = std::fs::read_to_string(&out).expect("quorum scripts ran");
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0][0].starts_with("-s http -g http_nodes -h rs3 -t "),
        "{text}"
    );
    assert!(!lines[0][0].ends_with("-u"), "{text}");
    assert!(
        lines[1][0].starts_with("-s http -g http_nodes -h rs2 rs3 -t "),
        "{text}"
    );
    assert!(lines[1][0].ends_with(" -u"), "{text}");
    assert_eq!(
        &lines[0][1..],
        &[
            "quorum_down",
            "lost",
            "rs3",
            "198.51.100.13",
            "failure",
            "unset",
            "quorum lost: 1 passing real server(s), quorum 2"
        ]
    );
    assert_eq!(
        &lines[1][1..],
        &[
            "quorum_up",
            "met",
            "rs2 rs3",
            "198.51.100.12 198.51.100.13",
            "up",
            "unset",
            "quorum back: 2 passing real server(s), quorum 2"
        ]
    );
}

#[test]
fn a_host_unreachable_error_is_not_an_echo_reply() {
    let lab = Lab::new();
    // Nobody has 192.0.2.77 on the checker's link: ARP gives up fast here and the kernel
    // answers the checker's own echo with ICMP host unreachable, routed to the waiting ping
    // by the address it was sent to.
    let dev = Command::new("ip")
        .args(["-n", &lab.c, "-o", "route", "get", "192.0.2.77"])
        .output()
        .expect("ip route get");
    let dev = String::from_utf8_lossy(&dev.stdout)
        .split_whitespace()
        .skip_while(|w| *w != "dev")
        .nth(1)
        .expect("a device")
        .to_string();
    for (key, value) in [("mcast_solicit", "1"), ("retrans_time_ms", "100")] {
        let sysctl = format!("net.ipv4.neigh.{dev}.{key}={value}");
        ip(&["netns", "exec", &lab.c, "sysctl", "-qw", &sysctl]);
    }
    let absent: IpAddr = "192.0.2.77".parse().unwrap();
    let outcome = in_netns(&lab.c, move || async move {
        let pingers = Pingers::default();
        Prepared::new(&CheckSpec::Ping(PingCheck { count: 1 }))
            .expect("valid spec")
            .run(&pingers, absent, Duration::from_secs(4))
            .await
    })
    .join()
    .expect("checker thread");
    assert!(
        matches!(
            outcome,
            Err(CheckError::Unreachable(_)) | Err(CheckError::NoEchoReply)
        ),
        "an absent host must not pass a ping: {outcome:?}"
    );
}

#[test]
fn misc_checks_run_per_real_server_and_a_dynamic_exit_sets_the_weight() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("check");
    let log = dir.path().join("log");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$* $LBD_NODE_ADDRESS $LBD_PORT\" >> {}\nexit $(cat {}/code)\n",
            log.display(),
            dir.path().display()
        ),
    )
    .expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let hang = dir.path().join("hang");
    std::fs::write(&hang, "#!/bin/sh\nsleep 31.7\n").expect("hang");
    std::fs::set_permissions(&hang, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let misc = |path: &Path, dynamic: bool| {
        CheckSpec::Misc(MiscCheck {
            path: path.to_path_buf(),
            args: vec![
                "-H".into(),
                "{address}".into(),
                "-p".into(),
                "{port}".into(),
            ],
            port: 8080,
            dynamic,
            user: None,
        })
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let pingers = Pingers::default();
    let run = |spec: &CheckSpec, code: &str| {
        std::fs::write(dir.path().join("code"), code).expect("code");
        let prepared = Prepared::new(spec).expect("valid");
        runtime.block_on(prepared.run(
            &pingers,
            "198.51.100.11".parse().unwrap(),
            Duration::from_millis(1500),
        ))
    };
    assert_eq!(run(&misc(&script, false), "0"), Ok(Pass::default()));
    assert_eq!(
        run(&misc(&script, false), "12"),
        Err(CheckError::Monitor("exit 12".into()))
    );
    assert_eq!(
        run(&misc(&script, true), "12")
            .expect("dynamic pass")
            .weight,
        Some(10)
    );
    assert_eq!(
        run(&misc(&script, true), "1"),
        Err(CheckError::Monitor("exit 1".into()))
    );
    let lines = std::fs::read_to_string(&log).expect("ran");
    assert_eq!(lines.lines().count(), 4);
    assert!(
        lines
            .lines()
            .all(|l| l == "-H 198.51.100.11 -p 8080 198.51.100.11 8080"),
        "{lines}"
    );
    // A hung one times out and its process group goes with it.
    let t0 = Instant::now();
    assert_eq!(
        run(&misc(&hang, false), "0"),
        Err(CheckError::Timeout(1500))
    );
    assert!(t0.elapsed() < Duration::from_secs(5));
    let sleeper_left = || {
        std::fs::read_dir("/proc")
            .expect("proc")
            .flatten()
            .any(|e| {
                std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == b"sleep\x0031.7\x00")
            })
    };
    let t1 = Instant::now();
    while sleeper_left() && t1.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !sleeper_left(),
        "the hung check's sleep survived its timeout"
    );
    assert!(
        matches!(run(&misc(Path::new("/nonexistent/lbd-misc"), false), "0"), Err(CheckError::Monitor(m)) if m.starts_with("cannot run")),
    );
}

#[test]
fn checks_bind_the_watch_source_address() {
    let lab = Lab::new();
    let certs = make_certs();
    start_servers(&lab, &certs);
    let server: IpAddr = SERVER.parse().expect("ip");
    let server6: IpAddr = SERVER6.parse().expect("ip");
    let from = |expect: &str| {
        CheckSpec::Tcp(TcpCheck {
            port: 7070,
            send: None,
            expect: Some(expect.into()),
        })
    };
    let cases: Vec<(CheckSpec, IpAddr, Option<IpAddr>)> = vec![
        (
            from("192.0.2.4\n"),
            server,
            Some("192.0.2.4".parse().unwrap()),
        ),
        (from("192.0.2.4\n"), server, None),
        (from("from"), server, Some("203.0.113.9".parse().unwrap())),
        (from("from"), server6, Some("192.0.2.4".parse().unwrap())),
    ];
    let results = in_netns(&lab.c, move || async move {
        let pingers = Pingers::default();
        let mut out = Vec::new();
        for (spec, addr, source) in cases {
            let prepared = Prepared::new(&spec).expect("valid spec");
            out.push(
                prepared
                    .run_from(&pingers, addr, source, Duration::from_millis(1500))
                    .await,
            );
        }
        out
    })
    .join()
    .expect("checker thread");
    assert_eq!(results[0], Ok(Pass::default()));
    // Without a source the kernel picks the link's first address (the server sees
    // ::ffff:192.0.2.1).
    assert_eq!(results[1], Err(CheckError::Expect("192.0.2.4\n".into())));
    match &results[2] {
        Err(CheckError::Io(m)) => {
            assert!(m.starts_with("cannot bind to source 203.0.113.9"), "{m}")
        }
        r => panic!("an address the checker does not have: {r:?}"),
    }
    match &results[3] {
        Err(CheckError::Spec(m)) => assert!(m.contains("different families"), "{m}"),
        r => panic!("a v4 source for a v6 node: {r:?}"),
    }
}
