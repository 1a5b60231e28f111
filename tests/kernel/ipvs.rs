//! Kernel tests of the IPVS client, run inside the lab guest (real IPVS): every operation
//! × {IPv4, IPv6} × {masq, route, GUE tunnel} × several schedulers (sh/mh with their flags,
//! a persistent UDP service with the SIP engine, SET_DEST changing the method), tunnel types
//! with ports and checksum flags, SCTP, GET_SERVICE, fwmark services, info, timeouts, the sync
//! daemon, typed errors, `lbctl apply` (dry run, idempotence) and `lbctl table --json` — each
//! cross-checked against `ipvsadm` (`-S`, `-Ln`, `--tun-info`, `--thresholds`,
//! `--persistent-conn`, `--daemon`) reading the same namespace's table. Counters with real
//! traffic and ZERO: `ipvs_traffic.rs`; the ipvsadm readers: `ipvsadm.rs`.
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

use super::ipvsadm;

type R = Result<(), Failed>;

/// A network namespace with a dummy interface holding the real-server networks, deleted on
/// drop.
pub(crate) struct Netns {
    name: String,
}

impl Netns {
    pub(crate) fn new(tag: &str) -> Result<Self, Failed> {
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
    pub(crate) fn exec(&self, cmd: &str) -> Result<String, Failed> {
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

/// The part of a table `ipvsadm -S` shows: everything but the thresholds (checked against
/// `--thresholds` instead).
fn comparable(t: &Table) -> Table {
    let mut t = t.clone();
    for s in t.services.values_mut() {
        for d in s.dests.values_mut() {
            d.upper_threshold = 0;
            d.lower_threshold = 0;
        }
    }
    t
}

/// The ipvsadm reads of one cross-check, run in one shell (one process start in the slow
/// guest instead of one per command), outputs separated by a marker line: `-S -n` and `-Ln`,
/// then (with the real servers' columns) `--tun-info`, `--thresholds`, `--persistent-conn`.
const IPVSADM_READS: &str = "ipvsadm -S -n; echo @@; ipvsadm -Ln";
const IPVSADM_COLUMNS: &str = "; echo @@; ipvsadm -Ln --tun-info; echo @@; \
    ipvsadm -Ln --thresholds; echo @@; ipvsadm -Ln --persistent-conn";

/// Every real server's `--tun-info`, `--thresholds` and `--persistent-conn` columns agree with
/// our dump (method, tunnel type/port/flags, weight, thresholds, persistent, active and
/// inactive connections), and the lists hold no other real server.
pub fn dest_columns_agree(entries: &[ServiceEntry], tun: &str, thr: &str, per: &str) -> R {
    let (_, tun) = ipvsadm::parse_list(tun)?;
    let (_, thr) = ipvsadm::parse_list(thr)?;
    let (_, per) = ipvsadm::parse_list(per)?;
    let n: usize = entries.iter().map(|e| e.dests.len()).sum();
    if tun.len() != n || thr.len() != n || per.len() != n {
        return Err(format!(
            "{n} real servers, ipvsadm lists {} / {} / {}",
            tun.len(),
            thr.len(),
            per.len()
        )
        .into());
    }
    for e in entries {
        for d in &e.dests {
            let id = (e.service.key, d.dest.addr, d.dest.port);
            let row = |rows: &ipvsadm::DestRows| rows.get(&id).cloned().unwrap_or_default();
            let tunnel = match d.dest.forward {
                ForwardMethod::Tunnel(t) => Some(t),
                _ => None,
            };
            let (t, h, p) = (row(&tun), row(&thr), row(&per));
            let counts = [d.active_conns.to_string(), d.inactive_conns.to_string()];
            let want_t = [
                d.dest.forward.ipvsadm_name().to_string(),
                d.dest.weight.to_string(),
            ];
            let want_h = [
                d.dest.upper_threshold.to_string(),
                d.dest.lower_threshold.to_string(),
            ];
            let want_p = [d.dest.weight.to_string(), d.persistent_conns.to_string()];
            let tun_ok = t.len() == 5
                && [t[0].clone(), t[2].clone()] == want_t
                && ipvsadm::parse_tun_info(&t[1])? == tunnel
                && t[3..] == counts;
            let thr_ok = h.len() == 4 && h[..2] == want_h && h[2..] == counts;
            let per_ok = p.len() == 4 && p[..2] == want_p && p[2..] == counts;
            if !(tun_ok && thr_ok && per_ok) {
                return Err(format!(
                    "{} {}: ours {d:?}; ipvsadm --tun-info {t:?}, --thresholds {h:?}, \
                     --persistent-conn {p:?}",
                    e.service.key,
                    addr_port(&d.dest.addr, d.dest.port)
                )
                .into());
            }
        }
    }
    Ok(())
}

/// Our dump, ipvsadm's save output and `expected` all agree; `lbctl table` prints what
/// `ipvsadm -Ln` prints; and the tunnel, threshold and connection columns of ipvsadm's
/// other lists match the dump.
fn cross_check(ns: &Netns, expected: &Table) -> R {
    check_against_ipvsadm(ns, expected, true)
}

/// [`cross_check`], optionally without the real servers' columns (`-S` shows the tunnel
/// details too; only thresholds and connection counts need the other lists).
fn check_against_ipvsadm(ns: &Netns, expected: &Table, columns: bool) -> R {
    let (entries, rendered) = ns.client(|c| {
        let info = c.info().map_err(e2f)?;
        let mut entries = c.dump().map_err(e2f)?;
        sort_entries(&mut entries);
        let rendered = render(&info, &entries, Layout::Plain, false);
        Ok((entries, rendered))
    })?;
    let ours = Table::from_entries(&entries);
    if &ours != expected {
        return Err(format!("kernel table differs:\n ours {ours:?}\n want {expected:?}").into());
    }
    let reads = if columns {
        format!("{IPVSADM_READS}{IPVSADM_COLUMNS}")
    } else {
        IPVSADM_READS.to_string()
    };
    let out = ns.exec(&reads)?;
    let parts: Vec<&str> = out.split("@@\n").collect();
    let (save, listing) = match parts.as_slice() {
        [save, listing, ..] => (save, listing),
        _ => return Err(format!("ipvsadm reads: {out}").into()),
    };
    let theirs = ipvsadm::parse_save(save)?;
    if comparable(&ours) != theirs {
        return Err(format!("ipvsadm -S differs:\n ours {ours:?}\n ipvsadm {theirs:?}").into());
    }
    if *listing != rendered {
        return Err(
            format!("lbctl table differs from ipvsadm -Ln:\n{rendered}---\n{listing}").into(),
        );
    }
    match parts.as_slice() {
        [_, _, tun, thr, per] => dest_columns_agree(&entries, tun, thr, per),
        [_, _] if !columns => Ok(()),
        _ => Err(format!("ipvsadm reads: {out}").into()),
    }
}

fn apply(ns: &Netns, ops: Vec<Op>) -> R {
    let report = ns.client(move |c| c.apply(&ops).map_err(e2f))?;
    if let Some(f) = report.failures.first() {
        return Err(format!("{}: {}", f.op, f.error).into());
    }
    Ok(())
}

/// The forwarding method a matrix trial starts with: `tunnel` is GUE to port 6080 with
/// checksums.
fn matrix_method(fwd: &str) -> ForwardMethod {
    match fwd {
        "masq" => ForwardMethod::Masq,
        "route" => ForwardMethod::Route,
        _ => ForwardMethod::Tunnel(Tunnel {
            kind: TunnelType::Gue,
            port: 6080,
            flags: ipvsadm::TUN_CSUM,
        }),
    }
}

/// The method a matrix trial's edit step gives a real server of the TCP service (whose port
/// is the service's, so every method keeps its key): masq → route, route → masq, GUE → GRE.
fn matrix_other_method(fwd: &str) -> ForwardMethod {
    match fwd {
        "masq" => ForwardMethod::Route,
        "route" => ForwardMethod::Masq,
        _ => ForwardMethod::Tunnel(Tunnel {
            kind: TunnelType::Gre,
            port: 0,
            flags: ipvsadm::TUN_CSUM,
        }),
    }
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
    let forward = matrix_method(fwd);
    // sh and mh get both scheduler flags (fallback and port).
    let sched_flags = match sched {
        "sh" | "mh" => SvcFlags::SH_FALLBACK | SvcFlags::SH_PORT,
        _ => 0,
    };
    let key = ServiceKey::tcp(vip, 80);
    let udp = ServiceKey::udp(vip, 53);
    let mut want = Table::new();
    let mut tcp = Service::new(key, sched);
    tcp.flags = SvcFlags(sched_flags);
    want.insert_service(tcp);
    // A persistent UDP service with a netmask and the SIP persistence engine.
    let mut persistent = Service::new(udp, sched);
    persistent.flags = SvcFlags(SvcFlags::PERSISTENT);
    persistent.timeout = 600;
    persistent.netmask = match family {
        Family::Ipv4 => 24,
        Family::Ipv6 => 64,
    };
    persistent.pe_name = Some("sip".into());
    want.insert_service(persistent);
    for (i, a) in rs.iter().enumerate() {
        // TCP real servers on the service port; UDP ones on 5353, which masq keeps and the
        // other methods normalise to 53.
        let mut d = Dest::new(*a, 80, forward);
        d.weight = i as i32 + 1;
        d.upper_threshold = 50;
        d.lower_threshold = 5;
        want.insert_dest(&key, d.clone())
            .map_err(|e| e.to_string())?;
        want.insert_dest(&udp, Dest { port: 5353, ..d })
            .map_err(|e| e.to_string())?;
    }
    // From empty: adds only. (The real servers' columns are compared once, after the edits,
    // to keep the 24 trials quick.)
    apply(&ns, diff(&want, &Table::new(), &BTreeSet::new()))?;
    check_against_ipvsadm(&ns, &want, false)?;

    // Edit (SET_SERVICE, SET_DEST): persistence and one-packet on the TCP service (sh/mh keep
    // only the port flag), the weight of one real server and the forwarding method of the
    // other (see matrix_other_method).
    let have = want.clone();
    let mut s = Service::new(key, sched);
    s.flags =
        SvcFlags(SvcFlags::PERSISTENT | SvcFlags::ONEPACKET | (sched_flags & SvcFlags::SH_PORT));
    s.timeout = 120;
    want.insert_service(s);
    let mut dests = want.services[&key].dests.values().cloned();
    let (mut d0, mut d1) = (
        dests.next().ok_or("no dest")?,
        dests.next().ok_or("no dest")?,
    );
    d0.weight = 0;
    d1.forward = matrix_other_method(fwd);
    want.insert_dest(&key, d0).map_err(|e| e.to_string())?;
    want.insert_dest(&key, d1).map_err(|e| e.to_string())?;
    let owned: BTreeSet<_> = want.services.keys().copied().collect();
    let ops = diff(&want, &have, &owned);
    let edits = ops
        .iter()
        .filter(|o| matches!(o, Op::EditService(_) | Op::EditDest { .. }))
        .count();
    if ops.len() != 3 || edits != 3 {
        return Err(format!("expected 3 edits, got {ops:?}").into());
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
    check_against_ipvsadm(&ns, &want, false)
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

    // Sync daemon: start master (IPv4 group, port, ttl, maxlen) and backup (IPv6 group,
    // port), read back, check every field against ipvsadm, stop.
    let mut master = SyncDaemon::new(DaemonState::Master, "d0", 51);
    master.maxlen = Some(1200);
    master.group = Some(ip("239.1.2.3"));
    master.port = Some(8849);
    master.ttl = Some(3);
    let mut backup = SyncDaemon::new(DaemonState::Backup, "d0", 52);
    backup.group = Some(ip("ff02::81"));
    backup.port = Some(8850);
    let daemons = ns.client(|c| {
        c.start_daemon(&master).map_err(e2f)?;
        c.start_daemon(&backup).map_err(e2f)?;
        c.daemons().map_err(e2f)
    })?;
    // What we set comes back; what we left out comes back as the kernel's default.
    let set_fields_kept = |got: &SyncDaemon, want: &SyncDaemon| {
        got.state == want.state
            && got.mcast_ifn == want.mcast_ifn
            && got.sync_id == want.sync_id
            && want.maxlen.is_none_or(|v| got.maxlen == Some(v))
            && got.group == want.group
            && got.port == want.port
            && want.ttl.is_none_or(|v| got.ttl == Some(v))
            && got.maxlen.is_some()
            && got.ttl == Some(want.ttl.unwrap_or(1))
    };
    if daemons.len() != 2
        || !set_fields_kept(&daemons[0], &master)
        || !set_fields_kept(&daemons[1], &backup)
    {
        return Err(format!("daemons {daemons:?}").into());
    }
    let shown = ns.exec("ipvsadm -L --daemon")?;
    let theirs = shown
        .lines()
        .map(ipvsadm::parse_daemon_line)
        .collect::<Result<Vec<_>, _>>()?;
    if theirs != daemons {
        return Err(format!("ipvsadm --daemon shows {shown}, ours {daemons:?}").into());
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
    // From the project's example configuration (all nodes healthy): a dry run on the empty
    // table prints the 7 operations in ipvsadm's words and sends nothing; then twice, the
    // second sends nothing, and the kernel then holds the configuration's table.
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/config");
    let cfg = Netns::new("applycfg")?;
    let dry_empty = cfg.exec(&format!("{lbctl} -c {config} apply --dry-run"))?;
    let sent = cfg.exec("ipvsadm -S -n")?;
    if dry_empty.lines().count() != 7 || !sent.is_empty() {
        return Err(format!("dry run on an empty table: {dry_empty:?}, then -S {sent:?}").into());
    }
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
    // The printed operations mean what was sent: ipvsadm -R of them builds the same table.
    dry_run_restores(&cfg, &dry_empty, &Netns::new("restore")?)?;
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
    // `lbctl table --json` is the dump: version, size, and every service with its settings,
    // counters and real servers, in ipvsadm's order.
    let json = ns.exec(&format!("{lbctl} table --json"))?;
    let doc: TableJson = serde_json::from_str(&json).map_err(|e| format!("{e}: {json}"))?;
    let (info, entries) = ns.client(|c| {
        let mut entries = c.dump().map_err(e2f)?;
        sort_entries(&mut entries);
        Ok((c.info().map_err(e2f)?, entries))
    })?;
    if doc.version != info.version_string()
        || doc.conn_tab_size != info.conn_tab_size
        || doc.services != entries
        || Table::from_entries(&doc.services) != desired
    {
        return Err(format!("lbctl table --json: {json}").into());
    }
    Ok(())
}

/// `lbctl table --json`, read back.
#[derive(serde::Deserialize)]
pub struct TableJson {
    pub version: String,
    pub conn_tab_size: u32,
    pub services: Vec<ServiceEntry>,
}

/// `ipvsadm -R` of a dry run's lines, in `other` (an empty namespace), builds exactly the
/// table of `ns`.
fn dry_run_restores(ns: &Netns, dry: &str, other: &Netns) -> R {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("dry-run");
    std::fs::write(&path, dry).map_err(|e| e.to_string())?;
    other.exec(&format!("ipvsadm -R < {}", path.display()))?;
    let (want, got) = (ns.exec("ipvsadm -S -n")?, other.exec("ipvsadm -S -n")?);
    if want != got || want.is_empty() {
        return Err(format!("ipvsadm -R of the dry run:\n{dry}gives\n{got}want\n{want}").into());
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

fn tunnel(kind: TunnelType, port: u16, flags: u16) -> ForwardMethod {
    ForwardMethod::Tunnel(Tunnel { kind, port, flags })
}

/// Tunnel destinations of every type (IPIP; GUE with a port and checksum or remote checksum;
/// GRE with and without checksum) next to a masq one, in an IPv4 and an IPv6 service: added,
/// read back and compared with `ipvsadm -S` and `--tun-info`; then each changed by SET_DEST
/// (GUE port and flags, GRE → GUE, IPIP → GRE, masq → GUE). Finally `lbctl apply --dry-run`
/// of that table on an empty namespace prints operations (and sends none) that `ipvsadm -R`
/// there turns into the same table, and a real `lbctl apply` after them finds nothing to do.
fn tunnel_types() -> R {
    use TunnelType::*;
    let ns = Netns::new("tun")?;
    let mut want = Table::new();
    let mut edited = Table::new();
    for (vip, net) in [
        ("192.0.2.10", "198.51.100."),
        ("2001:db8::10", "2001:db8:1::"),
    ] {
        let key = ServiceKey::tcp(ip(vip), 80);
        want.insert_service(Service::new(key, "wrr"));
        edited.insert_service(Service::new(key, "wrr"));
        let csum = ipvsadm::TUN_CSUM;
        let remcsum = ipvsadm::TUN_REMCSUM;
        for (host, first, then) in [
            (11, tunnel(Ipip, 0, 0), tunnel(Gre, 0, csum)),
            (12, tunnel(Gue, 6080, csum), tunnel(Gue, 7080, 0)),
            (13, tunnel(Gue, 6081, remcsum), tunnel(Gue, 6081, remcsum)),
            (14, tunnel(Gre, 0, csum), tunnel(Gue, 6080, remcsum)),
            (15, tunnel(Gre, 0, 0), tunnel(Gre, 0, 0)),
            (16, ForwardMethod::Masq, tunnel(Gue, 6080, csum)),
        ] {
            let mut d = Dest::new(ip(&format!("{net}{host}")), 80, first);
            d.weight = host - 10;
            want.insert_dest(&key, d.clone())
                .map_err(|e| e.to_string())?;
            d.forward = then;
            edited.insert_dest(&key, d).map_err(|e| e.to_string())?;
        }
    }
    apply(&ns, diff(&want, &Table::new(), &BTreeSet::new()))?;
    cross_check(&ns, &want)?;
    let owned: BTreeSet<_> = want.services.keys().copied().collect();
    let ops = diff(&edited, &want, &owned);
    if ops.len() != 8 || !ops.iter().all(|o| matches!(o, Op::EditDest { .. })) {
        return Err(format!("expected 8 SET_DEST, got {ops:?}").into());
    }
    apply(&ns, ops)?;
    cross_check(&ns, &edited)?;

    // The dry run of the edited table, from empty, in ipvsadm's words.
    let doc = TableDoc::of(&edited);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("table.json");
    std::fs::write(
        &path,
        serde_json::to_string(&doc).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let lbctl = env!("CARGO_BIN_EXE_lbctl");
    let empty = Netns::new("tundry")?;
    let dry = empty.exec(&format!(
        "{lbctl} apply --table {} --dry-run",
        path.display()
    ))?;
    if dry.lines().count() != 14 || !empty.exec("ipvsadm -S -n")?.is_empty() {
        return Err(format!("dry run on an empty table printed {dry}").into());
    }
    dry_run_restores(&ns, &dry, &empty)?;
    let again = empty.exec(&format!("{lbctl} apply --table {}", path.display()))?;
    if again.trim() != "applied 0 of 0 operations" {
        return Err(format!("lbctl apply after ipvsadm -R of its dry run: {again}").into());
    }
    Ok(())
}

/// Persistent UDP services with the SIP persistence engine, SCTP services, sh and mh with
/// their fallback and port flags (IPv4 and IPv6), each read back by one GET_SERVICE and by
/// the dump and compared with ipvsadm; then SET_SERVICE removes the engine and a flag.
fn persistence_sctp_flags() -> R {
    let ns = Netns::new("svc")?;
    let sctp = |a: &str, port| ServiceKey::Addr {
        protocol: Protocol::Sctp,
        addr: ip(a),
        port,
    };
    let both = SvcFlags::SH_FALLBACK | SvcFlags::SH_PORT;
    let mut want = Table::new();
    let mut services = Vec::new();
    for (vip, rs, rs2, mask) in [
        ("192.0.2.10", "198.51.100.11", "198.51.100.12", 24),
        ("2001:db8::10", "2001:db8:1::11", "2001:db8:1::12", 64),
    ] {
        let mut sip = Service::new(ServiceKey::udp(ip(vip), 5060), "rr");
        sip.flags = SvcFlags(SvcFlags::PERSISTENT);
        sip.timeout = 300;
        sip.netmask = mask;
        sip.pe_name = Some("sip".into());
        let diameter = Service::new(sctp(vip, 3868), "wlc");
        let mut hashed = Service::new(sctp(vip, 3869), "sh");
        hashed.flags = SvcFlags(both);
        let mut maglev = Service::new(ServiceKey::tcp(ip(vip), 82), "mh");
        maglev.flags = SvcFlags(both);
        for s in [sip, diameter, hashed, maglev] {
            let key = s.key;
            want.insert_service(s.clone());
            services.push(s);
            for (a, fwd, port) in [
                (rs, ForwardMethod::Masq, 9000),
                (rs2, ForwardMethod::Route, 0),
            ] {
                want.insert_dest(&key, Dest::new(ip(a), port, fwd))
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    apply(&ns, diff(&want, &Table::new(), &BTreeSet::new()))?;
    cross_check(&ns, &want)?;
    // GET_SERVICE of each (the same as the dump's), and of keys that do not exist.
    let missing = [
        sctp("192.0.2.10", 5060),
        ServiceKey::udp(ip("192.0.2.10"), 3868),
    ];
    let (single, dumped, absent) = ns.client(|c| {
        let single = services
            .iter()
            .map(|s| c.service(&s.key))
            .collect::<Result<Vec<_>, _>>()
            .map_err(e2f)?;
        let dumped = c.services().map_err(e2f)?;
        let absent = missing
            .iter()
            .map(|k| c.service(k))
            .collect::<Result<Vec<_>, _>>()
            .map_err(e2f)?;
        Ok((single, dumped, absent))
    })?;
    for (s, got) in services.iter().zip(&single) {
        let in_dump = dumped.iter().find(|(d, _)| d.key == s.key);
        if got.as_ref().map(|g| &g.0) != Some(s) || got.as_ref() != in_dump {
            return Err(format!("GET_SERVICE {}: {got:?}, dump {in_dump:?}", s.key).into());
        }
    }
    if absent.iter().any(Option::is_some) {
        return Err(format!("GET_SERVICE of missing services: {absent:?}").into());
    }
    // SET_SERVICE: the IPv4 SIP service loses its engine, the sh services their fallback.
    let have = want.clone();
    for s in &services {
        let mut s = s.clone();
        if s.pe_name.is_some() && s.key.family() == Family::Ipv4 {
            s.pe_name = None;
        } else if s.scheduler == "sh" {
            s.flags = SvcFlags(SvcFlags::SH_PORT);
        } else {
            continue;
        }
        want.insert_service(s);
    }
    let owned: BTreeSet<_> = want.services.keys().copied().collect();
    let ops = diff(&want, &have, &owned);
    if ops.len() != 3 || !ops.iter().all(|o| matches!(o, Op::EditService(_))) {
        return Err(format!("expected 3 SET_SERVICE, got {ops:?}").into());
    }
    apply(&ns, ops)?;
    cross_check(&ns, &want)
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
    out.push(Trial::test("ipvs::tunnel_types", tunnel_types));
    out.push(Trial::test(
        "ipvs::persistence_sctp_flags",
        persistence_sctp_flags,
    ));
    out.push(Trial::test(
        "ipvs::traffic_stats_zero",
        super::ipvs_traffic::traffic_stats_zero,
    ));
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
