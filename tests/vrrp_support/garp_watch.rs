//! Gratuitous ARPs seen on the client's bridge, with when and from which MAC.

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use lbd::vrrp::announce::parse_garp;

use super::{in_netns, Netns};

/// A gratuitous ARP seen: when, for which IP, from which MAC.
pub type Seen = (Instant, Ipv4Addr, [u8; 6]);

/// Records gratuitous ARPs seen on the client's bridge.
pub struct GarpWatch {
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl GarpWatch {
    pub fn start(ns: &Netns) -> GarpWatch {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, st2) = (seen.clone(), stop.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = in_netns(&ns.0, move || {
            let proto = (libc::ETH_P_ARP as u16).to_be();
            // SAFETY: a new packet socket; owned at once.
            let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
            assert!(fd >= 0, "packet socket");
            // SAFETY: fd is fresh and ours.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            let name = std::ffi::CString::new("br0").expect("name");
            // SAFETY: valid C string.
            let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
            // SAFETY: zeroed sockaddr_ll is valid; bind with its true size.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto;
            sll.sll_ifindex = index as i32;
            let rc = unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    (&sll as *const libc::sockaddr_ll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                )
            };
            assert_eq!(rc, 0, "bind packet socket");
            let tv = libc::timeval {
                tv_sec: 0,
                tv_usec: 20_000,
            };
            // SAFETY: setsockopt with a live timeval.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVTIMEO,
                    (&tv as *const libc::timeval).cast(),
                    std::mem::size_of::<libc::timeval>() as u32,
                )
            };
            let _ = ready_tx.send(());
            let mut buf = [0u8; 1600];
            while !st2.load(Ordering::Relaxed) {
                // SAFETY: recv into a live buffer of its true length.
                let n =
                    unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
                if n <= 0 {
                    continue;
                }
                let at = Instant::now();
                if let Some((ip, mac)) = parse_garp(&buf[..n as usize]) {
                    s2.lock().expect("lock").push((at, ip, mac));
                }
            }
        });
        let _ = ready_rx.recv_timeout(Duration::from_secs(5));
        GarpWatch {
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// Every GARP for `ip` from `mac` at or after `since`, in order.
    pub fn all_from(&self, since: Instant, ip: &str, mac: &str) -> Vec<Instant> {
        let Ok(ip) = ip.parse::<Ipv4Addr>() else {
            return Vec::new();
        };
        self.seen
            .lock()
            .map(|seen| {
                seen.iter()
                    .filter(|(at, i, m)| *at >= since && *i == ip && fmt_mac(m) == mac)
                    .map(|(at, _, _)| *at)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first GARP for `ip` from `mac` at or after `since`.
    pub fn first_from(&self, since: Instant, ip: &str, mac: &str) -> Option<Instant> {
        let ip: Ipv4Addr = ip.parse().ok()?;
        self.seen
            .lock()
            .ok()?
            .iter()
            .find(|(at, i, m)| *at >= since && *i == ip && fmt_mac(m) == mac)
            .map(|(at, _, _)| *at)
    }
}

impl Drop for GarpWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn fmt_mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
