//! `lbctl import ipvsadm`: the rules `ipvsadm-save -n` (or `ipvsadm -Sn`) prints, translated
//! into lbd's configuration directory: one service per `-A`, its `-a` real servers as its
//! hostgroup. ipvsadm has no health checks: each real server gets a TCP connect check
//! (a ping for UDP and fwmark services), noted in the summary. What lbd holds per service but
//! ipvsadm per real server (forwarding, thresholds) must agree across a service's real
//! servers, or the difference is reported. A line that is not an ipvsadm rule is an error
//! with its position. Pure: text in, files and findings out.

use super::keepalived::values::address_name;
use super::keepalived::{Error, ErrorKind, Import, OutFile, Pos, Report};
use super::yaml_out::Y;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

/// What `-A` says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Virtual {
    Address {
        protocol: &'static str,
        addr: IpAddr,
        port: u16,
    },
    Fwmark {
        mark: u32,
        ipv6: bool,
    },
}

#[derive(Debug, Clone)]
struct Service {
    at: Pos,
    virt: Virtual,
    scheduler: String,
    flags: Vec<String>,
    persistent: Option<u32>,
    netmask: Option<String>,
    one_packet: bool,
    reals: Vec<Real>,
}

#[derive(Debug, Clone)]
struct Real {
    at: Pos,
    addr: IpAddr,
    port: u16,
    forwarding: &'static str,
    weight: i64,
    upper: u32,
    lower: u32,
    tunnel: Option<(String, Option<u16>)>,
}

/// Reads `text` (the file `path`) and translates it; the director is named `name`.
pub fn import(path: &Path, text: &str, name: &str) -> Result<Import, Error> {
    let file: Arc<Path> = Arc::from(path);
    let mut report = Report::default();
    let mut services: Vec<Service> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let at = Pos {
            file: file.clone(),
            line: u32::try_from(i + 1).unwrap_or(u32::MAX),
            column: 0,
        };
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let bad = |m: String| Error::new(at.clone(), ErrorKind::Invalid(m));
        match words[0] {
            "-A" | "--add-service" => {
                let s = service(&words[1..], &at, &mut report).map_err(bad)?;
                if services.iter().any(|o| o.virt == s.virt) {
                    return Err(bad("this service is added twice".into()));
                }
                services.push(s);
            }
            "-a" | "--add-server" => {
                let (virt, real) = real(&words[1..], &at, &mut report).map_err(bad)?;
                let Some(s) = services.iter_mut().find(|s| s.virt == virt) else {
                    return Err(bad("real server of a service not added before (-A)".into()));
                };
                if s.reals
                    .iter()
                    .any(|r| (r.addr, r.port) == (real.addr, real.port))
                {
                    return Err(bad("this real server is added twice".into()));
                }
                s.reals.push(real);
            }
            "-C" | "--clear" => report.ignored(&at, "-C", "lbd owns the services it configures"),
            other => {
                return Err(bad(format!(
                    "`{other}` is not an ipvsadm-save rule (-A or -a); run `ipvsadm-save -n`"
                )))
            }
        }
    }
    if services.is_empty() {
        report.note("no -A rule: only director.yaml is written");
    }
    let mut files = vec![super::director_file(
        "ipvsadm",
        &file,
        text,
        name,
        "ipvsadm's rules",
    )];
    let mut names = std::collections::HashSet::new();
    // A set of real servers that several services share is one hostgroup.
    let mut groups: Vec<OutFile> = Vec::new();
    let mut service_files = Vec::new();
    for s in &services {
        let (mut svc, group) = translate(s, &mut names, &mut report);
        let same = groups
            .iter_mut()
            .find(|g| g.body.render() == group.body.render());
        let group_file = match same {
            Some(g) => {
                g.origin.extend(group.origin);
                let name = hostgroup_name(&g.path);
                svc.body.set_existing("hostgroup", Y::str(&name));
                name
            }
            None => {
                let name = hostgroup_name(&group.path);
                groups.push(group);
                name
            }
        };
        report.translated(
            &s.at,
            format!(
                "{} → {}, hostgroups/{group_file}.yaml",
                svc.origin[0].2, svc.path
            ),
        );
        service_files.push(svc);
    }
    files.extend(groups);
    files.extend(service_files);
    if !services.is_empty() {
        report.note("ipvsadm-save prints no connection thresholds: if `ipvsadm -Ln --thresholds` shows any, set upper_threshold / lower_threshold in the service");
    }
    if services.iter().any(|s| !s.reals.is_empty()) {
        report.note("ipvsadm has no health checks: each real server is checked with a TCP connect (monitor: tcp; a ping for udp and fwmark services) every 10s, and a failing one leaves the table");
    }
    report.findings.sort_by_key(|f| (f.at.line, f.at.column));
    Ok(Import {
        files,
        report,
        sources: vec![path.to_path_buf()],
    })
}

