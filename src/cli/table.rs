//! `lbctl table [--json] [--stats] [--rate] [--exact]`: reads the kernel's IPVS table
//! directly (no daemon) and prints it exactly the way `ipvsadm -Ln` (`--stats`, `--rate`,
//! `--exact`) does, so operators can diff the two outputs.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::io::Write;
use std::net::IpAddr;

use serde::Serialize;

use super::Exit;
use crate::ipvs::ops::sched_flag_names;
use crate::ipvs::{
    addr_port, DestEntry, Family, Info, IpvsClient, ServiceEntry, ServiceKey, SvcFlags,
};

/// Arguments of `lbctl table`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct TableArgs {
    /// Print the table as JSON instead of ipvsadm's layout.
    #[arg(long)]
    pub json: bool,
    /// Counters (like `ipvsadm -Ln --stats`).
    #[arg(long, conflicts_with = "rate")]
    pub stats: bool,
    /// Rates (like `ipvsadm -Ln --rate`).
    #[arg(long)]
    pub rate: bool,
    /// Exact numbers instead of K/M/G/T (like `ipvsadm --exact`).
    #[arg(long)]
    pub exact: bool,
}

/// Which of ipvsadm's list layouts to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    Plain,
    Stats,
    Rate,
}

/// Runs `lbctl table`, printing to `out`.
pub fn run(args: &TableArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let mut client = IpvsClient::connect()?;
    let info = client.info()?;
    let mut entries = client.dump()?;
    sort_entries(&mut entries);
    if args.json {
        #[derive(Serialize)]
        struct Doc<'a> {
            version: String,
            conn_tab_size: u32,
            services: &'a [ServiceEntry],
        }
        let doc = Doc {
            version: info.version_string(),
            conn_tab_size: info.conn_tab_size,
            services: &entries,
        };
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
    } else {
        let layout = if args.stats {
            Layout::Stats
        } else if args.rate {
            Layout::Rate
        } else {
            Layout::Plain
        };
        write!(out, "{}", render(&info, &entries, layout, args.exact))?;
    }
    Ok(Exit::Ok)
}

fn addr_cmp(a: &IpAddr, b: &IpAddr) -> Ordering {
    match (a, b) {
        (IpAddr::V4(x), IpAddr::V4(y)) => x.cmp(y),
        (IpAddr::V6(x), IpAddr::V6(y)) => x.cmp(y),
        (IpAddr::V4(_), IpAddr::V6(_)) => Ordering::Less,
        (IpAddr::V6(_), IpAddr::V4(_)) => Ordering::Greater,
    }
}

/// ipvsadm's service order: fwmark (address services, fwmark 0, first), family, protocol
/// number, address, port.
pub fn service_cmp(a: &ServiceKey, b: &ServiceKey) -> Ordering {
    let parts = |k: &ServiceKey| match k {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => (0, k.family(), protocol.number(), *addr, *port),
        ServiceKey::Fwmark { family, mark } => {
            let zero = match family {
                Family::Ipv4 => IpAddr::from([0u8; 4]),
                Family::Ipv6 => IpAddr::from([0u8; 16]),
            };
            (*mark, *family, 6, zero, 0)
        }
    };
    let (a, b) = (parts(a), parts(b));
    a.0.cmp(&b.0)
        .then(a.1.cmp(&b.1))
        .then(a.2.cmp(&b.2))
        .then_with(|| addr_cmp(&a.3, &b.3))
        .then(a.4.cmp(&b.4))
}

/// ipvsadm's real server order: family, address, port.
pub fn dest_cmp(a: &DestEntry, b: &DestEntry) -> Ordering {
    Family::of(&a.dest.addr)
        .cmp(&Family::of(&b.dest.addr))
        .then_with(|| addr_cmp(&a.dest.addr, &b.dest.addr))
        .then(a.dest.port.cmp(&b.dest.port))
}

/// Sorts services and their real servers the way ipvsadm lists them.
pub fn sort_entries(entries: &mut [ServiceEntry]) {
    entries.sort_by(|a, b| service_cmp(&a.service.key, &b.service.key));
    for e in entries.iter_mut() {
        e.dests.sort_by(dest_cmp);
    }
}

