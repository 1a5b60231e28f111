//! The advert-lateness benchmark (ignored by default; `cargo test --release --test kernel --
//! --ignored lateness::`): how late a VRRP master's adverts leave while its daemon is busy,
//! and whether the backup ever takes over, for this build's `lbd` and, when `LBD_BEFORE` names
//! another build's binary directory (holding `lbd` and `lbctl`), for that one in the same lab
//! boot.
//!
//! dir1 (priority 150) checks `LBD_LATENESS_NODES` nodes a second (default 10,000: ICMP to
//! addresses on its own loopback, so the kernel answers and the daemon does the work) and runs
//! a drift pass every 2 s over 1,000 services × 50 real servers; dir2 (priority 100) idles.
//! A sniffer in `client` takes each advert's kernel receive time (SO_TIMESTAMPNS). For the
//! master's adverts, lateness = gap to the previous one − the advert interval
//! (`LBD_LATENESS_INTERVAL`, default 1s); it prints p50 / p99 / max as a share of the interval,
//! the gaps beyond the backup's master-down interval, and the adverts the backup sent as
//! master (spurious takeovers) over `LBD_LATENESS_SECS` (default 600 s), with dir1's share of
//! a CPU. `LBD_LATENESS_RT=N` adds a run of this build with `vrrp_rt_priority: N`.

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libtest_mimic::{Failed, Trial};

use super::daemon::{big_table_config, real_servers, tail, tempdir, wait_for, write};
use super::netns;
use super::topology::{Options, Topology};

