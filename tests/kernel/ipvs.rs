//! Kernel tests of the IPVS client, run inside the lab guest (real IPVS): every operation
//! × {IPv4, IPv6} × {masq, route, tunnel} × several schedulers, fwmark services, info,
//! timeouts, the sync daemon, zero and flush, typed errors, and `lbctl apply` idempotence —
//! each cross-checked against `ipvsadm` reading the same namespace's table.
//!
//! Every trial runs in its own network namespace (each has its own IPVS table), entered by
//! the test thread with `setns`; the namespace is deleted by a drop guard.

use std::collections::BTreeSet;
use std::fs::File;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::process::Command;

use lbd::cli::apply::{apply_table, ServiceDoc, TableDoc};
use lbd::cli::table::{render, sort_entries, Layout};
use lbd::ipvs::*;
use lbd::reconcile::{diff, Table};
use libtest_mimic::{Failed, Trial};

type R = Result<(), Failed>;

/// A network namespace with a dummy interface holding the real-server networks, deleted on
/// drop.
struct Netns {
    name: String,
}

impl Netns {
    fn new(tag: &str) -> Result<Self, Failed> {
        let name = format!("lbd-ipvs-{tag}-{}", std::process::id());
        sh(&format!("ip netns add {name}"))?;
        let ns = Netns { name };
        ns.exec(
            "ip link set lo up && ip link add d0 type dummy && ip link set d0 up && \
             ip addr add 198.51.100.1/24 dev d0 && ip -6 addr add 2001:db8:1::1/64 dev d0 nodad",
        )?;
        Ok(ns)
    }

    /// Runs a shell command inside the namespace; its stdout.
    fn exec(&self, cmd: &str) -> Result<String, Failed> {
        sh(&format!("ip netns exec {} sh -c '{}'", self.name, cmd))
    }

