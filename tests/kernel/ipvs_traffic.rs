//! IPVS counters with real traffic, in the lab topology: the client's HTTP requests through
//! the VIPs make the kernel count connections, packets and bytes; `lbctl table` must show
//! exactly what `ipvsadm` shows (counters, rates, persistent and inactive connections, JSON),
//! and ZERO through the client must clear one service and then all of them.

use std::net::{IpAddr, SocketAddr};

use lbd::ipvs::*;
use libtest_mimic::Failed;

use super::http;
use super::ipvs::{dest_columns_agree, TableJson};
use super::ipvsadm::{self, counters, ServiceRows};
use super::netns;
use super::topology::{self, Options, Topology, VIP4, VIP6};

type R = Result<(), Failed>;

/// The director every request goes through.
const DIR: &str = "dir1";

fn client<T: Send>(
    f: impl FnOnce(&mut IpvsClient) -> Result<T, IpvsError> + Send,
) -> Result<T, Failed> {
    netns::in_netns(DIR, || {
        let mut c = IpvsClient::connect()?;
        f(&mut c)
    })
    .map_err(|e| Failed::from(format!("setns {DIR}: {e}")))?
    .map_err(|e| Failed::from(e.to_string()))
}

fn in_dir(args: &[&str]) -> Result<String, Failed> {
    netns::run(DIR, args).map_err(Failed::from)
}

fn lbctl(args: &[&str]) -> Result<String, Failed> {
    let mut all = vec![env!("CARGO_BIN_EXE_lbctl")];
    all.extend_from_slice(args);
    in_dir(&all)
}