pub fn tests() -> Vec<Trial> {
    vec![Trial::test("lateness::adverts_of_a_busy_master", || {
        bench().map_err(Failed::from)
    })
    .with_ignored_flag(true)]
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One advert seen: kernel receive time, source, priority.
#[derive(Debug, Clone, Copy)]
struct Seen {
    at: Duration,
    src: Ipv4Addr,
    priority: u8,
}

/// Receives VRRP packets in `client` with kernel timestamps until `stop`.
fn sniff(stop: Arc<AtomicBool>, seen: Arc<Mutex<Vec<Seen>>>) -> Result<(), String> {
    netns::in_netns("client", move || -> Result<(), String> {
        // SAFETY: plain socket calls on a descriptor we own; every buffer is a live local of
        // the length given, and the cmsg walk stays within what the kernel wrote.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW, 112);
            if fd < 0 {
                return Err(format!("raw socket: {}", std::io::Error::last_os_error()));
            }
            let fd = OwnedFd::from_raw_fd(fd);
            let one: libc::c_int = 1;
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as u32,
            );
            // Joined on eth0 by index: the client has no default route to pick an interface.
            let ifindex = libc::if_nametoindex(c"eth0".as_ptr());
            if ifindex == 0 {
                return Err(format!("eth0: {}", std::io::Error::last_os_error()));
            }
            let mreq = libc::ip_mreqn {
                imr_multiaddr: libc::in_addr {
                    s_addr: u32::from(Ipv4Addr::new(224, 0, 0, 18)).to_be(),
                },
                imr_address: libc::in_addr { s_addr: 0 },
                imr_ifindex: ifindex as libc::c_int,
            };
            let rc = libc::setsockopt(
                fd.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_ADD_MEMBERSHIP,
                (&mreq as *const libc::ip_mreqn).cast(),
                std::mem::size_of::<libc::ip_mreqn>() as u32,
            );
            if rc != 0 {
                return Err(format!(
                    "join 224.0.0.18: {}",
                    std::io::Error::last_os_error()
                ));
            }
            let tv = libc::timeval {
                tv_sec: 0,
                tv_usec: 200_000,
            };
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            );
            let mut buf = [0u8; 2048];
            let mut cbuf = [0u64; 16];
            while !stop.load(Ordering::Relaxed) {
                let mut iov = libc::iovec {
                    iov_base: buf.as_mut_ptr().cast(),
                    iov_len: buf.len(),
                };
                let mut msg: libc::msghdr = std::mem::zeroed();
                msg.msg_iov = &mut iov;
                msg.msg_iovlen = 1;
                msg.msg_control = cbuf.as_mut_ptr().cast();
                msg.msg_controllen = std::mem::size_of_val(&cbuf);
                let n = libc::recvmsg(fd.as_raw_fd(), &mut msg, 0);
                if n < 28 {
                    continue;
                }
                let mut at = None;
                let mut c = libc::CMSG_FIRSTHDR(&msg);
                while !c.is_null() {
                    if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SO_TIMESTAMPNS
                    {
                        let ts =
                            std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                        at = Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
                    }
                    c = libc::CMSG_NXTHDR(&msg, c);
                }
                let ihl = usize::from(buf[0] & 0x0f) * 4;
                let src = Ipv4Addr::new(buf[12], buf[13], buf[14], buf[15]);
                let priority = buf.get(ihl + 2).copied().unwrap_or(0);
                if let Some(at) = at {
                    if let Ok(mut v) = seen.lock() {
                        v.push(Seen { at, src, priority });
                    }
                }
            }
        }
        Ok(())
    })
    .map_err(|e| format!("sniffer: {e}"))?
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A daemon from `bin` (a directory with `lbd`) in `ns`, killed on drop.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(bin: &Path, ns: &str, config: &Path, state: &Path, log: &Path) -> Result<Daemon, String> {
    let out = std::fs::File::create(log).map_err(|e| e.to_string())?;
    let child = netns::command(ns, &bin.join("lbd").display().to_string())
        .arg("-c")
        .arg(config)
        .arg("--state-dir")
        .arg(state)
        .env("LBD_LOG", "info,lbd::node=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    Ok(Daemon(child))
}

fn director_yaml(
    name: &str,
    priority: u8,
    interval: &str,
    rt: Option<u8>,
    dir: &Path,
    sock: &Path,
) -> String {
    let rt = rt
        .map(|p| format!("vrrp_rt_priority: {p}\n"))
        .unwrap_or_default();
    format!(
        "name: {name}\nreconcile_interval: 2s\nmonitor_dir: {}\ncontrol: {{socket: {}}}\n{rt}\
         vrrp:\n  - name: vi_51\n    interface: eth0\n    vrid: 51\n    priority: {priority}\n\
         \x20   advert_interval: {interval}\n    vips: [192.0.2.10/24]\n",
        dir.join("monitors").display(),
        sock.display()
    )
}

/// dir1's load: `nodes` loopback nodes pinged every second, 1,000 × 50 for the drift passes.
fn load(dir: &Path, nodes: u64) -> Result<(), String> {
    let mut text = String::from("ping: false\nnodes:\n");
    for i in 0..nodes {
        text.push_str(&format!(
            "  - {{name: l{i}, address: 127.{}.{}.{}}}\n",
            1 + i / 62500,
            (i / 250) % 250,
            i % 250 + 1
        ));
    }
    write(&dir.join("hostgroups/load.yaml"), &text)?;
    write(
        &dir.join("services/load.yaml"),
        "virtual: {address: 203.0.113.50, port: 80}\nscheduler: rr\nhostgroup: load\n\
         watch:\n  monitor: ping\n  interval: 1s\n  timeout: 500ms\n",
    )?;
    big_table_config(dir, "big", "203.0.113.51", 1000, 50, 101)
}

/// One run with the binaries in `bin`: the figures line.
fn run(
    label: &str,
    bin: &Path,
    secs: u64,
    nodes: u64,
    interval: &str,
    rt: Option<u8>,
) -> Result<String, String> {
    let _topology = Topology::up(Options {
        real_servers: 1,
        static_gateway: false,
    })?;
    let tmp = tempdir()?;
    let (c1, c2) = (tmp.path().join("c1"), tmp.path().join("c2"));
    let (s1, s2) = (tmp.path().join("s1"), tmp.path().join("s2"));
    write(
        &c1.join("director.yaml"),
        &director_yaml("dir1", 150, interval, rt, &c1, &s1),
    )?;
    write(
        &c2.join("director.yaml"),
        &director_yaml("dir2", 100, interval, rt, &c2, &s2),
    )?;
    idle_config(&c2)?;
    load(&c1, nodes)?;
    // The table converged first (its external monitor runs once an hour; adopted at start).
    let lbctl = bin.join("lbctl").display().to_string();
    netns::run("dir1", &[&lbctl, "-c", &c1.display().to_string(), "apply"])?;
    let t0 = Instant::now();
    let d1 = start(
        bin,
        "dir1",
        &c1,
        &tmp.path().join("st1"),
        &tmp.path().join("l1"),
    )?;
    let d2 = start(
        bin,
        "dir2",
        &c2,
        &tmp.path().join("st2"),
        &tmp.path().join("l2"),
    )?;
    let l1 = tmp.path().join("l1");
    let log_tail = || tail(&std::fs::read_to_string(&l1).unwrap_or_default());
    // Ready: the first reconcile done (the big table adopted). Polled through the log and one
    // small service, not a dump of the whole table: on the emulated CPU a dump of 60,000
    // destinations every poll would be a load of its own.
    let mut last_note = Instant::now();
    wait_for("dir1's first reconcile", Duration::from_secs(1800), || {
        if last_note.elapsed() > Duration::from_secs(60) {
            last_note = Instant::now();
            eprintln!("{label}: waiting for dir1 ({:?})", t0.elapsed());
        }
        std::thread::sleep(Duration::from_secs(2));
        Ok(std::fs::read_to_string(&l1)
            .unwrap_or_default()
            .contains("first reconcile done")
            && real_servers("dir1", Some("203.0.113.51:10999"))?.len() == 50)
    })
    .map_err(|e| format!("{e}\n{}", log_tail()))?;
    eprintln!("{label}: first reconcile after {:?}", t0.elapsed());
    // Then the load service filled as the pings pass (or as far as it gets in 3 minutes: on
    // a saturated guest CPU some pings time out and the count moves around its level).
    let (mut seen_rs, mut still) = (0, 0);
    let t1 = Instant::now();
    while t1.elapsed() < Duration::from_secs(180) {
        std::thread::sleep(Duration::from_secs(10));
        let n = real_servers("dir1", Some("203.0.113.50:80"))?.len();
        eprintln!("{label}: {n} of {nodes} load nodes in ({:?})", t0.elapsed());
        still = if n == seen_rs { still + 1 } else { 0 };
        seen_rs = n;
        if n as u64 >= nodes || still >= 3 {
            break;
        }
    }
    eprintln!("{label}: loaded master ready after {:?}", t0.elapsed());
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sniffer = {
        let (stop, seen) = (stop.clone(), seen.clone());
        std::thread::spawn(move || sniff(stop, seen))
    };
    let pid = d1.0.id();
    let cpu0 = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(secs));
    let cpu = cpu_ticks(pid).saturating_sub(cpu0) as f64 / 100.0 / secs as f64 * 100.0;
    let load_in = real_servers("dir1", Some("203.0.113.50:80"))?.len();
    stop.store(true, Ordering::Relaxed);
    sniffer.join().map_err(|_| "sniffer panicked")??;
    drop((d1, d2));
    let seen = seen.lock().map_err(|_| "poisoned")?.clone();
    let ivl = lbd::duration::parse_duration(interval)
        .map_err(|e| format!("LBD_LATENESS_INTERVAL: {e}"))?
        .as_secs_f64();
    let master: Vec<Duration> = seen
        .iter()
        .filter(|s| s.src == Ipv4Addr::new(192, 0, 2, 2) && s.priority > 0)
        .map(|s| s.at)
        .collect();
    let takeovers = seen
        .iter()
        .filter(|s| s.src == Ipv4Addr::new(192, 0, 2, 3) && s.priority > 0)
        .count();
    if master.len() < 2 {
        return Err(format!(
            "{label}: the sniffer saw {} advert(s) from dir1 in {secs} s",
            master.len()
        ));
    }
    let mut late: Vec<f64> = master
        .windows(2)
        .map(|w| (w[1].saturating_sub(w[0]).as_secs_f64() - ivl) / ivl * 100.0)
        .map(|x| x.max(0.0))
        .collect();
    late.sort_by(|a, b| a.total_cmp(b));
    // The backup's Master_Down_Interval at priority 100: 3 intervals + (256-100)/256 of one.
    let down = 3.0 + (256.0 - 100.0) / 256.0;
    let beyond = master
        .windows(2)
        .filter(|w| w[1].saturating_sub(w[0]).as_secs_f64() > down * ivl)
        .count();
    let checks = std::fs::read_to_string(&l1).unwrap_or_default();
    let missed = checks.matches("missed").count();
    Ok(format!(
        "{label}: {} adverts in {secs} s at {interval}; lateness p50 {:.2} %, p99 {:.2} %, max {:.1} % \
         of the interval; {beyond} gap(s) beyond the master-down interval; {takeovers} advert(s) \
         from the backup as master; {missed} 'missed' log lines; dir1's lbd {cpu:.0} % of a \
         CPU; {load_in} of {nodes} load nodes in at the end",
        master.len(),
        percentile(&late, 0.5),
        percentile(&late, 0.99),
        late.last().copied().unwrap_or(0.0),
    ))
}

