//! Test harness for the control plane: a real control socket server and HTTP listener in a
//! background runtime, fed by the in-test responder of [`fake`], a configuration directory
//! whose `director.yaml` points `control.socket` into a temporary directory, and helpers to run
//! the real `lbctl` binary (as root or as `nobody`) and to speak raw HTTP, and the log lines
//! the server wrote ([`logs`]). Everything is torn down on drop.

#![allow(dead_code)]

pub mod fake;
pub mod openmetrics;

use fake::Fake;
use lbd::config::ControlOthers;
use lbd::control::proto::EventRecord;
use lbd::control::server::{Handle, Options, Server};
use lbd::control::{http, lines};
use lbd::metrics::Metrics;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Everything the control server logged in this test binary, as `lbd` writes it with its
/// default filter (`info,lbd::node=warn`): the subscriber is installed once, the first time a
/// fixture starts.
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

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub socket: PathBuf,
    pub http: SocketAddr,
    pub metrics: Metrics,
    pub events: broadcast::Sender<EventRecord>,
    pub fake: Arc<Mutex<Fake>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How the fixture's control socket is policed.
pub struct Setup {
    pub group: Option<String>,
    pub others: ControlOthers,
    pub write_timeout: Duration,
    /// The socket's path (default: inside the fixture's own directory), for a second server on
    /// the same socket as after a daemon restart.
    pub socket: Option<PathBuf>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            group: None,
            others: ControlOthers::Read,
            write_timeout: Duration::from_millis(500),
            socket: None,
        }
    }
}

impl Fixture {
    pub fn start() -> Fixture {
        Fixture::with(Setup::default())
    }

    pub fn with(setup: Setup) -> Fixture {
        install_log_capture();
        let dir = tempfile::tempdir().expect("tempdir");
        // `nobody` must reach the socket and read the configuration.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let config = dir.path().join("etc");
        std::fs::create_dir(&config).unwrap();
        let socket = setup
            .socket
            .clone()
            .unwrap_or_else(|| dir.path().join("run/lbd/control.sock"));
        let group_line = setup
            .group
            .as_ref()
            .map(|g| format!("  group: {g}\n"))
            .unwrap_or_default();
        let others = match setup.others {
            ControlOthers::None => "none",
            ControlOthers::Read => "read",
        };
        std::fs::write(
            config.join("director.yaml"),
            format!(
                "name: dir1\ncontrol:\n  socket: {}\n{group_line}  others: {others}\nlisten: 127.0.0.1:0\n",
                socket.display()
            ),
        )
        .unwrap();
        let opts = Options {
            socket: socket.clone(),
            group: setup.group.clone(),
            others: setup.others,
            max_clients: 16,
            max_line: lines::MAX_LINE,
            reply_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(10),
            write_timeout: setup.write_timeout,
        };
        let fake = Arc::new(Mutex::new(Fake::lab()));
        let metrics = Metrics::new("dir1");
        let (events_tx, _) = broadcast::channel::<EventRecord>(64);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = {
            let fake = fake.clone();
            let metrics = metrics.clone();
            let events_tx = events_tx.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let server = Server::bind(opts).expect("bind control socket");
                    let listener = http::bind("127.0.0.1:0".parse().unwrap())
                        .await
                        .expect("bind http");
                    let addr = listener.local_addr().unwrap();
                    let (req_tx, mut req_rx) = mpsc::channel(16);
                    let handle = Handle {
                        requests: req_tx,
                        events: events_tx.clone(),
                    };
                    let responder = {
                        let events = events_tx.clone();
                        async move {
                            while let Some((req, reply)) = req_rx.recv().await {
                                let r = fake.lock().unwrap().answer(req, &events);
                                let _ = reply.send(r);
                            }
                        }
                    };
                    let (stop_all, _) = broadcast::channel::<()>(1);
                    let mut s1 = stop_all.subscribe();
                    let mut s2 = stop_all.subscribe();
                    let ctl = tokio::spawn(server.run(handle.clone(), async move {
                        let _ = s1.recv().await;
                    }));
                    let web = tokio::spawn(http::serve(listener, handle, metrics, async move {
                        let _ = s2.recv().await;
                    }));
                    let resp = tokio::spawn(responder);
                    ready_tx.send(addr).unwrap();
                    let _ = stop_rx.await;
                    let _ = stop_all.send(());
                    let _ = ctl.await;
                    let _ = web.await;
                    resp.abort();
                });
            })
        };
        let http = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("fixture ready");
        Fixture {
            dir,
            config,
            socket,
            http,
            metrics,
            events: events_tx,
            fake,
            stop: Some(stop_tx),
            thread: Some(thread),
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

    /// Raw HTTP/1.1: (status code, headers text, body).
    pub fn http(&self, method: &str, path: &str) -> (u16, String, String) {
        http_request(self.http, method, path)
    }

    /// The socket file's path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn http_request(addr: SocketAddr, method: &str, path: &str) -> (u16, String, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect http");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
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