/// `hostgroups/NAME.yaml` → NAME.
fn hostgroup_name(path: &str) -> String {
    path.trim_start_matches("hostgroups/")
        .trim_end_matches(".yaml")
        .to_string()
}

/// The value after an option.
fn value<'a>(words: &[&'a str], i: &mut usize, option: &str) -> Result<&'a str, String> {
    *i += 1;
    words
        .get(*i)
        .copied()
        .ok_or_else(|| format!("`{option}` needs a value"))
}

/// `ADDR:PORT` or `[ADDR6]:PORT`, numeric (`ipvsadm-save -n`).
fn endpoint(s: &str) -> Result<(IpAddr, u16), String> {
    let (host, port) = match s.strip_prefix('[') {
        Some(rest) => rest
            .split_once("]:")
            .ok_or_else(|| format!("`{s}`: want [ADDRESS]:PORT"))?,
        None => s
            .rsplit_once(':')
            .ok_or_else(|| format!("`{s}`: want ADDRESS:PORT"))?,
    };
    let addr = host
        .parse::<IpAddr>()
        .map_err(|_| format!("`{host}` is not a numeric address (use `ipvsadm-save -n`)"))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("`{port}` is not a numeric port (use `ipvsadm-save -n`)"))?;
    Ok((addr, port))
}

/// The virtual service options common to `-A` and `-a`: returns the service if `words[i]`
/// is one of them.
fn virtual_option(words: &[&str], i: &mut usize, ipv6: bool) -> Result<Option<Virtual>, String> {
    let w = words[*i];
    let protocol = match w {
        "-t" | "--tcp-service" => "tcp",
        "-u" | "--udp-service" => "udp",
        "--sctp-service" => "sctp",
        "-f" | "--fwmark-service" => {
            let v = value(words, i, w)?;
            let mark = v
                .parse::<u32>()
                .ok()
                .filter(|m| *m > 0)
                .ok_or_else(|| format!("`{v}` is not a firewall mark"))?;
            return Ok(Some(Virtual::Fwmark { mark, ipv6 }));
        }
        _ => return Ok(None),
    };
    let (addr, port) = endpoint(value(words, i, w)?)?;
    Ok(Some(Virtual::Address {
        protocol,
        addr,
        port,
    }))
}

fn service(words: &[&str], at: &Pos, report: &mut Report) -> Result<Service, String> {
    let ipv6 = words.iter().any(|w| matches!(*w, "-6" | "--ipv6"));
    let mut s = Service {
        at: at.clone(),
        virt: Virtual::Fwmark { mark: 0, ipv6 },
        scheduler: "wlc".into(),
        flags: Vec::new(),
        persistent: None,
        netmask: None,
        one_packet: false,
        reals: Vec::new(),
    };
    let mut virt = None;
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        if let Some(v) = virtual_option(words, &mut i, ipv6)? {
            virt = Some(v);
        } else {
            match w {
                "-6" | "--ipv6" => {}
                "-s" | "--scheduler" => s.scheduler = value(words, &mut i, w)?.to_string(),
                "-b" | "--sched-flags" => {
                    s.flags = value(words, &mut i, w)?
                        .split(',')
                        .map(str::to_string)
                        .collect()
                }
                "-p" | "--persistent" => {
                    // The timeout is optional (default 300 s).
                    let t = words.get(i + 1).and_then(|t| t.parse::<u32>().ok());
                    if t.is_some() {
                        i += 1;
                    }
                    s.persistent = Some(t.unwrap_or(300));
                }
                "-M" | "--netmask" => s.netmask = Some(value(words, &mut i, w)?.to_string()),
                "-o" | "--ops" => s.one_packet = true,
                "--pe" => {
                    let pe = value(words, &mut i, w)?;
                    report.dropped(at, "--pe", format!("lbd sets no persistence engine ({pe})"));
                }
                other => return Err(format!("unknown service option `{other}`")),
            }
        }
        i += 1;
    }
    s.virt = virt.ok_or("-A names no service (-t, -u, --sctp-service or -f)")?;
    Ok(s)
}