/// User + system CPU time of `pid` in clock ticks (100 a second), 0 when unreadable.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command's closing parenthesis: fields 3.. of proc(5); utime and stime are 14, 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    rest.split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum()
}

/// dir2's configuration: director.yaml only (no services, empty directories).
fn idle_config(dir: &Path) -> Result<(), String> {
    for sub in ["services", "hostgroups"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn bench() -> Result<(), String> {
    let secs = env_u64("LBD_LATENESS_SECS", 600);
    let nodes = env_u64("LBD_LATENESS_NODES", 10_000);
    let interval = std::env::var("LBD_LATENESS_INTERVAL").unwrap_or_else(|_| "1s".into());
    let here: PathBuf = Path::new(env!("CARGO_BIN_EXE_lbd"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut lines = vec![run("this build", &here, secs, nodes, &interval, None)?];
    eprintln!("{}", lines[0]);
    // `LBD_LATENESS_RT=N`: this build once more with `vrrp_rt_priority: N` (SCHED_RR).
    if let Some(rt) = std::env::var("LBD_LATENESS_RT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        let label = format!("this build, vrrp_rt_priority {rt}");
        let line = run(&label, &here, secs, nodes, &interval, Some(rt))?;
        eprintln!("{line}");
        lines.push(line);
    }
    if let Ok(before) = std::env::var("LBD_BEFORE") {
        let line = run("before", Path::new(&before), secs, nodes, &interval, None)?;
        eprintln!("{line}");
        lines.push(line);
    }
    println!("\nadvert lateness, {nodes} nodes checked a second, drift over 1,000 x 50:");
    for l in &lines {
        println!("  {l}");
    }
    Ok(())
}
