//! Test harness for the control plane: the real daemon (`lbd::daemon::Daemon`, the real
//! director core) wired as `lbd` wires it (`src/bin/lbd.rs`): its metrics, the real control
//! socket server and the real HTTP listener, in a background runtime, over a
//! [`SharedKernel`] the test can look at and change (connection counters, hand edits) while
//! the daemon runs. Checks do not run (`run_checks: false`): the fixture feeds check and ping
//! results, and VRRP views, through the daemon's input port, as the edge itself feeds them.
//!
//! The configuration directory resembles the lab (`config/`): director `dir1`, hostgroups
//! `http_nodes` (rs1..rs3) and `myapp_nodes` (rs4, rs5), both pinged, services `http` (tcp
//! 192.0.2.10:80, wlc, its failures alerting `mail.alert`) and `myapp` (tcp 192.0.2.10:5000,
//! rr, persistent 300s); no `vrrp:` block (instances need real interfaces). The kernel starts
//! with the converged table, as lbd left it before a restart: start-up adopts it and sends
//! nothing, and the failures then arrive as they do in a running lab, as transitions with
//! their table operations and alerts. The fixture brings the daemon to the lab's state (see
//! [`Fixture::with`]) and waits until the daemon shows it. There are also helpers to run the
//! real `lbctl` binary (as root or as `nobody`), to speak raw HTTP, to stop and restart the
//! daemon on the same socket, state directory and kernel, and the log lines the daemon wrote
//! ([`logs`]). Everything is torn down on drop.

#![allow(dead_code)]

pub mod openmetrics;

use lbd::config::ControlOthers;
use lbd::control::http;
use lbd::control::proto::{EventRecord, Request, Response, StatusView, VrrpView};
use lbd::control::server::{self, Server};
use lbd::daemon::kernel::SharedKernel;
use lbd::daemon::{control_channel, ControlHandle, Daemon, Options, Signals};
use lbd::director::Input;
use lbd::metrics::Metrics;
use lbd::monitor::{CheckError, CheckReport, Pass, WatchId};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Everything the daemon logged in this test binary, as `lbd` writes it with its default
/// filter (`info,lbd::node=warn`): the subscriber is installed once, the first time a fixture
/// starts.
static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn install_log_capture() {
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = LogSink(buf.clone());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info,lbd::node=warn"))
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .try_init();
        buf
    });
}

/// The log lines captured so far (every fixture of this binary).
pub fn logs() -> String {
    LOGS.get()
        .map(|b| text(&b.lock().unwrap_or_else(|e| e.into_inner())))
        .unwrap_or_default()
}

/// How long the fixture waits for the daemon to show a state it was fed. The daemon handles
/// an input in milliseconds and the kernel is in memory; this is for a machine busy with
/// other things (the qemu lab), not a tuning.
pub const STATE_BUDGET: Duration = Duration::from_secs(20);

/// The lab's real servers: (node, hostgroup, address, service, port).
pub const NODES: [(&str, &str, &str, &str, u16); 5] = [
    ("rs1", "http_nodes", "198.51.100.11", "http", 80),
    ("rs2", "http_nodes", "198.51.100.12", "http", 80),
    ("rs3", "http_nodes", "198.51.100.13", "http", 80),
    ("rs4", "myapp_nodes", "198.51.100.14", "myapp", 5000),
    ("rs5", "myapp_nodes", "198.51.100.15", "myapp", 5000),
];

/// The address of a lab node.
pub fn addr(node: &str) -> IpAddr {
    NODES
        .iter()
        .find(|n| n.0 == node)
        .unwrap_or_else(|| panic!("no lab node {node}"))
        .2
        .parse()
        .unwrap()
}

/// The failing check of rs2, as the http monitor reports an HTTP 500.
pub fn status_500() -> CheckError {
    CheckError::Status {
        got: 500,
        want: "200-399".into(),
    }
}

/// One check (or ping) report for `node`.
pub fn report(
    watch: WatchId,
    node: &str,
    outcome: Result<Pass, CheckError>,
    ms: u64,
) -> CheckReport {
    CheckReport {
        watch,
        node: node.into(),
        outcome,
        started: 0,
        duration_ms: ms,
    }
}

pub fn service(name: &str) -> WatchId {
    WatchId::Service(name.into())
}

pub fn ping(group: &str) -> WatchId {
    WatchId::Ping(group.into())
}

