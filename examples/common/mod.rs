//! What the loopback benchmarks share: node addresses, the listener child that serves them,
//! and the process's own CPU time and memory.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Stdio};

/// The port every node listens on.
pub const PORT: u16 = 18080;

/// Node `i`'s address: 127.1.(i/250).(i%250+1).
pub fn addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 1, (i / 250) as u8, (i % 250 + 1) as u8)
}

/// Enough file descriptors for thousands of sockets at once.
pub fn raise_nofile() {
    let lim = libc::rlimit {
        rlim_cur: 65536,
        rlim_max: 65536,
    };
    // SAFETY: plain syscall with a valid struct.
    unsafe {
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
}

/// This process's (user, system) CPU seconds so far.
pub fn cpu_split() -> (f64, f64) {
    // SAFETY: an all-zero rusage is valid, and getrusage fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe {
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

/// This process's user + system CPU seconds so far.
pub fn cpu_seconds() -> f64 {
    let (u, s) = cpu_split();
    u + s
}

/// A `/proc/self/status` field in kB (`VmRSS:`, `VmHWM:`).
pub fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// The machine's load average, for the record.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The child's side: listens on every node address and accepts and drops connections until
/// stdin closes.
pub fn listen(n: usize) {
    raise_nofile();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        for i in 0..n {
            let sa = SocketAddr::new(IpAddr::V4(addr(i)), PORT);
            let sock = tokio::net::TcpSocket::new_v4().expect("socket");
            sock.set_reuseaddr(true).expect("reuseaddr");
            sock.bind(sa).expect("bind");
            let l = sock.listen(64).expect("listen");
            tokio::spawn(async move {
                while let Ok((s, _)) = l.accept().await {
                    drop(s);
                }
            });
        }
        println!("ready");
        let _ = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        })
        .await;
    });
}

/// A benchmark's start: its arguments `N D …` (N nodes, default 10,000; D seconds, default
/// `secs`; the rest as given), with the file limit raised and the listener child serving the N
/// nodes. `None` when this process is that child (`--listen N`): it has served and ended.
pub fn start(secs: u64) -> Option<(usize, u64, Vec<String>, Child)> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--listen") {
        listen(args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10_000));
        return None;
    }
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let secs: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(secs);
    raise_nofile();
    let child = spawn_listener(n);
    Some((n, secs, args.get(3..).unwrap_or_default().to_vec(), child))
}

/// Runs this same program as `--listen N` and waits until it listens; closing the child's
/// stdin ends it.
pub fn spawn_listener(n: usize) -> Child {
    let exe = std::env::current_exe().expect("own path");
    let mut child = std::process::Command::new(exe)
        .args(["--listen", &n.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("listener child");
    let mut ready = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut ready);
    }
    assert_eq!(ready.trim(), "ready", "listener child failed");
    child
}