/// ipvsadm's `print_largenum`: 9 columns, K/M/G/T above 100 million unless `exact`.
pub fn largenum(i: u64, exact: bool) -> String {
    if exact {
        let s = i.to_string();
        let width = if s.len() <= 8 { 9 } else { s.len() + 1 };
        return format!("{s:>width$}");
    }
    if i < 100_000_000 {
        format!("{i:>9}")
    } else if i < 1_000_000_000 {
        format!("{:>8}K", i / 1_000)
    } else if i < 100_000_000_000 {
        format!("{:>8}M", i / 1_000_000)
    } else if i < 100_000_000_000_000 {
        format!("{:>8}G", i / 1_000_000_000)
    } else {
        format!("{:>8}T", i / 1_000_000_000_000)
    }
}

fn service_name(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Fwmark {
            family: Family::Ipv4,
            mark,
        } => format!("FWM  {mark}"),
        ServiceKey::Fwmark {
            family: Family::Ipv6,
            mark,
        } => format!("FWM  {mark} IPv6"),
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let proto = protocol.name().to_uppercase();
            format!("{proto:<4} {}", addr_port(addr, *port))
        }
    }
}

fn title(layout: Layout) -> String {
    let cols = |names: [&str; 5]| {
        format!(
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", names[0], names[1], names[2], names[3], names[4]
        )
    };
    match layout {
        Layout::Plain => "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n".to_string(),
        Layout::Stats => cols(["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"]),
        Layout::Rate => cols(["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"]),
    }
}

/// The table in ipvsadm's `-Ln` layout; `entries` are printed in the order given.
pub fn render(info: &Info, entries: &[ServiceEntry], layout: Layout, exact: bool) -> String {
    let mut out = format!(
        "IP Virtual Server version {} (size={})\n",
        info.version_string(),
        info.conn_tab_size
    );
    out.push_str(&title(layout));
    for e in entries {
        let s = &e.service;
        let name = service_name(&s.key);
        match layout {
            Layout::Plain => {
                let _ = write!(out, "{name} {}", s.scheduler);
                let flags = sched_flag_names(&s.scheduler, s.flags);
                if !flags.is_empty() {
                    let _ = write!(out, " ({})", flags.join(","));
                }
                if s.flags.has(SvcFlags::PERSISTENT) {
                    let _ = write!(out, " persistent {}", s.timeout);
                    let family = s.key.family();
                    if s.netmask != family.max_prefix() {
                        match family {
                            Family::Ipv4 => {
                                let raw = crate::ipvs::convert::netmask_raw(family, s.netmask);
                                let mask = std::net::Ipv4Addr::from(raw.to_ne_bytes());
                                let _ = write!(out, " mask {mask}");
                            }
                            Family::Ipv6 => {
                                let _ = write!(out, " mask {}", s.netmask);
                            }
                        }
                    }
                    if let Some(pe) = &s.pe_name {
                        let _ = write!(out, " pe {pe}");
                    }
                }
                if s.flags.has(SvcFlags::ONEPACKET) {
                    out.push_str(" ops");
                }
            }
            Layout::Stats => {
                let st = &e.stats;
                let _ = write!(out, "{name:<33}");
                for v in [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes] {
                    out.push_str(&largenum(v, exact));
                }
            }
            Layout::Rate => {
                let st = &e.stats;
                let _ = write!(out, "{name:<33}");
                for v in [st.cps, st.inpps, st.outpps, st.inbps, st.outbps] {
                    out.push_str(&largenum(v, exact));
                }
            }
        }
        out.push('\n');
        for d in &e.dests {
            let dname = addr_port(&d.dest.addr, d.dest.port);
            let st = &d.stats;
            match layout {
                Layout::Plain => {
                    let _ = writeln!(
                        out,
                        "  -> {dname:<28} {:<7} {:<6} {:<10} {:<10}",
                        d.dest.forward.ipvsadm_name(),
                        d.dest.weight,
                        d.active_conns,
                        d.inactive_conns
                    );
                }
                Layout::Stats => {
                    let _ = write!(out, "  -> {dname:<28}");
                    for v in [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes] {
                        out.push_str(&largenum(v, exact));
                    }
                    out.push('\n');
                }
                Layout::Rate => {
                    let _ = write!(
                        out,
                        "  -> {dname:<28} {:>8} {:>8} {:>8}",
                        st.cps, st.inpps, st.outpps
                    );
                    for v in [st.inbps, st.outbps] {
                        out.push_str(&largenum(v, exact));
                    }
                    out.push('\n');
                }
            }
        }
    }
    out
}