/// vi_51 of the lab's dir1 in `state`, as the edge reports a running instance.
pub fn vi_51(state: &str) -> VrrpView {
    VrrpView {
        instance: "vi_51".into(),
        interface: "eth0".into(),
        vrid: 51,
        state: state.into(),
        priority: 150,
        effective_priority: 150,
        vips: vec![
            "192.0.2.10/24".into(),
            "2001:db8::10/64".into(),
            "198.51.100.1/24".into(),
        ],
        drops: Default::default(),
        sync_group: None,
    }
}

/// The reports that bring the lab to its state (one batch, as the check runners batch them):
/// every node's ping answers but rs5's, silent twice (`fall: 2`); rs1, rs3 and rs4 pass their
/// service check, rs2's http check gets a 500, and the verification ping the node machine asks
/// for then answers (a failed check with a live ping is `failed`, not `offline`).
pub fn lab_reports() -> Vec<CheckReport> {
    let h = || ping("http_nodes");
    let m = || ping("myapp_nodes");
    vec![
        report(h(), "rs1", Ok(Pass::default()), 1),
        report(h(), "rs2", Ok(Pass::default()), 1),
        report(h(), "rs3", Ok(Pass::default()), 1),
        report(m(), "rs4", Ok(Pass::default()), 1),
        report(m(), "rs5", Err(CheckError::NoEchoReply), 1000),
        report(m(), "rs5", Err(CheckError::NoEchoReply), 1000),
        report(service("http"), "rs1", Ok(Pass::default()), 2),
        report(service("http"), "rs2", Err(status_500()), 5),
        report(service("http"), "rs3", Ok(Pass::default()), 3),
        report(service("myapp"), "rs4", Ok(Pass::default()), 1),
        report(h(), "rs2", Ok(Pass::default()), 1),
    ]
}

/// The lab's node states once it has settled.
pub fn lab_state(node: &str) -> &'static str {
    match node {
        "rs2" => "failed",
        "rs5" => "offline",
        _ => "online",
    }
}

/// Whether `s` shows the lab's state: every node in its state, rs2 and rs5 out of the
/// kernel's table and the others in it, vi_51 master.
pub fn shows_lab_state(s: &StatusView) -> bool {
    let servers: Vec<_> = s.services.iter().flat_map(|v| &v.real_servers).collect();
    servers.len() == NODES.len()
        && servers.iter().all(|rs| {
            rs.node_state == lab_state(&rs.node)
                && rs.kernel_weight.is_some() == (lab_state(&rs.node) == "online")
        })
        && s.vrrp.first().is_some_and(|v| v.state == "master")
}

/// The running daemon and what the fixture holds of it.
struct Running {
    handle: ControlHandle,
    rt: tokio::runtime::Handle,
    metrics: Metrics,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    /// The configuration directory (`lbctl -c`).
    pub config: PathBuf,
    pub state: PathBuf,
    pub socket: PathBuf,
    /// The alert directory; `mail.alert` in it is a link to `/bin/true`.
    pub alerts: PathBuf,
    /// The HTTP listener of the running daemon.
    pub http: SocketAddr,
    pub kernel: SharedKernel,
    /// The last history record once the fixture reached the lab's state.
    pub ready_seq: u64,
    write_timeout: Duration,
    daemon: Option<Running>,
}

/// How the fixture's control socket is policed.
pub struct Setup {
    pub group: Option<String>,
    pub others: ControlOthers,
    /// The socket server's write deadline (lbd's is 5 s; shorter, a stalled event follower is
    /// dropped sooner).
    pub write_timeout: Duration,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            group: None,
            others: ControlOthers::Read,
            write_timeout: Duration::from_millis(500),
        }
    }
}