/// Reads ipvsadm, then ours, then ipvsadm again until the two ipvsadm reads agree (the
/// kernel's numbers did not move in between); both texts.
fn settled(
    theirs: impl Fn() -> Result<String, Failed>,
    ours: impl Fn() -> Result<String, Failed>,
) -> Result<(String, String), Failed> {
    let mut last = String::new();
    for _ in 0..5 {
        let before = theirs()?;
        let mine = ours()?;
        if theirs()? == before {
            return Ok((before, mine));
        }
        last = before;
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    Err(format!("ipvsadm's numbers never settled:\n{last}").into())
}

/// `lbctl table ARGS` is byte for byte `ipvsadm -Ln ARGS`, read while the numbers stand still.
fn same_listing(args: &[&str]) -> Result<String, Failed> {
    let mut theirs_args = vec!["ipvsadm", "-Ln"];
    theirs_args.extend_from_slice(args);
    let mut ours_args = vec!["table"];
    ours_args.extend_from_slice(args);
    let (theirs, ours) = settled(|| in_dir(&theirs_args), || lbctl(&ours_args))?;
    if ours != theirs {
        return Err(format!(
            "lbctl table {}:\n{ours}---\nipvsadm -Ln {}:\n{theirs}",
            args.join(" "),
            args.join(" ")
        )
        .into());
    }
    Ok(theirs)
}

/// The service rows of `ipvsadm -Ln --stats --exact`, and the whole text.
fn stats_rows() -> Result<(ServiceRows, String), Failed> {
    let text = same_listing(&["--stats", "--exact"])?;
    let (services, _) = ipvsadm::parse_list(&text)?;
    Ok((services, text))
}

fn service_counters(rows: &ServiceRows, key: &ServiceKey) -> Result<[u64; 5], Failed> {
    let row = rows.get(key).ok_or(format!("{key} not listed"))?;
    Ok(counters(row)?)
}

/// Waits (up to 15 s) until `ipvsadm -Ln --stats --exact` shows each service's connection
/// count and stays the same over more than one estimator period (2 s).
fn wait_counted(want: &[(ServiceKey, u64)]) -> R {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut before: Option<String> = None;
    let mut text = String::new();
    while std::time::Instant::now() < deadline {
        text = in_dir(&["ipvsadm", "-Ln", "--stats", "--exact"])?;
        let (rows, _) = ipvsadm::parse_list(&text)?;
        let counted = want
            .iter()
            .all(|(k, n)| service_counters(&rows, k).is_ok_and(|c| c[0] == *n));
        if counted && before.as_ref() == Some(&text) {
            return Ok(());
        }
        let pause = if counted { 2100 } else { 300 };
        before = counted.then(|| text.clone());
        std::thread::sleep(std::time::Duration::from_millis(pause));
    }
    Err(format!("the requests were not counted within 15 s:\n{text}").into())
}

/// Programs three services on dir1 (IPv4 web, IPv4 persistent app, IPv6 web; NAT to rs1 and
/// rs2), sends requests from the client, and checks counters, connections, rates and JSON
/// against ipvsadm; then ZERO of one service, then of all.
pub fn traffic_stats_zero() -> R {
    let _topology = Topology::up(Options {
        real_servers: 2,
        static_gateway: true,
    })?;
    let web = ServiceKey::tcp(IpAddr::V4(VIP4), 80);
    let app = ServiceKey::tcp(IpAddr::V4(VIP4), 5000);
    let web6 = ServiceKey::tcp(IpAddr::V6(VIP6), 80);
    let mut persistent = Service::new(app, "rr");
    persistent.flags = SvcFlags(SvcFlags::PERSISTENT);
    persistent.timeout = 300;
    let mut ops = Vec::new();
    for (service, v6) in [
        (Service::new(web, "rr"), false),
        (persistent, false),
        (Service::new(web6, "rr"), true),
    ] {
        let key = service.key;
        ops.push(Op::AddService(service));
        for i in 1..=2 {
            ops.push(Op::AddDest {
                service: key,
                dest: Dest::new(topology::rs(i, v6), key.port(), ForwardMethod::Masq),
            });
        }
    }
    client(move |c| c.apply(&ops)?.into_result())?;

    // Traffic: 4 requests to web, 2 to app (persistence: both to one server), 2 to web6.
    for (key, n) in [(web, 4), (app, 2), (web6, 2)] {
        if let ServiceKey::Addr { addr, port, .. } = key {
            for _ in 0..n {
                http::get("client", SocketAddr::new(addr, port))?;
            }
        }
    }

    // The kernel folds its per-CPU counters into what it reports every 2 s (the estimator):
    // wait until the requests are counted and a further fold changes nothing.
    wait_counted(&[(web, 4), (app, 2), (web6, 2)])?;

    // lbctl table shows what ipvsadm shows: plain (inactive connections), counters, rates.
    same_listing(&[])?;
    same_listing(&["--rate"])?;
    // The rates are the kernel's estimates (a moving average folded every 2 s, each fold keeping
    // three quarters): the requests above still show in the byte rates (hundreds of bytes a
    // second at first; packet rates may already round to 0), and lbctl prints the same figures.
    let rates = same_listing(&["--rate", "--exact"])?;
    let (rate_rows, _) = ipvsadm::parse_list(&rates)?;
    let [cps, in_pps, out_pps, in_bps, out_bps] = service_counters(&rate_rows, &web)?;
    if in_bps == 0 || out_bps == 0 {
        return Err(format!(
            "{web}: rates {:?} still zero:\n{rates}",
            [cps, in_pps, out_pps, in_bps, out_bps]
        )
        .into());
    }
    let (rows, text) = stats_rows()?;
    for (key, conns) in [(web, 4), (app, 2), (web6, 2)] {
        let c = service_counters(&rows, &key)?;
        if c[0] != conns || c[1..].contains(&0) {
            return Err(format!("{key}: counters {c:?}, want {conns} connections:\n{text}").into());
        }
    }
    // Round robin: web's two real servers got 2 connections each.
    let (_, dest_rows) = ipvsadm::parse_list(&text)?;
    for i in 1..=2 {
        let row = dest_rows
            .get(&(web, topology::rs(i, false), 80))
            .ok_or(format!("rs{i} not listed under {web}:\n{text}"))?;
        if counters(row)?[0] != 2 {
            return Err(format!("rs{i} of {web}: {row:?}, want 2 connections").into());
        }
    }
    // The real servers' columns (persistent connections included) and the JSON agree too.
    let (tun, thr, per) = (
        in_dir(&["ipvsadm", "-Ln", "--tun-info"])?,
        in_dir(&["ipvsadm", "-Ln", "--thresholds"])?,
        in_dir(&["ipvsadm", "-Ln", "--persistent-conn"])?,
    );
    let mut entries = client(|c| c.dump())?;
    lbd::cli::table::sort_entries(&mut entries);
    dest_columns_agree(&entries, &tun, &thr, &per)?;
    let templates: u32 = entries
        .iter()
        .filter(|e| e.service.key == app)
        .flat_map(|e| e.dests.iter().map(|d| d.persistent_conns))
        .sum();
    if templates != 1 {
        return Err(format!("persistent connections of {app}: {templates}, want 1\n{per}").into());
    }
    let json = lbctl(&["table", "--json"])?;
    let doc: TableJson = serde_json::from_str(&json).map_err(|e| format!("{e}: {json}"))?;
    if doc.services.len() != 3 {
        return Err(format!("lbctl table --json lists {} services", doc.services.len()).into());
    }
    for e in &doc.services {
        let s = &e.stats;
        let listed = service_counters(&rows, &e.service.key)?;
        if [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes] != listed {
            return Err(format!(
                "lbctl table --json {}: {s:?}, ipvsadm {listed:?}",
                e.service.key
            )
            .into());
        }
    }

    // ZERO one service: its counters (and its real servers') are 0, the others' unchanged.
    let (web_after, single) = client(|c| {
        c.zero(Some(&web))?;
        Ok((c.service(&web)?, c.dests(&web)?))
    })?;
    let (zeroed, text) = stats_rows()?;
    let web_zero = service_counters(&zeroed, &web)? == [0; 5]
        && web_after.is_some_and(|(_, s)| s == Stats::default())
        && single.iter().all(|d| d.stats == Stats::default());
    let others_kept = [app, web6]
        .iter()
        .all(|k| zeroed.contains_key(k) && zeroed.get(k) == rows.get(k));
    if !web_zero || !others_kept {
        return Err(format!("after ZERO {web}:\n{text}").into());
    }
    // ZERO all: every counter of every service and real server is 0.
    client(|c| c.zero(None))?;
    let (_, text) = stats_rows()?;
    let (services, dests) = ipvsadm::parse_list(&text)?;
    let all_zero = services
        .values()
        .chain(dests.values())
        .map(|row| counters(row))
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .all(|c| *c == [0; 5]);
    if !all_zero || services.len() != 3 || dests.len() != 6 {
        return Err(format!("after ZERO of all:\n{text}").into());
    }
    Ok(())
}
