//! The soak benchmark: the whole daemon for an hour under everything an operator and a flaky
//! network do to it, on the host. The real event loop (`Daemon::run`, lbd's runtime and malloc
//! set-up), the real control socket and status listener, with the IPVS table kept by the
//! in-memory `FakeKernel` (this machine's kernel has no IPVS):
//! - N nodes on loopback checked by `tcp` every I seconds (the listener child), plus F = N/100
//!   flapping nodes served by a second child that opens and closes each one's listener every
//!   few seconds (3-9 s, a fixed pseudo-random schedule), whose failures run an alert script;
//! - a service of 20 nodes checked by an external Mon-style monitor (a shell script, so a
//!   process every 5 s), to catch leaked children;
//! - a reload every 30 s (the external service's interval alternates 5 s / 6 s, so a watch is
//!   restarted each time), a drain and an enable every 10 s, `status` over the control socket
//!   every second and `/metrics` every 15 s.
//!
//! After a warm-up of W seconds it samples every minute the resident memory, open file
//! descriptors, threads, tokio tasks and child processes, and prints their growth over the
//! window (goal ≤ 5 %; for memory the median of the first and the last ten samples, since one
//! sample swings with the allocator), the missed check intervals (goal 0), the checks made against the
//! target, and how the reloads, drains and polls went.
//!
//!     cargo run --release --example soak -- 10000 3600 [I=5] [W=300]

use lbd::daemon::kernel::FakeKernel;
use lbd::daemon::{control_channel, Daemon, Options, Signals};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{addr, cpu_seconds, loadavg, status_kb, PORT};

/// Flapping node `i`'s address: 127.3.(i/250).(i%250+1).
fn flap_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 3, (i / 250) as u8, (i % 250 + 1) as u8)
}

/// The flapping child: each listener is open for 3-9 s, then closed for 3-9 s (an xorshift
/// schedule per node), until stdin closes.
fn flap(f: usize) {
    common::raise_nofile();
    let mut listeners: Vec<Option<std::net::TcpListener>> = (0..f).map(|_| None).collect();
    let mut due = vec![Instant::now(); f];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        Duration::from_millis(3000 + seed % 6000)
    };
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        let _ = done_tx.send(());
    });
    println!("ready");
    loop {
        let now = Instant::now();
        for i in 0..f {
            if now >= due[i] {
                listeners[i] = match listeners[i].take() {
                    Some(_) => None,
                    None => {
                        let l = std::net::TcpListener::bind((flap_addr(i), PORT)).ok();
                        if let Some(l) = &l {
                            let _ = l.set_nonblocking(true);
                        }
                        l
                    }
                };
                due[i] = now + next();
            }
            // Accept and drop what came in (a closed listener refuses).
            if let Some(l) = &listeners[i] {
                while let Ok((s, _)) = l.accept() {
                    drop(s);
                }
            }
        }
        if done_rx.recv_timeout(Duration::from_millis(20)).is_ok() {
            return;
        }
    }
}

fn spawn_flapper(f: usize) -> Child {
    let exe = std::env::current_exe().expect("own path");
    let mut child = std::process::Command::new(exe)
        .args(["--flap", &f.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("flapping child");
    let mut ready = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut ready);
    }
    assert_eq!(ready.trim(), "ready", "flapping child failed");
    child
}

fn script_service(interval: u64) -> String {
    format!(
        "virtual: {{protocol: tcp, address: 192.0.2.11, port: 80}}\nscheduler: rr\n\
         forwarding: nat\nhostgroup: scripted\nport: {PORT}\n\
         watch: {{monitor: {{external: ok.monitor}}, interval: {interval}s, timeout: 3s}}\n"
    )
}