/// Writes the lab's configuration directory.
fn write_config(config: &Path, state: &Path, socket: &Path, alerts: &Path, setup: &Setup) {
    std::fs::create_dir_all(config.join("hostgroups")).unwrap();
    std::fs::create_dir_all(config.join("services")).unwrap();
    let group_line = setup
        .group
        .as_ref()
        .map(|g| format!("  group: {g}\n"))
        .unwrap_or_default();
    let others = match setup.others {
        ControlOthers::None => "none",
        ControlOthers::Read => "read",
    };
    let files = [
        (
            "director.yaml",
            // The lab's dir1 (config/director.yaml) without `vrrp:` and `sync_daemon:`, which
            // need real interfaces; drift is looked for every second, not every 10.
            format!(
                "name: dir1\nstate_dir: {}\ncontrol:\n  socket: {}\n{group_line}  others: {others}\n\
                 listen: 127.0.0.1:0\nreconcile_interval: 1s\nmass_removal_guard: 50%\n\
                 alert_dir: {}\n",
                state.display(),
                socket.display(),
                alerts.display()
            ),
        ),
        (
            "hostgroups/http_nodes.yaml",
            "ping:\n  interval: 5s\n  timeout: 1s\n  rise: 1\n  fall: 2\nnodes:\n\
             \x20 - name: rs1\n    address: 198.51.100.11\n\
             \x20 - name: rs2\n    address: 198.51.100.12\n\
             \x20 - name: rs3\n    address: 198.51.100.13\n"
                .to_string(),
        ),
        (
            "hostgroups/myapp_nodes.yaml",
            "ping:\n  interval: 5s\n  timeout: 1s\n  rise: 1\n  fall: 2\nnodes:\n\
             \x20 - name: rs4\n    address: 198.51.100.14\n\
             \x20 - name: rs5\n    address: 198.51.100.15\n"
                .to_string(),
        ),
        ("services/http.yaml", HTTP_SERVICE.to_string()),
        (
            "services/myapp.yaml",
            "virtual: {protocol: tcp, address: 192.0.2.10, port: 5000}\nscheduler: rr\n\
             persistent: 300s\nforwarding: nat\nhostgroup: myapp_nodes\n\
             watch:\n  monitor: tcp\n  interval: 2s\n  timeout: 1s\n"
                .to_string(),
        ),
    ];
    for (name, body) in files {
        std::fs::write(config.join(name), body).unwrap();
    }
}

/// `services/http.yaml` of the fixture.
pub const HTTP_SERVICE: &str = "virtual: {protocol: tcp, address: 192.0.2.10, port: 80}\n\
scheduler: wlc\nforwarding: nat\nhostgroup: http_nodes\n\
watch:\n  monitor: {type: http, path: /}\n  interval: 2s\n  timeout: 500ms\n  alert: [mail.alert]\n";

impl Fixture {
    pub fn start() -> Fixture {
        Fixture::with(Setup::default())
    }

    /// The lab, settled: the kernel starts with the converged table (rs1..rs5 in, as lbd left
    /// it) and the connections of a running lab (rs1 3 active and 10 inactive, rs3 1 and 4,
    /// rs4 2 and 0); the daemon adopts it, then gets vi_51's roles (backup, then master) and
    /// [`lab_reports`]: rs2 fails (HTTP 500) and leaves the table, rs5 goes offline and
    /// leaves it, rs2's alert runs `mail.alert`. Returns once the daemon shows all that and
    /// the alert's run is in the history.
    pub fn with(setup: Setup) -> Fixture {
        install_log_capture();
        let dir = tempfile::tempdir().expect("tempdir");
        // `nobody` must reach the socket and read the configuration.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let config = dir.path().join("etc");
        let state = dir.path().join("state");
        let socket = dir.path().join("run/lbd/control.sock");
        let alerts = dir.path().join("alerts");
        std::fs::create_dir_all(&alerts).unwrap();
        // A link, not a script written here: a file written and executed at once in a test
        // process that forks (lbctl) can be refused with ETXTBSY.
        std::os::unix::fs::symlink("/bin/true", alerts.join("mail.alert")).unwrap();
        write_config(&config, &state, &socket, &alerts, &setup);
        let cfg = lbd::config::load(&config)
            .unwrap_or_else(|e| panic!("the fixture's configuration: {e}"))
            .config;
        let kernel = SharedKernel::default();
        kernel.0.lock().unwrap().table =
            lbd::director::plan::all_healthy_table(&cfg).expect("the converged table");
        for (node, active, inactive) in [("rs1", 3, 10), ("rs3", 1, 4), ("rs4", 2, 0)] {
            let port = NODES.iter().find(|n| n.0 == node).unwrap().4;
            kernel.set_conns(addr(node), port, active, inactive);
        }
        let mut f = Fixture {
            dir,
            config,
            state,
            socket,
            alerts,
            http: "0.0.0.0:0".parse().unwrap(),
            kernel,
            ready_seq: 0,
            write_timeout: setup.write_timeout,
            daemon: None,
        };
        f.start_daemon();
        f.feed(Input::Vrrp {
            views: vec![vi_51("backup")],
        });
        f.feed(Input::Vrrp {
            views: vec![vi_51("master")],
        });
        f.feed(Input::Checks {
            reports: lab_reports(),
        });
        let alert = format!("{} for http on rs2: exit 0", f.mail_alert());
        f.wait_until("the lab's state and rs2's alert run", |f| {
            f.status().is_some_and(|s| shows_lab_state(&s))
                && f.events().iter().any(|e| e.message == alert)
        });
        f.ready_seq = f.events().last().map_or(0, |e| e.seq);
        f
    }

