//! A neutral TCP check target for benchmarks: listens on 0.0.0.0:PORT (every 127.x.y.z once
//! `lo` is up), accepts and closes every connection, and counts them, so that checks per second
//! are measured the same way whichever checker makes them (used by
//! `benches/checks_vs_keepalived.sh`).
//!
//!     accept_counter PORT
//!
//! SIGUSR1 starts a measurement window; SIGUSR2 ends it and prints one line of `key=value`
//! figures on stdout: accepts, seconds, rate, the least and most accepts in one whole second,
//! the nodes (local addresses) seen, the least and most accepts of one node, and the longest
//! gap between two accepts on one node (a checker that kept a 1 s interval shows about 1000 ms).

use socket2::{Domain, Socket, Type};
use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static START: AtomicBool = AtomicBool::new(false);
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_usr1(_: libc::c_int) {
    START.store(true, Ordering::SeqCst);
}

extern "C" fn on_usr2(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install(sig: libc::c_int, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(sig, handler as usize as libc::sighandler_t);
    }
}

/// Per-node figures inside the window.
#[derive(Default)]
struct Node {
    last: Option<Instant>,
    count: u64,
    max_gap: Duration,
}

/// The figures of one window.
struct Window {
    start: Instant,
    per_second: Vec<u64>,
    nodes: HashMap<IpAddr, Node>,
    accepts: u64,
}

impl Window {
    fn new() -> Self {
        Window {
            start: Instant::now(),
            per_second: Vec::new(),
            nodes: HashMap::new(),
            accepts: 0,
        }
    }

    fn record(&mut self, local: IpAddr, now: Instant) {
        self.accepts += 1;
        let second = now.duration_since(self.start).as_secs() as usize;
        if self.per_second.len() <= second {
            self.per_second.resize(second + 1, 0);
        }
        if let Some(c) = self.per_second.get_mut(second) {
            *c += 1;
        }
        let node = self.nodes.entry(local).or_default();
        if let Some(last) = node.last {
            node.max_gap = node.max_gap.max(now.duration_since(last));
        }
        node.last = Some(now);
        node.count += 1;
    }

    fn summary(&self, now: Instant) -> String {
        let secs = now.duration_since(self.start).as_secs_f64();
        // Whole seconds only: the last, partial one would look like a dip.
        let whole = secs.floor() as usize;
        let full = self.per_second.iter().take(whole);
        let ps_min = if whole == 0 {
            0
        } else {
            (0..whole)
                .map(|i| self.per_second.get(i).copied().unwrap_or(0))
                .min()
                .unwrap_or(0)
        };
        let ps_max = full.copied().max().unwrap_or(0);
        let node_min = self.nodes.values().map(|n| n.count).min().unwrap_or(0);
        let node_max = self.nodes.values().map(|n| n.count).max().unwrap_or(0);
        let max_gap = self
            .nodes
            .values()
            .map(|n| n.max_gap)
            .max()
            .unwrap_or_default();
        let over = self
            .nodes
            .values()
            .filter(|n| n.max_gap > Duration::from_millis(1500))
            .count();
        format!(
            "accepts={} seconds={secs:.2} rate={:.0} per_second_min={ps_min} per_second_max={ps_max} \
             nodes={} per_node_min={node_min} per_node_max={node_max} max_gap_ms={} \
             nodes_gap_over_1500ms={over}",
            self.accepts,
            self.accepts as f64 / secs.max(1e-9),
            self.nodes.len(),
            max_gap.as_millis(),
        )
    }
}

fn main() {
    let port: u16 = match std::env::args().nth(1).map(|a| a.parse()) {
        Some(Ok(p)) => p,
        _ => {
            eprintln!("usage: accept_counter PORT");
            std::process::exit(2);
        }
    };
    install(libc::SIGUSR1, on_usr1);
    install(libc::SIGUSR2, on_usr2);
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    sock.set_reuse_address(true).expect("SO_REUSEADDR");
    let sa = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
    if let Err(e) = sock.bind(&sa.into()) {
        eprintln!("accept_counter: bind {sa}: {e}");
        std::process::exit(1);
    }
    sock.listen(4096).expect("listen");
    // accept(2) returns EAGAIN after this, so the signal flags are looked at ten times a second.
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("SO_RCVTIMEO");
    println!("listening on {sa}");
    let mut window: Option<Window> = None;
    loop {
        if START.swap(false, Ordering::SeqCst) {
            window = Some(Window::new());
        }
        if STOP.swap(false, Ordering::SeqCst) {
            match window.take() {
                Some(w) => println!("{}", w.summary(Instant::now())),
                None => println!("no window"),
            }
        }
        match sock.accept() {
            Ok((conn, _peer)) => {
                let now = Instant::now();
                if let Some(w) = window.as_mut() {
                    let local = conn
                        .local_addr()
                        .ok()
                        .and_then(|a| a.as_socket())
                        .map(|a| a.ip())
                        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                    w.record(local, now);
                }
                drop(conn);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            // ECONNABORTED and the like: the peer is gone already; keep serving.
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => {
                eprintln!("accept_counter: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(_) => {}
        }
    }
}
