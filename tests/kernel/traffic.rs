//! Client traffic for scenario tests: a thread in a namespace that GETs `/` from a target over a
//! fresh TCP connection again and again (optionally from a chosen source address) and records
//! every request: when it started, how long it took, and which real server answered (the body
//! is the server's name) or why it failed. Tests then count failures in time windows.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// One request's record.
#[derive(Clone, Debug)]
pub struct Request {
    pub at: Instant,
    pub took: Duration,
    /// The client's own address of the connection, once connected.
    pub local: Option<SocketAddr>,
    /// The answering server's name, or the error.
    pub outcome: Result<String, String>,
}

/// Running traffic; stopped (and its thread joined) on drop.
pub struct Traffic {
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Request>>>,
    thread: Option<JoinHandle<()>>,
}

/// How long one request may take (connect, then the whole answer) before it counts as failed.
/// A client's SYN lost during a failover is retransmitted after 1 s and still succeeds.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// One GET of `/` from `target`, bound to `source` if given; the body, trimmed.
pub fn fetch(target: SocketAddr, source: Option<IpAddr>) -> Result<String, String> {
    fetch_from(target, source, &mut None)
}

/// [`fetch`], also telling the connection's local address.
fn fetch_from(
    target: SocketAddr,
    source: Option<IpAddr>,
    local: &mut Option<SocketAddr>,
) -> Result<String, String> {
    let mut go = || -> std::io::Result<String> {
        let domain = Domain::for_address(target);
        let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        if let Some(src) = source {
            socket.bind(&SockAddr::from(SocketAddr::new(src, 0)))?;
        }
        socket.connect_timeout(&SockAddr::from(target), REQUEST_TIMEOUT)?;
        let mut stream: TcpStream = socket.into();
        *local = stream.local_addr().ok();
        stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
        stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
        stream.write_all(b"GET / HTTP/1.0\r\nHost: lab\r\n\r\n")?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply)?;
        Ok(String::from_utf8_lossy(&reply).into_owned())
    };
    let reply = go().map_err(|e| e.to_string())?;
    let (head, body) = reply
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no header end in {reply:?}"))?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(status.to_owned());
    }
    let name = body.trim();
    if !name.starts_with("rs") {
        return Err(format!("unexpected body {name:?}"));
    }
    Ok(name.to_owned())
}

impl Traffic {
    /// Starts GETs from namespace `ns` to `target`, one after another with `pause` between them.
    pub fn start(
        ns: &str,
        target: SocketAddr,
        source: Option<IpAddr>,
        pause: Duration,
    ) -> Result<Traffic, String> {
        // Fail early (and clearly) when the namespace is not there.
        std::fs::metadata(format!("/run/netns/{ns}")).map_err(|e| format!("netns {ns}: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (flag, sink, ns) = (stop.clone(), log.clone(), ns.to_owned());
        let thread = std::thread::spawn(move || {
            let _ = super::netns::in_netns(&ns, move || {
                while !flag.load(Ordering::Relaxed) {
                    let at = Instant::now();
                    let mut local = None;
                    let outcome = fetch_from(target, source, &mut local);
                    let took = at.elapsed();
                    if let Ok(mut log) = sink.lock() {
                        log.push(Request {
                            at,
                            took,
                            local,
                            outcome,
                        });
                    }
                    std::thread::sleep(pause);
                }
            });
        });
        Ok(Traffic {
            stop,
            log,
            thread: Some(thread),
        })
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The requests started at or after `t`.
    pub fn since(&self, t: Instant) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.at >= t).collect()
    }

    /// Waits until `n` more requests have completed (at most `timeout`).
    pub fn wait_requests(&self, n: usize, timeout: Duration) -> Result<(), String> {
        let start = self.requests().len();
        let t0 = Instant::now();
        while self.requests().len() < start + n {
            if t0.elapsed() > timeout {
                return Err(format!(
                    "traffic made only {} requests in {timeout:?}",
                    self.requests().len() - start
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The failed ones among `reqs`.
pub fn failures(reqs: &[Request]) -> Vec<&Request> {
    reqs.iter().filter(|r| r.outcome.is_err()).collect()
}

/// How many requests each server answered, sorted by name.
pub fn by_server(reqs: &[Request]) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for r in reqs {
        if let Ok(name) = &r.outcome {
            *counts.entry(name.clone()).or_insert(0) += 1;
        }
    }
    counts.into_iter().collect()
}

/// "N requests, F failed (first: why), rs1 12, rs2 11" for messages.
pub fn summary(reqs: &[Request]) -> String {
    let failed = failures(reqs);
    let servers: Vec<String> = by_server(reqs)
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    let first = failed
        .first()
        .and_then(|r| r.outcome.as_ref().err())
        .map(|e| format!(" (first: {e})"))
        .unwrap_or_default();
    format!(
        "{} requests, {} failed{first}; answered by: {}",
        reqs.len(),
        failed.len(),
        servers.join(", ")
    )
}

/// The longest time between two successful answers among `reqs` (in completion order): what a
/// client sees as the outage, failed and slow requests included.
pub fn longest_gap(reqs: &[Request]) -> Duration {
    let gaps = gaps(reqs);
    gaps.iter().map(|(a, b)| *b - *a).max().unwrap_or_default()
}

/// [`longest_gap`] among the gaps that overlap `from..=to`.
pub fn longest_gap_over(reqs: &[Request], from: Instant, to: Instant) -> Duration {
    let gaps = gaps(reqs);
    (gaps.iter().filter(|(a, b)| *b >= from && *a <= to))
        .map(|(a, b)| *b - *a)
        .max()
        .unwrap_or_default()
}

/// Each time between two successful answers among `reqs`, as (one's end, the next one's end),
/// in order.
fn gaps(reqs: &[Request]) -> Vec<(Instant, Instant)> {
    let mut done: Vec<Instant> = reqs
        .iter()
        .filter(|r| r.outcome.is_ok())
        .map(|r| r.at + r.took)
        .collect();
    done.sort();
    done.windows(2).map(|w| (w[0], w[1])).collect()
}