    /// The path of the `mail.alert` the daemon runs (how its runs are named).
    pub fn mail_alert(&self) -> String {
        self.alerts.join("mail.alert").display().to_string()
    }

    /// Starts the daemon as `lbd` does (`run_daemon` in src/bin/lbd.rs): configuration, state
    /// and kernel table read, the director started, its metrics, the control socket and the
    /// HTTP listener on `director.listen` (port 0: the listener's own address is used).
    fn start_daemon(&mut self) {
        assert!(self.daemon.is_none(), "the daemon runs already");
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let config = self.config.clone();
        let kernel = self.kernel.clone();
        let write_timeout = self.write_timeout;
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let rt_handle = rt.handle().clone();
            rt.block_on(async move {
                let started = start_edge(config, kernel, write_timeout).await;
                let Edge {
                    daemon,
                    inbox,
                    signals,
                    handle,
                    metrics,
                    server,
                    listener,
                    addr,
                } = match started {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let server_handle = server::Handle {
                    requests: handle.requests.clone(),
                    events: handle.events.clone(),
                };
                // As lbd: the socket and the listener serve until the loop ends.
                let (stopped_tx, stopped_rx) = tokio::sync::watch::channel(false);
                let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
                    let _ = rx.wait_for(|s| *s).await;
                };
                let ctl =
                    tokio::spawn(server.run(server_handle.clone(), stopped(stopped_rx.clone())));
                let web = tokio::spawn(http::serve(
                    listener,
                    server_handle,
                    metrics.clone(),
                    stopped(stopped_rx),
                ));
                let _ = ready_tx.send(Ok((handle, metrics, addr, rt_handle)));
                let result = daemon
                    .run(inbox, signals, async {
                        let _ = stop_rx.await;
                    })
                    .await;
                let _ = stopped_tx.send(true);
                let _ = ctl.await;
                let _ = web.await;
                result.expect("the daemon's loop");
            });
        });
        let (handle, metrics, http, rt) = match ready_rx.recv_timeout(STATE_BUDGET) {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => panic!("{e}"),
            Err(e) => panic!("the daemon did not start within {STATE_BUDGET:?}: {e}"),
        };
        self.http = http;
        self.daemon = Some(Running {
            handle,
            rt,
            metrics,
            stop: stop_tx,
            thread,
        });
    }

    /// Stops the daemon as SIGTERM does (state written, table left as it is, socket removed)
    /// and waits for it.
    pub fn stop(&mut self) {
        if let Err(e) = self.stop_daemon() {
            std::panic::resume_unwind(e);
        }
    }

    fn stop_daemon(&mut self) -> std::thread::Result<()> {
        match self.daemon.take() {
            Some(d) => {
                let _ = d.stop.send(());
                d.thread.join()
            }
            None => Ok(()),
        }
    }

    /// Starts a new daemon on the same configuration, socket, state directory and kernel, as
    /// after a restart: it adopts the table, restores the state file, gets vi_51's role again
    /// (its instance starts over) and no check result; returns once it shows the lab's state.
    pub fn start_again(&mut self) {
        self.start_daemon();
        self.feed(Input::Vrrp {
            views: vec![vi_51("master")],
        });
        self.wait_until("the lab's state after a restart", |f| {
            f.status().is_some_and(|s| shows_lab_state(&s))
        });
    }

    fn running(&self) -> &Running {
        self.daemon.as_ref().expect("the daemon is not running")
    }

    /// Feeds an input to the director, as the edge does.
    pub fn feed(&self, input: Input) {
        self.running()
            .handle
            .inputs
            .send(input)
            .expect("the daemon takes inputs");
    }

    /// One request through the daemon's handle (not the socket: nothing is logged), answered
    /// within 10 s.
    pub fn ask(&self, request: Request) -> Response {
        let d = self.running();
        let h = server::Handle {
            requests: d.handle.requests.clone(),
            events: d.handle.events.clone(),
        };
        d.rt.block_on(server::ask(&h, request, Duration::from_secs(10)))
    }

    /// The daemon's status view (`None` if it answered something else).
    pub fn status(&self) -> Option<StatusView> {
        match self.ask(Request::Status) {
            Response::Status(s) => Some(s),
            _ => None,
        }
    }

    /// The whole event history.
    pub fn events(&self) -> Vec<EventRecord> {
        match self.ask(Request::Events {
            since: None,
            limit: None,
            follow: false,
        }) {
            Response::Events { events } => events,
            other => panic!("events: {other:?}"),
        }
    }

    /// The daemon's metrics registry (what `/metrics` serves).
    pub fn metrics(&self) -> &Metrics {
        &self.running().metrics
    }

    /// Polls `done` every 20 ms until it holds; panics with the status and the history after
    /// [`STATE_BUDGET`].
    #[track_caller]
    pub fn wait_until(&self, what: &str, mut done: impl FnMut(&Fixture) -> bool) {
        let t0 = Instant::now();
        while !done(self) {
            if t0.elapsed() > STATE_BUDGET {
                panic!(
                    "{what}: not reached within {STATE_BUDGET:?}\nstatus: {:#?}\nevents: {:#?}",
                    self.status(),
                    self.events()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `lbctl -c CONFIG ARGS...` as root.
    pub fn lbctl(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run lbctl")
    }

    /// `lbctl -c CONFIG ARGS...` as `nobody:nogroup` (supplementary groups dropped).
    pub fn lbctl_as_nobody(&self, args: &[&str]) -> Output {
        self.command(args)
            .uid(65534)
            .gid(65534)
            .output()
            .expect("run lbctl as nobody")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_lbctl"));
        c.arg("-c")
            .arg(&self.config)
            .args(args)
            .env_remove("LBD_CONFIG")
            .env_remove("LBD_SOCKET")
            .current_dir(self.dir.path());
        c
    }

    /// Raw HTTP/1.1 to the daemon's listener: (status code, headers text, body).
    pub fn http(&self, method: &str, path: &str) -> (u16, String, String) {
        http_request(self.http, method, path)
    }

    /// `method path` on the HTTP listener with extra header lines (`Name: value`).
    pub fn http_with(&self, method: &str, path: &str, headers: &[&str]) -> (u16, String, String) {
        http_request_with(self.http, method, path, headers)
    }

    /// The socket file's path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for Fixture {
    /// Stops the daemon (a panic of its thread is not raised again: the test is over, or
    /// already failing).
    fn drop(&mut self) {
        let _ = self.stop_daemon();
    }
}

/// What the daemon's thread sets up before it runs the loop.
struct Edge {
    daemon: Daemon,
    inbox: lbd::daemon::ControlInbox,
    signals: Signals,
    handle: ControlHandle,
    metrics: Metrics,
    server: Server,
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
}

async fn start_edge(
    config: PathBuf,
    kernel: SharedKernel,
    write_timeout: Duration,
) -> Result<Edge, String> {
    let signals = Signals::new().map_err(|e| format!("signals: {e}"))?;
    let (handle, inbox) = control_channel();
    let opts = Options {
        config_dir: config,
        state_dir: None,
        run_checks: false,
        record: None,
        exit_after_run: false,
    };
    let mut daemon = Daemon::start(opts, Box::new(kernel), handle.events.clone())
        .map_err(|e| format!("the daemon does not start: {e}"))?;
    let director = daemon.director().config().director.clone();
    let metrics = Metrics::new(&director.name);
    daemon.set_metrics(metrics.clone());
    let mut opts = server::Options::from_config(&director.control);
    opts.write_timeout = write_timeout;
    let server = Server::bind(opts).map_err(|e| format!("control socket: {e}"))?;
    let listener = http::bind(director.listen)
        .await
        .map_err(|e| format!("http: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    Ok(Edge {
        daemon,
        inbox,
        signals,
        handle,
        metrics,
        server,
        listener,
        addr,
    })
}

pub fn http_request(addr: SocketAddr, method: &str, path: &str) -> (u16, String, String) {
    http_request_with(addr, method, path, &[])
}

/// [`http_request`] with extra header lines (`Name: value`).
pub fn http_request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[&str],
) -> (u16, String, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect http");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read http");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("http head");
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    (code, head.to_string(), body.to_string())
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
