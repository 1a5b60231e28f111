//! The namespace lab of the VRRP trials (`tests/vrrp_netns.rs`, `tests/vrrp_vmac.rs`): two
//! directors `d1` and `d2` (interface `eth0`, 192.0.2.2 and 192.0.2.3, fixed MACs) and a
//! `client` namespace (192.0.2.100 on bridge `br0`) whose bridge joins them; `lbd vrrp` and
//! keepalived started in them, their logs and status files, the client's neighbour table and
//! the gratuitous ARPs it sees. Everything is torn down by Drop guards, also when a test
//! fails.

#![allow(dead_code)]

mod garp_watch;
pub use garp_watch::*;

use std::fs::File;
use std::net::{IpAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// The namespace tests share the machine's two cores and the `ip` tool: one at a time.
pub static SERIAL: Mutex<()> = Mutex::new(());

pub const MAC1: &str = "02:00:00:00:01:01";
pub const MAC2: &str = "02:00:00:00:01:02";
pub const VIP4: &str = "192.0.2.10";
pub const VIP6: &str = "2001:db8::10";

pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace, deleted on drop.
pub struct Netns(pub String);

impl Netns {
    pub fn new(name: String) -> Netns {
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        Netns(name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

/// Two directors and a client on one bridge.
pub struct Lab {
    pub d1: Netns,
    pub d2: Netns,
    pub client: Netns,
    pub dir: tempfile::TempDir,
}

impl Lab {
    pub fn new(tag: &str) -> Lab {
        let client = Netns::new(format!("lbdv-{tag}-c"));
        let d1 = Netns::new(format!("lbdv-{tag}-1"));
        let d2 = Netns::new(format!("lbdv-{tag}-2"));
        let c = client.0.as_str();
        // A fixed address: a bridge otherwise takes its lowest port's MAC, which changes when
        // a port leaves (the partition test), and replies to the old one would be lost.
        ip(&[
            "-n",
            c,
            "link",
            "add",
            "br0",
            "address",
            "02:00:00:00:01:64",
            "type",
            "bridge",
        ]);
        ip(&["-n", c, "link", "set", "br0", "up"]);
        ip(&["-n", c, "addr", "add", "192.0.2.100/24", "dev", "br0"]);
        ip(&[
            "-n",
            c,
            "addr",
            "add",
            "2001:db8::100/64",
            "dev",
            "br0",
            "nodad",
        ]);
        for (d, port, mac, v4, v6) in [
            (&d1, "p-d1", MAC1, "192.0.2.2/24", "2001:db8::2/64"),
            (&d2, "p-d2", MAC2, "192.0.2.3/24", "2001:db8::3/64"),
        ] {
            let n = d.0.as_str();
            ip(&[
                "-n", n, "link", "add", "eth0", "address", mac, "type", "veth", "peer", "name",
                port, "netns", c,
            ]);
            ip(&["-n", c, "link", "set", port, "master", "br0", "up"]);
            ip(&["-n", n, "addr", "add", v4, "dev", "eth0"]);
            ip(&["-n", n, "addr", "add", v6, "dev", "eth0", "nodad"]);
            ip(&["-n", n, "link", "set", "eth0", "up"]);
        }
        Lab {
            d1,
            d2,
            client,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn has_vip(&self, ns: &Netns, vip: &str) -> bool {
        self.has_vip_on(ns, "eth0", vip)
    }

    /// Whether `vip` is on interface `dev` of `ns` (false when there is no `dev`).
    pub fn has_vip_on(&self, ns: &Netns, dev: &str, vip: &str) -> bool {
        let out = Command::new("ip")
            .args(["-n", &ns.0, "-br", "addr", "show", "dev", dev])
            .output()
            .expect("run ip");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .any(|w| w.split('/').next() == Some(vip))
    }

    /// The MAC address of interface `dev` in `ns`, or `None` when there is no such interface.
    pub fn link_mac(&self, ns: &Netns, dev: &str) -> Option<String> {
        let out = Command::new("ip")
            .args(["-n", &ns.0, "-br", "link", "show", "dev", dev])
            .output()
            .expect("run ip");
        let text = String::from_utf8_lossy(&out.stdout);
        (out.status.success() && !text.is_empty())
            .then(|| text.split_whitespace().nth(2).map(str::to_string))?
    }

    /// The client bridge's port (`p-d1`, `p-d2`) that learned `mac`, if any.
    pub fn bridge_port(&self, mac: &str) -> Option<String> {
        let out = Command::new("bridge")
            .args(["-n", &self.client.0, "fdb", "show", "br", "br0"])
            .output()
            .expect("run bridge");
        String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some(mac) && w.next() == Some("dev"))
                .then(|| w.next())?
                .map(str::to_string)
        })
    }

    /// The client's neighbour entry for `addr`, if any.
    pub fn neigh_mac(&self, addr: &str) -> Option<String> {
        let out = ip(&["-n", &self.client.0, "neigh", "show", addr]);
        let mut words = out.split_whitespace();
        words.find(|w| *w == "lladdr")?;
        words.next().map(str::to_string)
    }

    /// Makes the client resolve `addr` (one UDP datagram to the discard port).
    pub fn poke(&self, addr: &str) {
        let addr: IpAddr = addr.parse().expect("addr");
        in_netns(&self.client.0, move || {
            let bind = if addr.is_ipv4() {
                "0.0.0.0:0"
            } else {
                "[::]:0"
            };
            let s = UdpSocket::bind(bind).expect("bind");
            let _ = s.send_to(b"x", (addr, 9));
        })
        .join()
        .expect("poke");
    }

    /// Cuts (`false`) or restores (`true`) d2's bridge port without touching carrier.
    pub fn connect_d2(&self, on: bool) {
        let c = self.client.0.as_str();
        if on {
            ip(&["-n", c, "link", "set", "p-d2", "master", "br0"]);
        } else {
            ip(&["-n", c, "link", "set", "p-d2", "nomaster"]);
        }
    }
}

/// Runs `f` on a thread inside namespace `ns`.
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    let path = format!("/run/netns/{ns}");
    thread::spawn(move || {
        let file = File::open(&path).expect("open netns");
        // SAFETY: setns on this thread only, with a valid namespace descriptor.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}");
        f()
    })
}

/// A process in a namespace: SIGKILLed and reaped on drop.
pub struct Proc {
    pub child: Option<Child>,
    pub log: PathBuf,
    /// keepalived's VRRP child, killed with it.
    pub extra_pid_file: Option<PathBuf>,
}

impl Proc {
    pub fn signal(&mut self, sig: i32) {
        if let Some(c) = &self.child {
            // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
            unsafe { libc::kill(c.id() as i32, sig) };
        }
        if sig == libc::SIGKILL {
            if let Some(pid) = self
                .extra_pid_file
                .as_ref()
                .and_then(|p| std::fs::read_to_string(p).ok())
                .and_then(|s| s.trim().parse::<i32>().ok())
            {
                // SAFETY: keepalived's VRRP child, started (indirectly) by this test.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }

    pub fn kill(&mut self) {
        self.signal(libc::SIGKILL);
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn stop(&mut self) -> bool {
        self.signal(libc::SIGTERM);
        let Some(mut c) = self.child.take() else {
            return false;
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = c.try_wait() {
                return st.success();
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
        false
    }

    /// Waits up to `limit` for the process to end by itself: its success, or `None` while
    /// it still runs.
    pub fn exit_within(&mut self, limit: Duration) -> Option<bool> {
        let c = self.child.as_mut()?;
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = c.try_wait() {
                self.child = None;
                return Some(st.success());
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
        if thread::panicking() {
            eprintln!("--- {} ---\n{}", self.log.display(), self.log());
        }
    }
}

pub fn spawn_in(ns: &Netns, log: &Path, prog: &str, args: &[String]) -> Child {
    let out = File::create(log).expect("log file");
    let err = out.try_clone().expect("log file");
    Command::new("ip")
        .args(["netns", "exec", &ns.0, prog])
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn")
}

/// `lbd vrrp` in `ns` (the pid is lbd's own: `ip netns exec` execs).
pub fn lbd(lab: &Lab, ns: &Netns, name: &str, priority: u8, interval: &str, vip: &str) -> Proc {
    lbd_with(lab, ns, name, priority, interval, vip, &[])
}

pub fn lbd_with(
    lab: &Lab,
    ns: &Netns,
    name: &str,
    priority: u8,
    interval: &str,
    vip: &str,
    extra: &[String],
) -> Proc {
    let log = lab.dir.path().join(format!("{name}.log"));
    let prefix = if vip.contains(':') { "64" } else { "24" };
    let args: Vec<String> = [
        "vrrp",
        "--name",
        name,
        "--interface",
        "eth0",
        "--vrid",
        "51",
        "--priority",
        &priority.to_string(),
        "--advert-interval",
        interval,
        "--vip",
        &format!("{vip}/{prefix}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(extra.iter().cloned())
    .chain([
        "--status-file".to_string(),
        status_path(lab, name).display().to_string(),
    ])
    .collect();
    let child = spawn_in(ns, &log, env!("CARGO_BIN_EXE_lbd"), &args);
    Proc {
        child: Some(child),
        log,
        extra_pid_file: None,
    }
}

pub fn status_path(lab: &Lab, name: &str) -> PathBuf {
    lab.dir.path().join(format!("{name}.status.json"))
}

/// The runner's status as `lbd vrrp --status-file` keeps it (`null` before the first write).
pub fn status(lab: &Lab, name: &str) -> serde_json::Value {
    std::fs::read_to_string(status_path(lab, name))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// keepalived 2.2 (VRRP only, `vrrp_version 3`) in `ns`.
pub fn keepalived(
    lab: &Lab,
    ns: &Netns,
    name: &str,
    priority: u8,
    interval: &str,
    vip: &str,
) -> Proc {
    keepalived_with(
        lab,
        ns,
        name,
        &Ka {
            priority,
            interval,
            vip,
            version: 3,
            auth: None,
            unicast_peer: None,
        },
    )
}

/// What a keepalived instance is configured with.
pub struct Ka<'a> {
    pub priority: u8,
    /// `advert_int`, in seconds (`0.1` needs version 3).
    pub interval: &'a str,
    pub vip: &'a str,
    /// `vrrp_version`.
    pub version: u8,
    /// `auth_type` (`PASS` or `AH`) and `auth_pass`.
    pub auth: Option<(&'a str, &'a str)>,
    /// Adverts to this peer (`unicast_peer`) instead of the group.
    pub unicast_peer: Option<&'a str>,
}

/// keepalived 2.2 (VRRP only) in `ns`, configured as `ka` (VRID 51 on eth0, state BACKUP).
pub fn keepalived_with(lab: &Lab, ns: &Netns, name: &str, ka: &Ka) -> Proc {
    let auth = ka.auth.map_or(String::new(), |(kind, pass)| {
        format!("  authentication {{\n    auth_type {kind}\n    auth_pass {pass}\n  }}\n")
    });
    let peer = ka.unicast_peer.map_or(String::new(), |p| {
        format!("  unicast_peer {{\n    {p}\n  }}\n")
    });
    let text = format!(
        "global_defs {{\n  vrrp_version {}\n  router_id {name}\n}}\n\
         vrrp_instance {name} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
         priority {}\n  advert_int {}\n{auth}{peer}  virtual_ipaddress {{\n    {}/24\n  }}\n}}\n",
        ka.version, ka.priority, ka.interval, ka.vip
    );
    keepalived_conf(lab, ns, name, &text)
}

/// keepalived 2.2 (VRRP only) in `ns` with the configuration `text`.
pub fn keepalived_conf(lab: &Lab, ns: &Netns, name: &str, text: &str) -> Proc {
    let dir = lab.dir.path();
    let conf = dir.join(format!("{name}.conf"));
    std::fs::write(&conf, text).expect("write keepalived conf");
    let vrrp_pid = dir.join(format!("{name}.vrrp.pid"));
    let args: Vec<String> = vec![
        "-n".into(),
        "-l".into(),
        "-P".into(),
        "-D".into(),
        "--dont-respawn".into(),
        "-f".into(),
        conf.display().to_string(),
        "-p".into(),
        dir.join(format!("{name}.pid")).display().to_string(),
        "-r".into(),
        vrrp_pid.display().to_string(),
    ];
    let log = dir.join(format!("{name}.log"));
    let child = spawn_in(ns, &log, "keepalived", &args);
    Proc {
        child: Some(child),
        log,
        extra_pid_file: Some(vrrp_pid),
    }
}

/// `lbd vrrp --config` in `ns` from an instance file: `extra` is YAML appended to the
/// instance (VRID 51 on eth0, the VIP, `priority`).
pub fn lbd_yaml(lab: &Lab, ns: &Netns, name: &str, priority: u8, extra: &str) -> Proc {
    lbd_yaml_vips(lab, ns, name, priority, &format!("['{VIP4}/24']"), extra)
}

/// [`lbd_yaml`] with the instance's `vips:` as given (YAML).
pub fn lbd_yaml_vips(
    lab: &Lab,
    ns: &Netns,
    name: &str,
    priority: u8,
    vips: &str,
    extra: &str,
) -> Proc {
    let conf = lab.dir.path().join(format!("{name}.yaml"));
    std::fs::write(
        &conf,
        format!(
            "name: {name}\ninterface: eth0\nvrid: 51\npriority: {priority}\n\
             vips: {vips}\n{extra}"
        ),
    )
    .expect("write conf");
    let log = lab.dir.path().join(format!("{name}.log"));
    let child = spawn_in(
        ns,
        &log,
        env!("CARGO_BIN_EXE_lbd"),
        &[
            "vrrp".to_string(),
            "--config".into(),
            conf.display().to_string(),
            "--status-file".into(),
            status_path(lab, name).display().to_string(),
        ],
    );
    Proc {
        child: Some(child),
        log,
        extra_pid_file: None,
    }
}

/// Removes the VIP a killed process left on `ns`.
pub fn del_vip(ns: &Netns) {
    let _ = Command::new("ip")
        .args([
            "-n",
            &ns.0,
            "addr",
            "del",
            &format!("{VIP4}/24"),
            "dev",
            "eth0",
        ])
        .output();
}

pub fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ok() {
            return start.elapsed();
        }
        thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}