fn real(words: &[&str], at: &Pos, report: &mut Report) -> Result<(Virtual, Real), String> {
    let ipv6 = words.iter().any(|w| matches!(*w, "-6" | "--ipv6"));
    let mut virt = None;
    let mut server = None;
    let mut r = Real {
        at: at.clone(),
        addr: IpAddr::from([0, 0, 0, 0]),
        port: 0,
        forwarding: "dr",
        weight: 1,
        upper: 0,
        lower: 0,
        tunnel: None,
    };
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        if let Some(v) = virtual_option(words, &mut i, ipv6)? {
            virt = Some(v);
        } else {
            let number = |v: &str| {
                v.parse::<u32>()
                    .map_err(|_| format!("`{w} {v}`: not a number"))
            };
            match w {
                "-6" | "--ipv6" => {}
                "-r" | "--real-server" => {
                    let v = value(words, &mut i, w)?;
                    // A real server without a port takes the service's (fwmark: 0).
                    server = Some(match endpoint(v) {
                        Ok(e) => e,
                        Err(_) => (
                            v.trim_matches(['[', ']'])
                                .parse::<IpAddr>()
                                .map_err(|_| format!("`{v}` is not a numeric address"))?,
                            0,
                        ),
                    });
                }
                "-g" | "--gatewaying" => r.forwarding = "dr",
                "-i" | "--ipip" => r.forwarding = "tunnel",
                "-m" | "--masquerading" => r.forwarding = "nat",
                "-w" | "--weight" => {
                    let v = value(words, &mut i, w)?;
                    r.weight = i64::from(number(v)?.min(65_535));
                }
                "-x" | "--u-threshold" => r.upper = number(value(words, &mut i, w)?)?,
                "-y" | "--l-threshold" => r.lower = number(value(words, &mut i, w)?)?,
                "--tun-type" => {
                    let t = value(words, &mut i, w)?.to_string();
                    r.tunnel = Some((t, r.tunnel.take().and_then(|t| t.1)));
                }
                "--tun-port" => {
                    let p = value(words, &mut i, w)?;
                    let p = p.parse::<u16>().map_err(|_| format!("`--tun-port {p}`"))?;
                    let kind = r.tunnel.take().map_or("ipip".into(), |t| t.0);
                    r.tunnel = Some((kind, Some(p)));
                }
                // No checksum: what lbd's tunnels send (ipvsadm-save prints it for gue/gre).
                "--tun-nocsum" => {}
                "--tun-csum" | "--tun-remcsum" => {
                    report.dropped(at, w, "lbd's tunnels send no checksum")
                }
                other => return Err(format!("unknown real server option `{other}`")),
            }
        }
        i += 1;
    }
    let virt = virt.ok_or("-a names no service (-t, -u, --sctp-service or -f)")?;
    let (addr, port) = server.ok_or("-a names no real server (-r)")?;
    r.addr = addr;
    r.port = match (port, &virt) {
        (0, Virtual::Address { port, .. }) => *port,
        (p, _) => p,
    };
    Ok((virt, r))
}