fn write_config(dir: &Path, n: usize, f: usize, interval: u64) {
    for sub in ["hostgroups", "services", "monitors", "alerts"] {
        std::fs::create_dir_all(dir.join(sub)).expect("config dir");
    }
    let d = dir.display();
    std::fs::write(
        dir.join("director.yaml"),
        format!(
            "name: soak\nstate_dir: {d}/state\ncontrol: {{socket: {d}/control.sock}}\n\
             listen: 127.0.0.1:19181\nreconcile_interval: 10s\nmonitor_dir: {d}/monitors\n\
             alert_dir: {d}/alerts\n"
        ),
    )
    .expect("director.yaml");
    let mut nodes = String::from("ping: false\nnodes:\n");
    for i in 0..n {
        let _ = writeln!(nodes, "  - {{name: n{i}, address: {}}}", addr(i));
    }
    for i in 0..f {
        let _ = writeln!(nodes, "  - {{name: f{i}, address: {}}}", flap_addr(i));
    }
    std::fs::write(dir.join("hostgroups/nodes.yaml"), nodes).expect("nodes.yaml");
    let mut scripted = String::from("ping: false\nnodes:\n");
    for i in 0..20.min(n) {
        let _ = writeln!(scripted, "  - {{name: s{i}, address: {}}}", addr(i));
    }
    std::fs::write(dir.join("hostgroups/scripted.yaml"), scripted).expect("scripted.yaml");
    std::fs::write(
        dir.join("services/soak.yaml"),
        format!(
            "virtual: {{protocol: tcp, address: 192.0.2.10, port: 80}}\nscheduler: rr\n\
             forwarding: nat\nhostgroup: nodes\nport: {PORT}\n\
             watch: {{monitor: tcp, interval: {interval}s, timeout: 900ms, \
             alert: [count.alert], upalert: [count.alert]}}\n"
        ),
    )
    .expect("soak.yaml");
    std::fs::write(dir.join("services/scripted.yaml"), script_service(5)).expect("scripted");
    let script = |path: &Path, text: &str| {
        std::fs::write(path, text).expect("script");
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
    };
    script(&dir.join("monitors/ok.monitor"), "#!/bin/sh\nexit 0\n");
    script(
        &dir.join("alerts/count.alert"),
        &format!("#!/bin/sh\necho x >> {d}/alerts.log\n"),
    );
}

/// One request line over the control socket; the answer's `kind` and how long it took.
fn ask(socket: &Path, request: &str) -> Result<(String, Duration), String> {
    let t = Instant::now();
    let mut s = std::os::unix::net::UnixStream::connect(socket).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    s.write_all(format!("{request}\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(s)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let v: serde_json::Value = serde_json::from_str(&line).map_err(|e| e.to_string())?;
    let kind = v["kind"].as_str().unwrap_or("?").to_string();
    if kind == "error" {
        return Err(format!("{request}: {line}"));
    }
    Ok((kind, t.elapsed()))
}

fn scrape() -> Result<String, String> {
    let mut s =
        std::net::TcpStream::connect(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 19181))
            .map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: soak\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut body = String::new();
    s.read_to_string(&mut body).map_err(|e| e.to_string())?;
    if !body.starts_with("HTTP/1.") || !body.contains(" 200 ") {
        return Err(format!(
            "GET /metrics: {}",
            body.lines().next().unwrap_or("")
        ));
    }
    Ok(body)
}

/// A metric's value summed over its labels.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// This process's open descriptors, threads and direct children (and how many are zombies).
fn counts() -> (usize, usize, usize, usize) {
    let n = |p: &str| std::fs::read_dir(p).map_or(0, |d| d.count());
    let me = std::process::id().to_string();
    let (mut children, mut zombies) = (0, 0);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let state = f.next().unwrap_or("");
        if f.next() == Some(me.as_str()) {
            children += 1;
            zombies += usize::from(state == "Z");
        }
    }
    (n("/proc/self/fd"), n("/proc/self/task"), children, zombies)
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    at: f64,
    rss_kb: u64,
    fds: usize,
    threads: usize,
    tasks: usize,
    children: usize,
    zombies: usize,
}

#[derive(Default)]
struct Tally {
    reloads: u32,
    drains: u32,
    enables: u32,
    polls: u32,
    scrapes: u32,
    errors: Vec<String>,
    slowest_poll: Duration,
}

/// Counts a request that succeeded, keeps the error of one that did not.
fn note(r: Result<(String, Duration), String>, count: &mut u32, errors: &mut Vec<String>) {
    match r {
        Ok(_) => *count += 1,
        Err(e) => errors.push(e),
    }
}

