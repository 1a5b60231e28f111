//! Issue 15's rolling migration: a keepalived 2.2.7 pair replaced, director by director, by
//! the real `lbd`, with client traffic through the VIP (a new connection for each request, see
//! [`super::traffic`]) from before the first step until after the last, every request counted.
//!
//! 1. keepalived on dir1 (MASTER, 150) and dir2 (BACKUP, 100): VRRPv2 (keepalived's default
//!    for IPv4) with PASS authentication, 1 s adverts, VRID 51, and as `virtual_server`s the
//!    two LVS-NAT services of [`lab_config`] (TCP_CHECK each second).
//! 2. The backup replaced: keepalived on dir2 stopped (SIGTERM), lbd started there at 100 with
//!    the same VRRP settings. It must become keepalived's backup and stay one for longer than
//!    a Master_Down_Interval (it takes keepalived's adverts, drops none), keepalived must stay
//!    master, and no request may fail.
//! 3. The master replaced: keepalived on dir1 stopped, whose priority-0 advert hands the VIPs
//!    to lbd on dir2 (failover window 1); then lbd started on dir1 at 150, which preempts
//!    (window 2). Each window runs from its first step until the new master holds the VIPs.
//!
//! Requests may fail only inside a window or its margin (3 advert intervals and the skew after
//! the new master holds the VIPs; a request counts as the window's when it was in flight at
//! any time inside it). The trial prints its figures in one `rolling migration:` line, then
//! checks the end: lbd master on dir1 with both VIPs, lbd backup on dir2 with none, and both
//! IPVS tables as keepalived built them.
//!
//! The inside gateway 198.51.100.1 is in keepalived's `virtual_ipaddress` (`dev eth1`), as in
//! most LVS-NAT configurations, so keepalived lists it in its adverts; lbd lists it too because
//! its VIP says `advertise: true` (what `lbctl import keepalived` writes). Without that, each
//! side drops the other's adverts (their address lists differ), lbd becomes master beside
//! keepalived and both hold the VIPs (seen in this lab; keepalived logs `received an unexpected
//! ip number count 1, expected 2!` for lbd's adverts).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libtest_mimic::{Failed, Trial};

use super::daemon::{lab_config, tail, tempdir, wait_for, write, Lbd};
use super::keepalived::{Keepalived, Subsystems};
use super::netns;
use super::topology::{Options, Topology};
use super::traffic::{failures, longest_gap_over, Request, Traffic};
use super::vrrp::{instances, role};
use super::vrrp_group::vips;

pub fn tests() -> Vec<Trial> {
    vec![Trial::test(
        "scenario::rolling_migration_from_keepalived_to_lbd",
        || rolling_migration().map_err(Failed::from),
    )]
}

/// Both tools' advert interval (whole seconds in VRRPv2).
const ADVERT: Duration = Duration::from_secs(1);
/// 3 advert intervals and the skew (under one interval), rounded up: a backup's
/// Master_Down_Interval, and a window's margin after the new master holds the VIPs.
const MARGIN: Duration = Duration::from_secs(4 * ADVERT.as_secs());
/// Each wait for a state: about 8 Master_Down_Intervals, for 2-core CI machines under TCG.
const WAIT: Duration = Duration::from_secs(30 * ADVERT.as_secs());
/// Between two requests.
const PAUSE: Duration = Duration::from_millis(40);
/// The VRRPv2 PASS password of both tools.
const PASSWORD: &str = "migrate1";

/// [`lab_config`]'s services: port, scheduler, real servers.
const SERVICES: [(u16, &str, &[&str]); 2] = [
    (
        80,
        "rr",
        &["198.51.100.11", "198.51.100.12", "198.51.100.13"],
    ),
    (5000, "wlc", &["198.51.100.14", "198.51.100.15"]),
];

/// keepalived's configuration on `ns`.
fn keepalived_conf(ns: &str, state: &str, priority: u8) -> String {
    let mut c = format!(
        "global_defs {{\n  router_id {ns}\n}}\n\
         vrrp_instance VI_1 {{\n  state {state}\n  interface eth0\n  virtual_router_id 51\n  \
         priority {priority}\n  advert_int {}\n  authentication {{\n    auth_type PASS\n    \
         auth_pass {PASSWORD}\n  }}\n  virtual_ipaddress {{\n    192.0.2.10/24 dev eth0\n    \
         198.51.100.1/24 dev eth1\n  }}\n}}\n",
        ADVERT.as_secs()
    );
    for (port, scheduler, reals) in SERVICES {
        c.push_str(&format!(
            "virtual_server 192.0.2.10 {port} {{\n  delay_loop 1\n  lvs_sched {scheduler}\n  \
             lvs_method NAT\n  protocol TCP\n"
        ));
        for real in reals {
            c.push_str(&format!(
                "  real_server {real} {port} {{\n    weight 1\n    TCP_CHECK {{\n      \
                 connect_timeout 1\n    }}\n  }}\n"
            ));
        }
        c.push_str("}\n");
    }
    c
}

