//! Readers of `ipvsadm` output for the IPVS kernel tests: `-S -n` back into a table (tunnel
//! type, port and checksum flags included), the per-real-server columns of the `-Ln` lists
//! (`--tun-info`, `--thresholds`, `--persistent-conn`, `--stats --exact`) and the sync
//! daemon lines of `-L --daemon`. Errors name the line they could not read.

use std::collections::BTreeMap;
use std::net::IpAddr;

use lbd::ipvs::*;
use lbd::reconcile::Table;

/// `addr:port` or `[v6]:port`.
fn addr_port(s: &str) -> Result<(IpAddr, u16), String> {
    let (a, p) = s.rsplit_once(':').ok_or(format!("no port in {s}"))?;
    let a = a.trim_start_matches('[').trim_end_matches(']');
    Ok((
        a.parse().map_err(|_| format!("bad address {a}"))?,
        p.parse().map_err(|_| format!("bad port in {s}"))?,
    ))
}

/// A service key in `-S` words (`-t A:P`, `-u`, `--sctp-service`, `-f M [-6]`); the key and
/// the number of words it used.
fn save_key(words: &[&str]) -> Result<(ServiceKey, usize), String> {
    Ok(match words {
        [opt @ ("-t" | "-u" | "--sctp-service"), ap, ..] => {
            let (addr, port) = addr_port(ap)?;
            let protocol = match *opt {
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
                mark: mark.parse().map_err(|_| "bad mark")?,
            },
            3,
        ),
        ["-f", mark, ..] => (
            ServiceKey::Fwmark {
                family: Family::Ipv4,
                mark: mark.parse().map_err(|_| "bad mark")?,
            },
            2,
        ),
        _ => return Err(format!("unknown service in {words:?}")),
    })
}

/// The word after option `rest[i]`.
fn arg<'a>(rest: &[&'a str], i: usize) -> Result<&'a str, String> {
    rest.get(i + 1)
        .copied()
        .ok_or(format!("{} without a value", rest[i]))
}

fn save_service(key: ServiceKey, rest: &[&str]) -> Result<Service, String> {
    let mut s = Service::new(key, "");
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            "-s" => s.scheduler = arg(rest, i)?.to_string(),
            "-p" => {
                s.flags.0 |= SvcFlags::PERSISTENT;
                s.timeout = arg(rest, i)?.parse().map_err(|_| "bad timeout")?;
            }
            "-M" => {
                let m = arg(rest, i)?;
                s.netmask = match m.parse::<std::net::Ipv4Addr>() {
                    Ok(m) => u32::from(m).leading_ones() as u8,
                    Err(_) => m.parse().map_err(|_| "bad netmask")?,
                }
            }
            "-b" => {
                for f in arg(rest, i)?.split(',') {
                    s.flags.0 |= match f {
                        "sh-fallback" | "mh-fallback" | "flag-1" => SvcFlags::SCHED1,
                        "sh-port" | "mh-port" | "flag-2" => SvcFlags::SCHED2,
                        "flag-3" => SvcFlags::SCHED3,
                        f => return Err(format!("unknown scheduler flag {f}")),
                    };
                }
            }
            "--pe" => s.pe_name = Some(arg(rest, i)?.to_string()),
            "-o" => {
                s.flags.0 |= SvcFlags::ONEPACKET;
                i += 1;
                continue;
            }
            w => return Err(format!("unknown service option {w}")),
        }
        i += 2;
    }
    Ok(s)
}