    /// Runs `f` on a thread that has entered the namespace.
    fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T, Failed> {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                let file = File::open(&path).map_err(|e| format!("{path}: {e}"))?;
                // SAFETY: setns on a namespace fd we own; affects only this thread.
                if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(format!("setns {path}: {}", std::io::Error::last_os_error()));
                }
                Ok(f())
            })
            .join()
            .map_err(|_| Failed::from("test thread panicked"))?
            .map_err(Failed::from)
        })
    }

    fn client<T: Send>(
        &self,
        f: impl FnOnce(&mut IpvsClient) -> Result<T, Failed> + Send,
    ) -> Result<T, Failed> {
        self.run(|| {
            let mut c = IpvsClient::connect().map_err(|e| Failed::from(e.to_string()))?;
            f(&mut c)
        })?
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn sh(cmd: &str) -> Result<String, Failed> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn e2f(e: IpvsError) -> Failed {
    Failed::from(e.to_string())
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// `ipvsadm -S -n`, parsed back into a table (services, real servers, methods, weights).
fn ipvsadm_table(ns: &Netns) -> Result<Table, Failed> {
    let text = ns.exec("ipvsadm -S -n")?;
    parse_ipvsadm_save(&text)
}

fn parse_key(words: &[&str]) -> Result<(ServiceKey, usize), Failed> {
    let addr_port = |s: &str| -> Result<(IpAddr, u16), Failed> {
        let (a, p) = s.rsplit_once(':').ok_or("no port")?;
        let a = a.trim_start_matches('[').trim_end_matches(']');
        Ok((
            a.parse().map_err(|_| format!("bad address {a}"))?,
            p.parse().map_err(|_| "bad port")?,
        ))
    };
    Ok(match words {
        ["-t", ap, ..] | ["-u", ap, ..] | ["--sctp-service", ap, ..] => {
            let (addr, port) = addr_port(ap)?;
            let protocol = match words[0] {
                "-t" => Protocol::Tcp,
                "-u" => Protocol::Udp,
                _ => Protocol::Sctp,
            };
            (
                ServiceKey::Addr {
                    protocol,
                    addr,
                    port,
                },
                2,
            )
        }
        ["-f", mark, "-6", ..] => (
            ServiceKey::Fwmark {
                family: Family::Ipv6,
                mark: mark.parse().map_err(|_| "mark")?,
            },
            3,
        ),
        ["-f", mark, ..] => (
            ServiceKey::Fwmark {
                family: Family::Ipv4,
                mark: mark.parse().map_err(|_| "mark")?,
            },
            2,
        ),
        _ => return Err(format!("unknown service in {words:?}").into()),
    })
}

fn parse_ipvsadm_save(text: &str) -> Result<Table, Failed> {
    let mut t = Table::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (key, used) = parse_key(&words[1..])?;
        let rest = &words[1 + used..];
        match words[0] {
            "-A" => {
                let mut s = Service::new(key, "");
                let mut i = 0;
                while i < rest.len() {
                    match rest[i] {
                        "-s" => s.scheduler = rest[i + 1].to_string(),
                        "-p" => {
                            s.flags.0 |= SvcFlags::PERSISTENT;
                            s.timeout = rest[i + 1].parse().map_err(|_| "timeout")?;
                        }
                        "-M" => {
                            s.netmask = match rest[i + 1].parse::<std::net::Ipv4Addr>() {
                                Ok(m) => u32::from(m).leading_ones() as u8,
                                Err(_) => rest[i + 1].parse().map_err(|_| "netmask")?,
                            }
                        }
                        "-b" => {
                            for f in rest[i + 1].split(',') {
                                s.flags.0 |= match f {
                                    "sh-fallback" | "mh-fallback" | "flag-1" => SvcFlags::SCHED1,
                                    "sh-port" | "mh-port" | "flag-2" => SvcFlags::SCHED2,
                                    _ => SvcFlags::SCHED3,
                                };
                            }
                        }
                        "--pe" => s.pe_name = Some(rest[i + 1].to_string()),
                        "-o" | "ops" => {
                            s.flags.0 |= SvcFlags::ONEPACKET;
                            i -= 1;
                        }
                        w => return Err(format!("unknown service option {w} in {line}").into()),
                    }
                    i += 2;
                }
                t.insert_service(s);
            }
            "-a" => {
                let (addr, port) = {
                    let ap = rest.get(1).ok_or("no -r")?;
                    let (a, p) = ap.rsplit_once(':').ok_or("no port")?;
                    (
                        ip(a.trim_start_matches('[').trim_end_matches(']')),
                        p.parse::<u16>().map_err(|_| "port")?,
                    )
                };
                let mut d = Dest::new(addr, port, ForwardMethod::Route);
                let mut i = 2;
                while i < rest.len() {
                    match rest[i] {
                        "-m" => d.forward = ForwardMethod::Masq,
                        "-g" => d.forward = ForwardMethod::Route,
                        "-i" => d.forward = ForwardMethod::Tunnel(Tunnel::default()),
                        "-w" => {
                            d.weight = rest[i + 1].parse().map_err(|_| "weight")?;
                            i += 1;
                        }
                        _ => {}
                    }
                    i += 1;
                }
                let svc = t.services.get_mut(&key).ok_or("dest before service")?;
                svc.dests.insert((d.addr, d.port), d);
            }
            w => return Err(format!("unknown line {w}: {line}").into()),
        }
    }
    Ok(t)
}

/// The part of a table ipvsadm -S shows (thresholds and tunnel details left out).
fn comparable(t: &Table) -> Table {
    let mut t = t.clone();
    for s in t.services.values_mut() {
        for d in s.dests.values_mut() {
            d.upper_threshold = 0;
            d.lower_threshold = 0;
            if let ForwardMethod::Tunnel(_) = d.forward {
                d.forward = ForwardMethod::Tunnel(Tunnel::default());
            }
        }
    }
    t
}

/// Our dump, ipvsadm's save output and `expected` all agree; and `lbctl table` prints what
/// `ipvsadm -Ln` prints.
fn cross_check(ns: &Netns, expected: &Table) -> R {
    let (ours, rendered) = ns.client(|c| {
        let info = c.info().map_err(e2f)?;
        let mut entries = c.dump().map_err(e2f)?;
        sort_entries(&mut entries);
        Ok((
            Table::from_entries(&entries),
            render(&info, &entries, Layout::Plain, false),
        ))
    })?;
    if &ours != expected {
        return Err(format!("kernel table differs:\n ours {ours:?}\n want {expected:?}").into());
    }
    let theirs = ipvsadm_table(ns)?;
    if comparable(&ours) != theirs {
        return Err(format!("ipvsadm -S differs:\n ours {ours:?}\n ipvsadm {theirs:?}").into());
    }
    let listing = ns.exec("ipvsadm -Ln")?;
    if listing != rendered {
        return Err(
            format!("lbctl table differs from ipvsadm -Ln:\n{rendered}---\n{listing}").into(),
        );
    }
    Ok(())
}

fn apply(ns: &Netns, ops: Vec<Op>) -> R {
    let report = ns.client(move |c| c.apply(&ops).map_err(e2f))?;
    if let Some(f) = report.failures.first() {
        return Err(format!("{}: {}", f.op, f.error).into());
    }
    Ok(())
}

/// Add, edit and delete services and real servers of one family × method × scheduler.
fn ops_matrix(family: Family, fwd: &'static str, sched: &'static str) -> R {
    let ns = Netns::new(&format!("m{}{}{}", family.af(), &fwd[..1], sched))?;
    let (vip, rs): (IpAddr, [IpAddr; 2]) = match family {
        Family::Ipv4 => (ip("192.0.2.10"), [ip("198.51.100.11"), ip("198.51.100.12")]),
        Family::Ipv6 => (
            ip("2001:db8::10"),
            [ip("2001:db8:1::11"), ip("2001:db8:1::12")],
        ),
    };
    let forward = match fwd {
        "masq" => ForwardMethod::Masq,
        "route" => ForwardMethod::Route,
        _ => ForwardMethod::Tunnel(Tunnel::default()),
    };
    let key = ServiceKey::tcp(vip, 80);
    let udp = ServiceKey::udp(vip, 53);
    let mut want = Table::new();
    want.insert_service(Service::new(key, sched));
    let mut persistent = Service::new(udp, sched);
    persistent.flags = SvcFlags(SvcFlags::PERSISTENT);
    persistent.timeout = 600;
    persistent.netmask = match family {
        Family::Ipv4 => 24,
        Family::Ipv6 => 64,
    };
    want.insert_service(persistent);
    for (i, a) in rs.iter().enumerate() {
        let mut d = Dest::new(*a, 8080, forward);
        d.weight = i as i32 + 1;
        d.upper_threshold = 50;
        d.lower_threshold = 5;
        want.insert_dest(&key, d.clone())
            .map_err(|e| e.to_string())?;
        want.insert_dest(&udp, Dest { port: 53, ..d })
            .map_err(|e| e.to_string())?;
    }
    // From empty: adds only.
    apply(&ns, diff(&want, &Table::new(), &BTreeSet::new()))?;
    cross_check(&ns, &want)?;

    // Edit: scheduler flags + persistence on the TCP service, weight of one real server,
    // method of the other (masq ↔ route keeps the key only when the port matches).
    let have = want.clone();
    let mut s = Service::new(key, sched);
    s.flags = SvcFlags(SvcFlags::PERSISTENT | SvcFlags::ONEPACKET);
    s.timeout = 120;
    want.insert_service(s);
    let mut d0 = want.services[&key].dests.values().next().unwrap().clone();
    d0.weight = 0;
    want.insert_dest(&key, d0).map_err(|e| e.to_string())?;
    let owned: BTreeSet<_> = want.services.keys().copied().collect();
    let ops = diff(&want, &have, &owned);
    if ops.len() != 2 {
        return Err(format!("expected 2 edits, got {ops:?}").into());
    }
    apply(&ns, ops)?;
    cross_check(&ns, &want)?;

    // Delete one real server, then the UDP service (its real servers go with it).
    let have = want.clone();
    let gone = *want.services[&key].dests.keys().last().unwrap();
    want.services.get_mut(&key).unwrap().dests.remove(&gone);
    want.services.remove(&udp);
    let ops = diff(&want, &have, &owned);
    if ops.len() != 2 {
        return Err(format!("expected 2 deletions, got {ops:?}").into());
    }
    apply(&ns, ops)?;
    cross_check(&ns, &want)
}

fn fwmark_services() -> R {
    let ns = Netns::new("fwm")?;
    let mut want = Table::new();
    for (family, mark, rs) in [
        (Family::Ipv4, 1, "198.51.100.11"),
        (Family::Ipv6, 2, "2001:db8:1::11"),
    ] {
        let key = ServiceKey::Fwmark { family, mark };
        let mut s = Service::new(key, "wrr");
        s.flags = SvcFlags(SvcFlags::PERSISTENT);
        s.timeout = 300;
        want.insert_service(s);
        want.insert_dest(&key, Dest::new(ip(rs), 80, ForwardMethod::Route))
            .map_err(|e| e.to_string())?;
        let mut m = Dest::new(ip(rs), 8080, ForwardMethod::Masq);
        m.addr = match family {
            Family::Ipv4 => ip("198.51.100.13"),
            Family::Ipv6 => ip("2001:db8:1::13"),
        };
        want.insert_dest(&key, m).map_err(|e| e.to_string())?;
    }
    apply(&ns, diff(&want, &Table::new(), &BTreeSet::new()))?;
    cross_check(&ns, &want)
}

fn info_config_daemon_zero_flush() -> R {
    let ns = Netns::new("glob")?;
    let (info, t0, t1) = ns.client(|c| {
        let info = c.info().map_err(e2f)?;
        let t0 = c.timeouts().map_err(e2f)?;
        c.set_timeouts(Timeouts {
            tcp: 1000,
            tcp_fin: 60,
            udp: 200,
        })
        .map_err(e2f)?;
        Ok((info, t0, c.timeouts().map_err(e2f)?))
    })?;
    let header = ns.exec("ipvsadm -Ln")?;
    let want = format!(
        "IP Virtual Server version {} (size={})",
        info.version_string(),
        info.conn_tab_size
    );
    if !header.starts_with(&want) {
        return Err(format!("info {want} vs {header}").into());
    }
    if t0
        != (Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300,
        })
        || t1
            != (Timeouts {
                tcp: 1000,
                tcp_fin: 60,
                udp: 200,
            })
    {
        return Err(format!("timeouts {t0:?} then {t1:?}").into());
    }
    let shown = ns.exec("ipvsadm -L --timeout")?;
    if shown.trim() != "Timeout (tcp tcpfin udp): 1000 60 200" {
        return Err(format!("ipvsadm shows {shown}").into());
    }

    // Sync daemon: start master and backup, read back, check with ipvsadm, stop.
    let daemons = ns.client(|c| {
        c.start_daemon(&SyncDaemon::new(DaemonState::Master, "d0", 51))
            .map_err(e2f)?;
        let mut b = SyncDaemon::new(DaemonState::Backup, "d0", 52);
        b.port = Some(8850);
        c.start_daemon(&b).map_err(e2f)?;
        c.daemons().map_err(e2f)
    })?;
    let states: Vec<_> = daemons
        .iter()
        .map(|d| (d.state, d.mcast_ifn.clone(), d.sync_id))
        .collect();
    if states
        != [
            (DaemonState::Master, "d0".into(), 51),
            (DaemonState::Backup, "d0".into(), 52),
        ]
    {
        return Err(format!("daemons {daemons:?}").into());
    }
    let shown = ns.exec("ipvsadm -L --daemon")?;
    if !shown.contains("master sync daemon (mcast=d0, syncid=51")
        || !shown.contains("backup sync daemon (mcast=d0, syncid=52")
    {
        return Err(format!("ipvsadm --daemon shows {shown}").into());
    }
    let left = ns.client(|c| {
        c.stop_daemon(DaemonState::Master).map_err(e2f)?;
        c.stop_daemon(DaemonState::Backup).map_err(e2f)?;
        c.daemons().map_err(e2f)
    })?;
    if !left.is_empty() || !ns.exec("ipvsadm -L --daemon")?.trim().is_empty() {
        return Err(format!("daemons left: {left:?}").into());
    }

    // Zero (one service, all) and flush.
    let key = ServiceKey::tcp(ip("192.0.2.10"), 80);
    apply(
        &ns,
        vec![
            Op::AddService(Service::new(key, "rr")),
            Op::AddDest {
                service: key,
                dest: Dest::new(ip("198.51.100.11"), 80, ForwardMethod::Masq),
            },
        ],
    )?;
    ns.client(|c| {
        c.zero(Some(&key)).map_err(e2f)?;
        c.zero(None).map_err(e2f)?;
        c.flush().map_err(e2f)
    })?;
    let left = ns.exec("ipvsadm -S -n")?;
    if !left.trim().is_empty() {
        return Err(format!("flush left {left}").into());
    }
    Ok(())
}