/// lbd's configuration on `ns`: [`lab_config`]'s services, VRRP as keepalived's.
fn lbd_config(dir: &Path, ns: &str, sock: &Path, priority: u8) -> Result<(), String> {
    let vrrp = format!(
        "control: {{socket: {}}}\n\
         vrrp:\n  - name: vi_51\n    interface: eth0\n    vrid: 51\n    version: 2\n    \
         authentication: {{type: pass, password: {PASSWORD}}}\n    priority: {priority}\n    \
         advert_interval: {}s\n    vips:\n      - 192.0.2.10/24\n      \
         - {{address: 198.51.100.1/24, interface: eth1, advertise: true}}\n",
        sock.display(),
        ADVERT.as_secs()
    );
    lab_config(dir, "", &vrrp)?;
    let d = dir.join("director.yaml");
    let text = std::fs::read_to_string(&d).map_err(|e| e.to_string())?;
    write(&d, &text.replace("name: dir1", &format!("name: {ns}")))
}

/// The IPVS table both tools build, as [`table`] shows it.
fn expected_table() -> Vec<String> {
    let mut t = Vec::new();
    for (port, scheduler, reals) in SERVICES {
        let service = format!("TCP 192.0.2.10:{port} {scheduler}");
        for real in reals {
            t.push(format!("{service} -> {real}:{port} Masq 1"));
        }
        t.push(service);
    }
    t.sort();
    t
}

/// `ipvsadm -Ln` in `ns`, sorted: each service line, and each real server (address, forwarding,
/// weight) after its service's line, without the connection counters.
fn table(ns: &str) -> Result<Vec<String>, String> {
    let out = netns::run(ns, &["ipvsadm", "-Ln"])?;
    let (mut service, mut t) = (String::new(), Vec::new());
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["TCP" | "UDP" | "SCTP" | "FWM", ..] => {
                service = words.join(" ");
                t.push(service.clone());
            }
            ["->", real, forward, weight, ..] if *real != "RemoteAddress:Port" => {
                t.push(format!("{service} -> {real} {forward} {weight}"));
            }
            _ => {}
        }
    }
    t.sort();
    Ok(t)
}