fn save_dest(rest: &[&str]) -> Result<Dest, String> {
    if rest.first() != Some(&"-r") {
        return Err("no -r".into());
    }
    let (addr, port) = addr_port(arg(rest, 0)?)?;
    let mut d = Dest::new(addr, port, ForwardMethod::Route);
    let mut tunnel = Tunnel::default();
    let mut i = 2;
    while i < rest.len() {
        let mut takes_value = false;
        match rest[i] {
            "-m" => d.forward = ForwardMethod::Masq,
            "-g" => d.forward = ForwardMethod::Route,
            "-i" => d.forward = ForwardMethod::Tunnel(Tunnel::default()),
            "-w" => {
                d.weight = arg(rest, i)?.parse().map_err(|_| "bad weight")?;
                takes_value = true;
            }
            "-x" => {
                d.upper_threshold = arg(rest, i)?.parse().map_err(|_| "bad -x")?;
                takes_value = true;
            }
            "-y" => {
                d.lower_threshold = arg(rest, i)?.parse().map_err(|_| "bad -y")?;
                takes_value = true;
            }
            "--tun-type" => {
                tunnel.kind = match arg(rest, i)? {
                    "ipip" => TunnelType::Ipip,
                    "gue" => TunnelType::Gue,
                    "gre" => TunnelType::Gre,
                    t => return Err(format!("unknown tunnel type {t}")),
                };
                takes_value = true;
            }
            "--tun-port" => {
                tunnel.port = arg(rest, i)?.parse().map_err(|_| "bad --tun-port")?;
                takes_value = true;
            }
            "--tun-nocsum" => tunnel.flags = 0,
            "--tun-csum" => tunnel.flags = TUN_CSUM,
            "--tun-remcsum" => tunnel.flags = TUN_REMCSUM,
            w => return Err(format!("unknown real server option {w}")),
        }
        i += if takes_value { 2 } else { 1 };
    }
    if let ForwardMethod::Tunnel(_) = d.forward {
        d.forward = ForwardMethod::Tunnel(tunnel);
    }
    Ok(d)
}

/// `IP_VS_TUNNEL_ENCAP_FLAG_CSUM` and `_REMCSUM` (`--tun-csum`, `--tun-remcsum`).
pub const TUN_CSUM: u16 = 1;
pub const TUN_REMCSUM: u16 = 2;

/// `ipvsadm -S -n` output parsed back into a table: services with scheduler, flags,
/// persistence, netmask and engine; real servers with method, tunnel details and weight
/// (`-S` does not show thresholds).
pub fn parse_save(text: &str) -> Result<Table, String> {
    let mut t = Table::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (key, used) = save_key(&words[1..]).map_err(|e| format!("{e} in `{line}`"))?;
        let rest = &words[1 + used..];
        match words[0] {
            "-A" => {
                t.insert_service(save_service(key, rest).map_err(|e| format!("{e} in `{line}`"))?)
            }
            "-a" => {
                let d = save_dest(rest).map_err(|e| format!("{e} in `{line}`"))?;
                let svc = t
                    .services
                    .get_mut(&key)
                    .ok_or(format!("real server before its service: `{line}`"))?;
                svc.dests.insert((d.addr, d.port), d);
            }
            w => return Err(format!("unknown command {w} in `{line}`")),
        }
    }
    Ok(t)
}

/// A service key as the `-Ln` lists print it: `TCP  A:P`, `UDP`, `SCTP`, `FWM  M [IPv6]`.
fn list_key(words: &[&str]) -> Result<ServiceKey, String> {
    Ok(match words {
        [proto @ ("TCP" | "UDP" | "SCTP"), ap, ..] => {
            let (addr, port) = addr_port(ap)?;
            let protocol = match *proto {
                "TCP" => Protocol::Tcp,
                "UDP" => Protocol::Udp,
                _ => Protocol::Sctp,
            };
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            }
        }
        ["FWM", mark, rest @ ..] => ServiceKey::Fwmark {
            family: if rest.first() == Some(&"IPv6") {
                Family::Ipv6
            } else {
                Family::Ipv4
            },
            mark: mark.parse().map_err(|_| "bad mark")?,
        },
        _ => return Err(format!("unknown service line {words:?}")),
    })
}

/// Per service, the words of its own line after the key.
pub type ServiceRows = BTreeMap<ServiceKey, Vec<String>>;
/// Per (service, real server address, port), the words of its `  -> ` line after the address.
pub type DestRows = BTreeMap<(ServiceKey, IpAddr, u16), Vec<String>>;