fn typed_errors() -> R {
    let ns = Netns::new("err")?;
    let key = ServiceKey::tcp(ip("192.0.2.10"), 80);
    let dest = Dest::new(ip("198.51.100.11"), 80, ForwardMethod::Masq);
    let errors = ns.client(|c| {
        let mut negative = dest.clone();
        negative.weight = -1;
        let mut multicast = dest.clone();
        multicast.addr = ip("224.0.0.5");
        let ops = vec![
            Op::AddService(Service::new(key, "rr")),
            Op::AddService(Service::new(key, "rr")),
            Op::AddService(Service::new(ServiceKey::tcp(ip("192.0.2.10"), 81), "xyz")),
            Op::AddDest {
                service: key,
                dest: dest.clone(),
            },
            Op::AddDest {
                service: key,
                dest: dest.clone(),
            },
            Op::AddDest {
                service: key,
                dest: negative,
            },
            Op::AddDest {
                service: key,
                dest: multicast,
            },
            Op::DelDest {
                service: key,
                addr: ip("198.51.100.99"),
                port: 80,
            },
            Op::DelService(ServiceKey::udp(ip("192.0.2.10"), 80)),
        ];
        let report = c.apply(&ops).map_err(e2f)?;
        Ok(report
            .failures
            .into_iter()
            .map(|f| (f.index, f.error.to_string()))
            .collect::<Vec<_>>())
    })?;
    let want: Vec<(usize, String)> = vec![
        (1, "virtual service tcp 192.0.2.10:80 already exists".into()),
        (2, "scheduler 'xyz' is not available in this kernel".into()),
        (4, "real server 198.51.100.11:80 already exists in virtual service tcp 192.0.2.10:80".into()),
        (5, "real server 198.51.100.11:80 in virtual service tcp 192.0.2.10:80: weight must not be negative and the lower threshold must not exceed the upper one".into()),
        (6, "real server 224.0.0.5:80 in virtual service tcp 192.0.2.10:80: invalid (the address must be a local or unicast-routable address of this director's namespace, and a GUE tunnel needs a port)".into()),
        (7, "real server 198.51.100.99:80 does not exist in virtual service tcp 192.0.2.10:80".into()),
        (8, "virtual service udp 192.0.2.10:80 does not exist".into()),
    ];
    if errors != want {
        return Err(format!("errors {errors:#?}").into());
    }
    // Without CAP_NET_ADMIN even reading the table is refused, and said so.
    let lbctl = env!("CARGO_BIN_EXE_lbctl");
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "setpriv",
            "--bounding-set",
            "-net_admin",
            lbctl,
            "table",
        ])
        .output()
        .map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(1)
        || stderr.trim() != "lbctl: permission denied: CAP_NET_ADMIN needed"
    {
        return Err(format!("without CAP_NET_ADMIN: {:?} {stderr}", out.status).into());
    }
    Ok(())
}