fn growth(first: f64, last: f64) -> f64 {
    if first == 0.0 {
        0.0
    } else {
        100.0 * (last - first) / first
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--flap") {
        flap(args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100));
        return;
    }
    let Some((n, secs, rest, mut child)) = common::start(3600) else {
        return;
    };
    let interval: u64 = rest.first().and_then(|a| a.parse().ok()).unwrap_or(5);
    let warm: u64 = rest.get(1).and_then(|a| a.parse().ok()).unwrap_or(300);
    let f = (n / 100).max(1);
    let mut flapper = spawn_flapper(f);
    lbd::daemon::memory::one_malloc_arena();
    let dir = tempfile::tempdir().expect("temporary directory");
    write_config(dir.path(), n, f, interval);
    let socket = dir.path().join("control.sock");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let tasks = rt.metrics();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (daemon, inbox, signals) = rt.block_on(async {
        let signals = Signals::new().expect("signals");
        let (handle, inbox) = control_channel();
        let opts = Options {
            config_dir: dir.path().to_path_buf(),
            state_dir: None,
            run_checks: true,
            record: None,
            exit_after_run: false,
        };
        let mut daemon =
            Daemon::start(opts, Box::new(FakeKernel::default()), handle.events.clone())
                .unwrap_or_else(|e| panic!("start: {e}"));
        let config = daemon.director().config().director.clone();
        let metrics = lbd::metrics::Metrics::new("soak");
        daemon.set_metrics(metrics.clone());
        let server_handle = lbd::control::server::Handle {
            requests: handle.requests.clone(),
            events: handle.events.clone(),
        };
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let server = lbd::control::server::Server::bind(
            lbd::control::server::Options::from_config(&config.control),
        )
        .expect("control socket");
        let h = server_handle.clone();
        let stop = stopped(stop_rx.clone());
        tokio::spawn(async move { server.run(h, stop).await });
        let listener = lbd::control::http::bind(config.listen)
            .await
            .expect("status listener");
        tokio::spawn(lbd::control::http::serve(
            listener,
            server_handle,
            metrics,
            stopped(stop_rx.clone()),
        ));
        (daemon, inbox, signals)
    });
    let daemon_task = {
        let mut rx = stop_rx.clone();
        rt.spawn(daemon.run(inbox, signals, async move {
            let _ = rx.wait_for(|s| *s).await;
        }))
    };

    // The operator and the scraper, from this thread (outside the daemon's runtime).
    let started = Instant::now();
    let total = Duration::from_secs(warm + secs);
    let mut tally = Tally::default();
    let mut samples: Vec<Sample> = Vec::new();
    let mut window_start: Option<(f64, f64, f64, f64)> = None; // checks, missed, cpu, at
    let mut drained: Option<usize> = None;
    let mut tick = 0u64;
    let sample = |at: f64| {
        let (fds, threads, children, zombies) = counts();
        Sample {
            at,
            rss_kb: status_kb("VmRSS:"),
            fds,
            threads,
            tasks: tasks.num_alive_tasks(),
            children,
            zombies,
        }
    };
    while started.elapsed() < total {
        std::thread::sleep(Duration::from_secs(1).saturating_sub(Duration::from_millis(
            started.elapsed().subsec_millis() as u64,
        )));
        tick += 1;
        match ask(&socket, r#"{"cmd":"status"}"#) {
            Ok((_, took)) => {
                tally.polls += 1;
                tally.slowest_poll = tally.slowest_poll.max(took);
            }
            Err(e) => tally.errors.push(e),
        }
        if tick % 30 == 0 {
            let interval = if (tick / 30) % 2 == 1 { 6 } else { 5 };
            std::fs::write(
                dir.path().join("services/scripted.yaml"),
                script_service(interval),
            )
            .expect("rewrite");
            note(
                ask(&socket, r#"{"cmd":"reload"}"#),
                &mut tally.reloads,
                &mut tally.errors,
            );
        }
        if tick % 10 == 5 {
            if let Some(d) = drained.take() {
                note(
                    ask(&socket, &format!(r#"{{"cmd":"enable","node":"n{d}"}}"#)),
                    &mut tally.enables,
                    &mut tally.errors,
                );
            }
            let d = (tick as usize * 7919) % n;
            note(
                ask(&socket, &format!(r#"{{"cmd":"drain","node":"n{d}"}}"#)),
                &mut tally.drains,
                &mut tally.errors,
            );
            drained = Some(d);
        }
        if tick % 15 == 0 {
            match scrape() {
                Ok(body) => {
                    tally.scrapes += 1;
                    let at = started.elapsed().as_secs_f64();
                    if window_start.is_none() && at >= warm as f64 {
                        window_start = Some((
                            metric(&body, "lbd_checks_total"),
                            metric(&body, "lbd_check_intervals_missed_total"),
                            cpu_seconds(),
                            at,
                        ));
                        samples.push(sample(at));
                    }
                }
                Err(e) => tally.errors.push(e),
            }
        }
        if window_start.is_some() && tick % 60 == 0 {
            let s = sample(started.elapsed().as_secs_f64());
            println!(
                "t={:>5.0}s rss {} MB, {} fds, {} threads, {} tasks, {} children ({} zombies)",
                s.at,
                s.rss_kb / 1024,
                s.fds,
                s.threads,
                s.tasks,
                s.children,
                s.zombies
            );
            samples.push(s);
        }
    }
    let end = scrape().expect("last scrape");
    let (checks0, missed0, cpu0, at0) = window_start.expect("a window after the warm-up");
    let wall = started.elapsed().as_secs_f64() - at0;
    let checks = metric(&end, "lbd_checks_total") - checks0;
    let missed = metric(&end, "lbd_check_intervals_missed_total") - missed0;
    let transitions = metric(&end, "lbd_node_transitions_total");
    let cpu = cpu_seconds() - cpu0;
    let _ = stop_tx.send(true);
    rt.block_on(async {
        let _ = daemon_task.await;
    });
    drop(child.stdin.take());
    let _ = child.wait();
    drop(flapper.stdin.take());
    let _ = flapper.wait();

    let first = samples.first().copied().expect("samples");
    let last = samples.last().copied().expect("samples");
    let peak = |get: fn(&Sample) -> f64| samples.iter().map(get).fold(0.0, f64::max);
    let target = (n + f) as f64 / interval as f64 + 20.0 / 5.5;
    println!("nodes                 {n} steady + {f} flapping, tcp every {interval} s");
    println!("machine load average  {}", loadavg());
    println!("warm-up, window       {warm} s, {wall:.0} s");
    println!(
        "checks                {:.0} per second ({:.1} % of the target {target:.0}), {missed:.0} intervals missed",
        checks / wall,
        100.0 * checks / wall / target
    );
    println!("node transitions      {transitions:.0} since start (the flappers)");
    println!(
        "control               {} status polls (slowest {:?}), {} reloads, {} drains, {} enables, {} scrapes, {} errors",
        tally.polls,
        tally.slowest_poll,
        tally.reloads,
        tally.drains,
        tally.enables,
        tally.scrapes,
        tally.errors.len()
    );
    for e in tally.errors.iter().take(5) {
        println!("  error: {e}");
    }
    println!(
        "daemon cpu            {:.1} % of one core",
        100.0 * cpu / wall
    );
    println!(
        "resident memory       {} MB → {} MB ({:+.1} %), peak {:.0} MB",
        first.rss_kb / 1024,
        last.rss_kb / 1024,
        growth(first.rss_kb as f64, last.rss_kb as f64),
        peak(|s| s.rss_kb as f64) / 1024.0
    );
    // One sample swings with the allocator (±6 % here); a leak moves the median of a stretch.
    let stretch = (samples.len() / 3).clamp(1, 10);
    let median_rss = |part: &[Sample]| {
        let mut kb: Vec<u64> = part.iter().map(|s| s.rss_kb).collect();
        kb.sort_unstable();
        kb[kb.len() / 2] as f64
    };
    let (early, late) = (
        median_rss(&samples[..stretch]),
        median_rss(&samples[samples.len() - stretch..]),
    );
    println!(
        "memory trend          median of the first {stretch} samples {:.0} MB, of the last {stretch} {:.0} MB ({:+.1} %)",
        early / 1024.0,
        late / 1024.0,
        growth(early, late)
    );
    for (what, a, b, p) in [
        (
            "file descriptors",
            first.fds,
            last.fds,
            peak(|s| s.fds as f64),
        ),
        (
            "threads",
            first.threads,
            last.threads,
            peak(|s| s.threads as f64),
        ),
        (
            "tokio tasks",
            first.tasks,
            last.tasks,
            peak(|s| s.tasks as f64),
        ),
        (
            "child processes",
            first.children,
            last.children,
            peak(|s| s.children as f64),
        ),
    ] {
        println!(
            "{what:<21} {a} → {b} ({:+.1} %), peak {p:.0}",
            growth(a as f64, b as f64)
        );
    }
    println!(
        "zombies               {} at the end (peak {:.0})",
        last.zombies,
        peak(|s| s.zombies as f64)
    );
    let alerts =
        std::fs::read_to_string(dir.path().join("alerts.log")).map_or(0, |t| t.lines().count());
    println!("alert scripts run     {alerts}");
}