/// The rows of an `ipvsadm -Ln [--tun-info|--thresholds|--persistent-conn|--stats]` list
/// (the header lines are skipped).
pub fn parse_list(text: &str) -> Result<(ServiceRows, DestRows), String> {
    let mut services = ServiceRows::new();
    let mut dests = DestRows::new();
    let mut current = None;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(first) = words.first() else { continue };
        match *first {
            "IP" | "Prot" => {}
            "->" if words.get(1) == Some(&"RemoteAddress:Port") => {}
            "->" => {
                let key = current.ok_or(format!("real server before a service: `{line}`"))?;
                let (addr, port) = addr_port(words.get(1).ok_or("empty -> line")?)?;
                let rest = words[2..].iter().map(|w| w.to_string()).collect();
                dests.insert((key, addr, port), rest);
            }
            _ => {
                let key = list_key(&words).map_err(|e| format!("{e}: `{line}`"))?;
                let skip = match key {
                    ServiceKey::Fwmark {
                        family: Family::Ipv6,
                        ..
                    } => 3,
                    _ => 2,
                };
                services.insert(key, words[skip..].iter().map(|w| w.to_string()).collect());
                current = Some(key);
            }
        }
    }
    Ok((services, dests))
}

/// `--tun-info`'s TunnelInfo column: `ipip`, `gue:PORT:CSUM`, `gre:CSUM` with CSUM one of `-c`,
/// `+c`, `r+c`; `None` for `n/a` (not a tunnel).
pub fn parse_tun_info(s: &str) -> Result<Option<Tunnel>, String> {
    let csum = |c: &str| match c {
        "-c" => Ok(0),
        "+c" => Ok(TUN_CSUM),
        "r+c" => Ok(TUN_REMCSUM),
        c => Err(format!("unknown checksum mode {c}")),
    };
    let parts: Vec<&str> = s.split(':').collect();
    Ok(match parts.as_slice() {
        ["n/a"] => None,
        ["ipip"] => Some(Tunnel::default()),
        ["gue", port, c] => Some(Tunnel {
            kind: TunnelType::Gue,
            port: port.parse().map_err(|_| format!("bad port in {s}"))?,
            flags: csum(c)?,
        }),
        ["gre", c] => Some(Tunnel {
            kind: TunnelType::Gre,
            port: 0,
            flags: csum(c)?,
        }),
        _ => return Err(format!("unknown tunnel info {s}")),
    })
}

/// One line of `ipvsadm -L --daemon`:
/// `master sync daemon (mcast=d0, syncid=51, maxlen=1200, group=239.1.2.3, port=8849, ttl=3)`.
pub fn parse_daemon_line(line: &str) -> Result<SyncDaemon, String> {
    let (role, rest) = line
        .split_once(" sync daemon (")
        .ok_or(format!("not a daemon line: {line}"))?;
    let state = match role {
        "master" => DaemonState::Master,
        "backup" => DaemonState::Backup,
        r => return Err(format!("unknown daemon role {r}")),
    };
    let mut d = SyncDaemon::new(state, "", 0);
    for field in rest.trim_end_matches(')').split(", ") {
        let (k, v) = field
            .split_once('=')
            .ok_or(format!("bad field {field} in {line}"))?;
        let bad = || format!("bad {k} in {line}");
        match k {
            "mcast" => d.mcast_ifn = v.to_string(),
            "syncid" => d.sync_id = v.parse().map_err(|_| bad())?,
            "maxlen" => d.maxlen = Some(v.parse().map_err(|_| bad())?),
            "group" => d.group = Some(v.parse().map_err(|_| bad())?),
            "port" => d.port = Some(v.parse().map_err(|_| bad())?),
            "ttl" => d.ttl = Some(v.parse().map_err(|_| bad())?),
            _ => return Err(format!("unknown field {k} in {line}")),
        }
    }
    Ok(d)
}

/// The five counters of a `--stats --exact` row (Conns, InPkts, OutPkts, InBytes, OutBytes).
pub fn counters(words: &[String]) -> Result<[u64; 5], String> {
    let nums: Vec<u64> = words
        .iter()
        .map(|w| w.parse().map_err(|_| format!("not an exact counter: {w}")))
        .collect::<Result<_, _>>()?;
    nums.try_into()
        .map_err(|n: Vec<u64>| format!("{} counters, want 5", n.len()))
}