fn lab_table_doc() -> TableDoc {
    let mut services = Vec::new();
    for vip in ["192.0.2.10", "2001:db8::10"] {
        let v6 = vip.contains(':');
        for (port, sched, nodes) in [(80u16, "wlc", 1..=3u8), (5000, "rr", 4..=5)] {
            let key = ServiceKey::tcp(ip(vip), port);
            let dests = nodes
                .map(|i| {
                    let a = if v6 {
                        format!("2001:db8:1::{}", 10 + i)
                    } else {
                        format!("198.51.100.{}", 10 + i)
                    };
                    Dest::new(ip(&a), port, ForwardMethod::Masq)
                })
                .collect();
            services.push(ServiceDoc {
                service: Service::new(key, sched),
                dests,
            });
        }
    }
    TableDoc { services }
}

/// `lbctl apply` twice: the second run sends no mutating operation.
fn apply_twice_is_idempotent() -> R {
    let ns = Netns::new("apply")?;
    let doc = lab_table_doc();
    let desired = doc.to_table().map_err(|e| e.to_string())?;
    let (first, second, counters) = ns.client(|c| {
        let mut sink = Vec::new();
        let first = apply_table(c, &desired, false, &mut sink).map_err(e2f)?;
        let before = c.counters();
        let second = apply_table(c, &desired, false, &mut sink).map_err(e2f)?;
        Ok((first.ops.len(), second.ops.len(), (before, c.counters())))
    })?;
    if first != 14 || second != 0 || counters.0.mutating != counters.1.mutating {
        return Err(format!("first {first} ops, second {second}, counters {counters:?}").into());
    }
    cross_check(&ns, &desired)?;
    // The binary too: a dry run over the converged table prints nothing; a real run says so.
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("table.json");
    std::fs::write(
        &path,
        serde_json::to_string(&doc).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let lbctl = env!("CARGO_BIN_EXE_lbctl");
    let dry = ns.exec(&format!(
        "{lbctl} apply --table {} --dry-run",
        path.display()
    ))?;
    let real = ns.exec(&format!("{lbctl} apply --table {}", path.display()))?;
    if !dry.is_empty() || real.trim() != "applied 0 of 0 operations" {
        return Err(format!("second lbctl apply: dry run {dry:?}, run {real:?}").into());
    }
    // From the project's example configuration (all nodes healthy): twice, the second sends
    // nothing, and the kernel then holds the configuration's table.
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/config");
    let cfg = Netns::new("applycfg")?;
    let first = cfg.exec(&format!("{lbctl} -c {config} apply"))?;
    let dry = cfg.exec(&format!("{lbctl} -c {config} apply --dry-run"))?;
    let second = cfg.exec(&format!("{lbctl} -c {config} apply"))?;
    if first.trim() != "applied 7 of 7 operations"
        || !dry.is_empty()
        || second.trim() != "applied 0 of 0 operations"
    {
        return Err(format!(
            "lbctl -c config apply: {first:?}, then dry run {dry:?}, then {second:?}"
        )
        .into());
    }
    let loaded = lbd::config::load(std::path::Path::new(config)).map_err(|e| e.to_string())?;
    let want = lbd::cli::apply::desired_from_config(&loaded.config).map_err(|e| e.to_string())?;
    cross_check(&cfg, &want)?;
    // And `lbctl table` matches ipvsadm -Ln byte for byte, --stats and --rate included.
    for flags in ["", " --stats", " --rate", " --stats --exact"] {
        let ours = ns.exec(&format!("{lbctl} table{flags}"))?;
        let theirs = ns.exec(&format!("ipvsadm -Ln{flags}"))?;
        if ours != theirs {
            return Err(
                format!("lbctl table{flags}:\n{ours}---\nipvsadm -Ln{flags}:\n{theirs}").into(),
            );
        }
    }
    Ok(())
}

/// A batch larger than one window goes out in a few sendmsg calls, acks matched by sequence.
fn batch_is_pipelined() -> R {
    let ns = Netns::new("batch")?;
    let mut ops = Vec::new();
    for port in 1..=20u16 {
        let key = ServiceKey::tcp(ip("192.0.2.10"), port);
        ops.push(Op::AddService(Service::new(key, "rr")));
        for i in 1..=20u8 {
            ops.push(Op::AddDest {
                service: key,
                dest: Dest::new(ip(&format!("198.51.100.{i}")), port, ForwardMethod::Masq),
            });
        }
    }
    let n = ops.len();
    let (report, entries) = ns.client(move |c| {
        let r = c.apply(&ops).map_err(e2f)?;
        Ok((r, c.dump().map_err(e2f)?))
    })?;
    let dests: usize = entries.iter().map(|e| e.dests.len()).sum();
    if !report.is_ok()
        || report.sent != n
        || report.sendmsgs != n.div_ceil(256)
        || entries.len() != 20
        || dests != 400
    {
        return Err(format!("{report:?}, {} services, {dests} dests", entries.len()).into());
    }
    Ok(())
}

/// The IPVS kernel trials.
pub fn tests() -> Vec<Trial> {
    let mut out = Vec::new();
    for family in [Family::Ipv4, Family::Ipv6] {
        for fwd in ["masq", "route", "tunnel"] {
            for sched in ["rr", "wlc", "sh", "mh"] {
                let name = format!("ipvs::ops::{family:?}::{fwd}::{sched}").to_lowercase();
                out.push(Trial::test(name, move || ops_matrix(family, fwd, sched)));
            }
        }
    }
    out.push(Trial::test("ipvs::fwmark_services", fwmark_services));
    out.push(Trial::test(
        "ipvs::info_config_daemon_zero_flush",
        info_config_daemon_zero_flush,
    ));
    out.push(Trial::test("ipvs::typed_errors", typed_errors));
    out.push(Trial::test(
        "ipvs::apply_twice_is_idempotent",
        apply_twice_is_idempotent,
    ));
    out.push(Trial::test("ipvs::batch_is_pipelined", batch_is_pipelined));
    out
}
