//! A TCP echo server on rs1:7000 and a client for it, for long-lived connections through the
//! VIP: a connection that carries data before and after a failover proves it survived.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::daemon::write;
use super::netns::in_netns;

/// Adds the echo service (VIP:7000, NAT, rr) over hostgroup `echo_nodes` (rs1), checked by
/// `tcp` every second, to the configuration in `dir`.
pub(crate) fn configure(dir: &std::path::Path) -> Result<(), String> {
    write(
        &dir.join("hostgroups/echo_nodes.yaml"),
        "nodes:\n  - {name: rs1, address: 198.51.100.11}\n",
    )?;
    write(
        &dir.join("services/echo.yaml"),
        "virtual: {address: 192.0.2.10, port: 7000}\nscheduler: rr\nhostgroup: echo_nodes\n\
         watch:\n  monitor: tcp\n  interval: 1s\n  timeout: 500ms\n",
    )
}

/// An echo server on rs1:7000 (a thread; the listening socket lives in rs1's namespace).
pub(crate) struct Echo {
    stop: Arc<AtomicBool>,
}

impl Echo {
    pub(crate) fn start() -> Result<Echo, String> {
        Echo::start_on("rs1", 7000)
    }

    /// An echo server on `ns`:`port`; the port closes when it drops.
    pub(crate) fn start_on(ns: &str, port: u16) -> Result<Echo, String> {
        let listener = in_netns(ns, || TcpListener::bind(("0.0.0.0", port)))
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("bind {ns}:{port}: {e}"))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        std::thread::spawn(move || {
                            let _ = conn.set_nonblocking(false);
                            let mut buf = [0u8; 1024];
                            while let Ok(n) = conn.read(&mut buf) {
                                if n == 0 || conn.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Ok(Echo { stop })
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

pub(crate) fn echo(stream: &mut TcpStream, text: &str) -> Result<(), String> {
    stream
        .write_all(text.as_bytes())
        .map_err(|e| format!("send {text:?}: {e}"))?;
    let mut got = vec![0u8; text.len()];
    stream
        .read_exact(&mut got)
        .map_err(|e| format!("echo of {text:?}: {e}"))?;
    if got != text.as_bytes() {
        return Err(format!(
            "echo of {text:?} came back as {:?}",
            String::from_utf8_lossy(&got)
        ));
    }
    Ok(())
}

pub(crate) fn connect(vip: SocketAddr) -> Result<TcpStream, String> {
    let s = in_netns("client", || {
        TcpStream::connect_timeout(&vip, Duration::from_secs(5))
    })
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("connect {vip}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(15)))
        .map_err(|e| e.to_string())?;
    Ok(s)
}