/// The service file and its hostgroup file.
fn translate(
    s: &Service,
    names: &mut std::collections::HashSet<String>,
    report: &mut Report,
) -> (OutFile, OutFile) {
    let base = match &s.virt {
        Virtual::Address {
            protocol,
            addr,
            port,
        } => format!("{protocol}-{}-{port}", address_name(addr)),
        Virtual::Fwmark { mark, .. } => format!("fwmark-{mark}"),
    };
    let mut name = base.clone();
    let mut n = 2;
    while !names.insert(name.clone()) {
        name = format!("{base}-{n}");
        n += 1;
    }
    let group = format!("{name}_nodes");
    let mut virt = Y::map();
    let (checked_by_tcp, vport) = match &s.virt {
        Virtual::Address {
            protocol,
            addr,
            port,
        } => {
            virt.set("protocol", Y::str(*protocol))
                .set("address", Y::str(addr.to_string()))
                .set("port", Y::Int(i64::from(*port)));
            (*protocol == "tcp", *port)
        }
        Virtual::Fwmark { mark, ipv6 } => {
            virt.set("fwmark", Y::Int(i64::from(*mark)));
            if *ipv6 {
                virt.set("family", Y::str("ipv6"));
            }
            (false, 0)
        }
    };
    let first = s.reals.first();
    let forwarding = first.map_or("nat", |r| r.forwarding);
    let mut y = Y::map();
    y.set("name", Y::str(&name))
        .set("virtual", virt)
        .set("scheduler", Y::str(&s.scheduler));
    if !s.flags.is_empty() {
        y.set(
            "scheduler_flags",
            Y::Seq(s.flags.iter().map(Y::str).collect()),
        );
    }
    if let Some(timeout) = s.persistent {
        let mut p = Y::map();
        p.set("timeout", Y::str(format!("{timeout}s")));
        if let Some(mask) = &s.netmask {
            p.set("netmask", Y::str(mask));
        }
        y.set("persistent", p);
    }
    if s.one_packet {
        y.set("one_packet", Y::Bool(true));
    }
    y.set("forwarding", Y::str(forwarding));
    if let Some((kind, port)) = first.and_then(|r| r.tunnel.clone()) {
        let mut t = Y::map();
        t.set("type", Y::str(kind));
        if let Some(p) = port {
            t.set("port", Y::Int(i64::from(p)));
        }
        y.set("tunnel", t);
    }
    for r in s.reals.iter().skip(1) {
        if r.forwarding != forwarding {
            report.approximated(&r.at, "-a", format!("lbd forwards a service one way: {} is written with the service's {forwarding}, not {}", r.addr, r.forwarding));
        }
        if r.tunnel != first.and_then(|f| f.tunnel.clone()) {
            report.approximated(
                &r.at,
                "--tun-type",
                "lbd sets one tunnel type per service: the first real server's is written",
            );
        }
        if (r.upper, r.lower) != first.map_or((0, 0), |f| (f.upper, f.lower)) {
            report.approximated(
                &r.at,
                "-x",
                "lbd sets connection thresholds per service: the first real server's are written",
            );
        }
    }
    if let Some(f) = first {
        if f.upper > 0 {
            y.set("upper_threshold", Y::Int(i64::from(f.upper)));
        }
        if f.lower > 0 {
            y.set("lower_threshold", Y::Int(i64::from(f.lower)));
        }
    }
    y.set("hostgroup", Y::str(&group));
    let mut watch = Y::map();
    watch.set_commented(
        "monitor",
        Y::str(if checked_by_tcp { "tcp" } else { "ping" }),
        Some("ipvsadm has no health checks".into()),
    );
    y.set("watch", watch);
    let mut nodes = Vec::new();
    for r in &s.reals {
        let twice = s.reals.iter().filter(|o| o.addr == r.addr).count() > 1;
        let mut node = address_name(&r.addr);
        if twice {
            node = format!("{node}-{}", r.port);
        }
        let mut m = Y::map();
        m.set("name", Y::str(node))
            .set("address", Y::str(r.addr.to_string()));
        if r.weight != 1 {
            m.set("weight", Y::Int(r.weight));
        }
        if r.weight == 0 {
            report.note(format!("{}: {} has weight 0 (quiesced): it stays in the table with weight 0 and takes no new connections", r.at, r.addr));
        }
        if r.forwarding == "nat" && r.port != vport {
            m.set("port", Y::Int(i64::from(r.port)));
        }
        nodes.push(m);
    }
    let mut g = Y::map();
    g.set_commented(
        "ping",
        Y::Bool(false),
        Some("ipvsadm has no liveness checks: the service's watch decides".into()),
    );
    g.set("nodes", Y::Seq(nodes));
    let label = match &s.virt {
        Virtual::Address {
            protocol,
            addr,
            port,
        } => match addr {
            IpAddr::V6(a) => format!("-A {protocol} [{a}]:{port}"),
            IpAddr::V4(a) => format!("-A {protocol} {a}:{port}"),
        },
        Virtual::Fwmark { mark, .. } => format!("-A fwmark {mark}"),
    };
    let last = s.reals.last().map_or(s.at.line, |r| r.at.line);
    let origin = vec![(s.at.clone(), last, label.clone())];
    (
        OutFile {
            tool: "ipvsadm",
            path: format!("services/{name}.yaml"),
            origin: origin.clone(),
            body: y,
        },
        OutFile {
            tool: "ipvsadm",
            path: format!("hostgroups/{group}.yaml"),
            origin,
            body: g,
        },
    )
}