/// The VRRP packets lbd dropped, by reason (`lbctl status --json`): "" when none.
fn drops(sock: &Path) -> Result<String, String> {
    let all = instances(sock)?;
    let drops = all.first().and_then(|i| i["drops"].as_object());
    Ok(drops
        .map(|d| {
            d.iter()
                .map(|(reason, n)| format!("{reason}={n}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default())
}

/// Polls `f` for `how_long`; an error the first time it is false.
fn holds(
    what: &str,
    how_long: Duration,
    mut f: impl FnMut() -> Result<bool, String>,
) -> Result<(), String> {
    let t0 = Instant::now();
    while t0.elapsed() < how_long {
        if !f()? {
            return Err(format!("{what}: no longer so after {:?}", t0.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    Ok(())
}

/// The four directors as they come and go; their logs for a failure's message.
struct Directors {
    ka1: Keepalived,
    ka2: Keepalived,
    lbd1: Option<Lbd>,
    lbd2: Option<Lbd>,
    s1: PathBuf,
    s2: PathBuf,
}

impl Directors {
    /// `e` with what was seen and the logs.
    fn fail(&self, e: String) -> String {
        let mut out = format!(
            "{e}\nseen: VIPs (public, inside) dir1 {:?}, dir2 {:?}; lbd dir1 {:?}, dir2 {:?}",
            vips("dir1"),
            vips("dir2"),
            self.lbd1.as_ref().map(|_| role(&self.s1)),
            self.lbd2.as_ref().map(|_| role(&self.s2)),
        );
        for (what, log) in [
            ("keepalived dir1", Some(self.ka1.log())),
            ("keepalived dir2", Some(self.ka2.log())),
            ("lbd dir1", self.lbd1.as_ref().map(Lbd::log)),
            ("lbd dir2", self.lbd2.as_ref().map(Lbd::log)),
        ] {
            if let Some(log) = log {
                out.push_str(&format!("\n{what}:\n{}", tail(&log)));
            }
        }
        out
    }
}

/// A failover window: from its first step until the new master held the VIPs.
struct Window {
    start: Instant,
    converged: Instant,
}

impl Window {
    /// Whether `r` was in flight inside the window or its margin.
    fn covers(&self, r: &Request) -> bool {
        r.at <= self.converged + MARGIN && r.at + r.took >= self.start
    }

    fn length(&self) -> Duration {
        self.converged - self.start
    }

    /// The longest time without a successful answer overlapping the window or its margin.
    fn outage(&self, reqs: &[Request]) -> Duration {
        longest_gap_over(reqs, self.start, self.converged + MARGIN)
    }
}

/// `t` - `from` in seconds, negative when `t` is earlier.
fn since(from: Instant, t: Instant) -> f64 {
    t.saturating_duration_since(from).as_secs_f64()
        - from.saturating_duration_since(t).as_secs_f64()
}

fn rolling_migration() -> Result<(), String> {
    let _topology = Topology::up(Options {
        real_servers: 5,
        static_gateway: false,
    })?;
    let tmp = tempdir()?;
    let t = tmp.path();
    let (s1, s2) = (t.join("dir1.sock"), t.join("dir2.sock"));
    let (c1, c2) = (t.join("c1"), t.join("c2"));
    lbd_config(&c1, "dir1", &s1, 150)?;
    lbd_config(&c2, "dir2", &s2, 100)?;
    let expected = expected_table();
    let both_vips = |on: &str, off: &str| -> Result<bool, String> {
        Ok(vips(on)? == (true, true) && vips(off)? == (false, false))
    };

    // 1. The keepalived pair.
    let ka = |ns, state, priority| {
        let conf = keepalived_conf(ns, state, priority);
        Keepalived::start(ns, t, &conf, Subsystems::VrrpAndIpvs)
    };
    let mut d = Directors {
        ka1: ka("dir1", "MASTER", 150)?,
        ka2: ka("dir2", "BACKUP", 100)?,
        lbd1: None,
        lbd2: None,
        s1: s1.clone(),
        s2: s2.clone(),
    };
    wait_for(
        "keepalived master on dir1 with both VIPs, backup on dir2, both IPVS tables built",
        WAIT,
        || {
            Ok(both_vips("dir1", "dir2")?
                && d.ka2.log().contains("(VI_1) Entering BACKUP STATE")
                && table("dir1")? == expected
                && table("dir2")? == expected)
        },
    )
    .map_err(|e| d.fail(e))?;
    let began = Instant::now();
    let traffic = Traffic::start(
        "client",
        "192.0.2.10:80".parse().map_err(|_| "addr")?,
        None,
        PAUSE,
    )?;
    traffic.wait_requests(20, WAIT)?;
    holds(
        "keepalived master on dir1 with both VIPs",
        2 * MARGIN,
        || both_vips("dir1", "dir2"),
    )
    .map_err(|e| d.fail(e))?;

    // 2. The backup replaced.
    let backup_replaced = Instant::now();
    let ka1_log_from = d.ka1.log().len();
    let ka2_exit = d.ka2.stop().map_err(|e| d.fail(e))?;
    d.lbd2 = Some(Lbd::start("dir2", &c2, &t.join("st2"), &t.join("l2"))?);
    let lbd2_backup = wait_for("lbd on dir2 backup, its IPVS table built", WAIT, || {
        Ok(role(&s2).unwrap_or_default() == "backup" && table("dir2")? == expected)
    })
    .map_err(|e| d.fail(e))?;
    holds(
        "lbd backup on dir2 and keepalived master on dir1 with both VIPs",
        2 * MARGIN,
        || Ok(role(&s2)? == "backup" && both_vips("dir1", "dir2")?),
    )
    .map_err(|e| d.fail(e))?;
    let dropped = drops(&s2)?;
    if !dropped.is_empty() {
        return Err(d.fail(format!("lbd on dir2 dropped adverts: {dropped}")));
    }
    let ka1_log = d.ka1.log();
    let changes: Vec<&str> = (ka1_log.get(ka1_log_from..).unwrap_or_default().lines())
        .filter(|l| l.contains("Entering"))
        .collect();
    if !changes.is_empty() {
        return Err(d.fail(format!(
            "keepalived on dir1 changed state while lbd joined: {changes:#?}"
        )));
    }

    // 3. The master replaced: window 1, keepalived's hand-over to lbd on dir2.
    let w1_start = Instant::now();
    d.ka1.terminate()?;
    wait_for("lbd on dir2 master with both VIPs", WAIT, || {
        Ok(role(&s2)? == "master" && both_vips("dir2", "dir1")?)
    })
    .map_err(|e| d.fail(e))?;
    let w1 = Window {
        start: w1_start,
        converged: Instant::now(),
    };
    let ka1_exit = d.ka1.wait_exit().map_err(|e| d.fail(e))?;
    holds("lbd master on dir2 alone", 2 * MARGIN, || {
        Ok(role(&s2)? == "master" && both_vips("dir2", "dir1")?)
    })
    .map_err(|e| d.fail(e))?;

    // Window 2: lbd on dir1 preempts.
    let w2_start = Instant::now();
    d.lbd1 = Some(Lbd::start("dir1", &c1, &t.join("st1"), &t.join("l1"))?);
    let mut table_built = None;
    wait_for(
        "lbd on dir1 master with both VIPs, lbd on dir2 backup",
        WAIT,
        || {
            if table_built.is_none() && table("dir1")? == expected {
                table_built = Some(w2_start.elapsed());
            }
            Ok(role(&s1).unwrap_or_default() == "master"
                && role(&s2)? == "backup"
                && both_vips("dir1", "dir2")?)
        },
    )
    .map_err(|e| d.fail(e))?;
    let w2 = Window {
        start: w2_start,
        converged: Instant::now(),
    };
    let end_state = || -> Result<bool, String> {
        Ok(role(&s1)? == "master"
            && role(&s2)? == "backup"
            && both_vips("dir1", "dir2")?
            && table("dir1")? == expected
            && table("dir2")? == expected)
    };
    let ended = holds(
        "lbd master on dir1, backup on dir2, both tables as keepalived's",
        2 * MARGIN,
        end_state,
    );
    traffic.wait_requests(20, WAIT)?;
    let reqs = traffic.requests();
    drop(traffic);
    let duration = began.elapsed();

    // The figures, then the verdict.
    let mut segments: Vec<(&str, Vec<Request>)> = [
        "keepalived pair",
        "backup replaced by lbd",
        "window 1",
        "between the windows",
        "window 2",
        "after",
    ]
    .into_iter()
    .map(|name| (name, Vec::new()))
    .collect();
    for r in &reqs {
        let i = if w1.covers(r) {
            2
        } else if w2.covers(r) {
            4
        } else if r.at < backup_replaced {
            0
        } else if r.at < w1.start {
            1
        } else if r.at < w2.start {
            3
        } else {
            5
        };
        segments[i].1.push(r.clone());
    }
    let figures: Vec<String> = (segments.iter())
        .map(|(name, s)| format!("{name}: {} requests, {} failed", s.len(), failures(s).len()))
        .collect();
    eprintln!(
        "rolling migration: {} requests in {duration:.1?}, {} failed; {}; keepalived stopped in \
         {ka2_exit:.1?} (dir2) and {ka1_exit:.1?} (dir1); lbd on dir2 backup {lbd2_backup:.1?} \
         after its start; window 1 (keepalived on dir1 stopped until lbd on dir2 held the VIPs) \
         {:.1?}, longest time without an answer {:.1?}; window 2 (lbd on dir1 started until it \
         held the VIPs) {:.1?}, its IPVS table built after {}, longest time without an answer \
         {:.1?}; margin {MARGIN:?} after each window",
        reqs.len(),
        failures(&reqs).len(),
        figures.join("; "),
        w1.length(),
        w1.outage(&reqs),
        w2.length(),
        table_built.map_or("-".to_owned(), |t| format!("{t:.1?}")),
        w2.outage(&reqs),
    );
    for (window, i) in [(&w1, 2), (&w2, 4)] {
        let when: Vec<String> = failures(&segments[i].1)
            .iter()
            .map(|r| {
                format!(
                    "{:+.2}s for {:.2?}: {}",
                    since(window.start, r.at),
                    r.took,
                    r.outcome.as_ref().err().map_or("", String::as_str)
                )
            })
            .collect();
        if !when.is_empty() {
            eprintln!(
                "rolling migration: {} failures (started at, from the window's start): {}",
                segments[i].0,
                when.join("; ")
            );
        }
    }
    let outside: Vec<String> = (segments.iter())
        .filter(|(name, _)| !name.starts_with("window"))
        .flat_map(|(name, s)| {
            failures(s)
                .into_iter()
                .map(move |r| format!("{name}, {:.2}s in: {:?}", since(began, r.at), r.outcome))
        })
        .collect();
    if !outside.is_empty() {
        return Err(d.fail(format!(
            "requests failed outside the failover windows: {outside:#?}"
        )));
    }
    ended.map_err(|e| {
        d.fail(format!(
            "{e}: dir1 table {:?}, dir2 table {:?}",
            table("dir1"),
            table("dir2")
        ))
    })?;
    for lbd in [d.lbd1.take(), d.lbd2.take()].into_iter().flatten() {
        lbd.stop()?;
    }
    Ok(())
}
