//! The control socket: a Unix stream socket where `lbctl` sends [`Request`] lines and reads
//! [`Response`] lines (see [`super::proto`]).
//!
//! The socket is created fresh at the configured path (a stale one is removed, a live one is
//! refused), owned by root and the control group, mode 0660 (0666 when others may read), and
//! swapped into place by rename so it never exists with looser permissions. Each connection's
//! peer is identified by SO_PEERCRED and authorised by [`super::auth`]. The server never blocks
//! the daemon: requests go to the daemon through a bounded channel with a reply deadline, writes
//! to clients have a deadline, event streams read from a broadcast channel that drops what a
//! slow client misses, and the number of connections is bounded. Every request is logged with
//! the peer's uid and pid, the command and its outcome: at info (reads included), refusals,
//! bad requests and errors at warn.

use super::auth::{self, Access, Peer};
use super::lines::{self, Line};
use super::proto::{parse_request, ErrorCode, EventRecord, Request, Response};
use crate::config::{self, ControlOthers};
use std::future::Future;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, oneshot, watch, Semaphore};
use tracing::{debug, info, warn};

/// What the server needs of the daemon: where to send requests, where events are published.
/// (The daemon's `daemon::handle::ControlHandle` has the same two fields.)
#[derive(Debug, Clone)]
pub struct Handle {
    pub requests: mpsc::Sender<(Request, oneshot::Sender<Response>)>,
    pub events: broadcast::Sender<EventRecord>,
}

/// How the control socket is set up and policed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub socket: PathBuf,
    /// Group (name or number) whose members may change things, and the socket's group.
    pub group: Option<String>,
    pub others: ControlOthers,
    /// Concurrent connections; more are answered with an error and closed.
    pub max_clients: usize,
    /// Longest request line.
    pub max_line: usize,
    /// How long the daemon may take to answer.
    pub reply_timeout: Duration,
    /// A connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// A client that does not take a response within this is dropped.
    pub write_timeout: Duration,
}

impl Options {
    /// The options of `director.control`, with the default limits.
    pub fn from_config(control: &config::Control) -> Options {
        Options {
            socket: control.socket.clone(),
            group: control.group.clone(),
            others: control.others,
            max_clients: 64,
            max_line: lines::MAX_LINE,
            reply_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(5),
        }
    }

    /// The socket's mode: 0660, or 0666 when others may read.
    pub fn mode(&self) -> u32 {
        match self.others {
            ControlOthers::None => 0o660,
            ControlOthers::Read => 0o666,
        }
    }
}

/// Why the control socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("control group `{0}` does not exist")]
    UnknownGroup(String),
    #[error("another process is listening on {0}: is lbd already running?")]
    InUse(PathBuf),
    #[error("{0} exists and is not a socket; not removing it")]
    NotASocket(PathBuf),
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn io_err<'p>(what: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> ServerError + 'p {
    move |source| ServerError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// A bound control socket, ready to [`Server::run`].
#[derive(Debug)]
pub struct Server {
    listener: UnixListener,
    opts: Options,
    gid: Option<u32>,
    /// (device, inode) of the socket we created, so we remove only our own on exit.
    identity: (u64, u64),
}

impl Server {
    /// Creates the socket (inside a tokio runtime).
    pub fn bind(opts: Options) -> Result<Server, ServerError> {
        let gid = match &opts.group {
            Some(g) => Some(group_id(g)?),
            None => None,
        };
        let path = &opts.socket;
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() && !parent.exists() {
                std::fs::create_dir_all(parent).map_err(io_err("create directory", parent))?;
            }
        }
        remove_stale(path)?;
        let tmp = temp_name(path);
        let _ = std::fs::remove_file(&tmp);
        let std_listener =
            std::os::unix::net::UnixListener::bind(&tmp).map_err(io_err("bind", &tmp))?;
        let placed = (|| {
            // Owner root when we can (we are root in production), group from the config.
            let uid = (unsafe { libc::geteuid() } == 0).then_some(0);
            if uid.is_some() || gid.is_some() {
                std::os::unix::fs::chown(&tmp, uid, gid).map_err(io_err("chown", &tmp))?;
            }
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(opts.mode()))
                .map_err(io_err("chmod", &tmp))?;
            std::fs::rename(&tmp, path).map_err(io_err("move socket to", path))?;
            let meta = std::fs::metadata(path).map_err(io_err("stat", path))?;
            std_listener
                .set_nonblocking(true)
                .map_err(io_err("configure", path))?;
            Ok::<_, ServerError>((meta.dev(), meta.ino()))
        })();
        let identity = match placed {
            Ok(id) => id,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let listener = UnixListener::from_std(std_listener).map_err(io_err("listen on", path))?;
        info!(socket = %path.display(), mode = format!("{:o}", opts.mode()), group = ?opts.group, "control socket ready");
        Ok(Server {
            listener,
            opts,
            gid,
            identity,
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.opts.socket
    }

    /// Serves connections until `shutdown` completes, then closes every connection and removes
    /// the socket.
    pub async fn run(self, handle: Handle, shutdown: impl Future<Output = ()>) {
        let (stop_tx, stop_rx) = watch::channel(());
        let limit = Arc::new(Semaphore::new(self.opts.max_clients));
        let ctx = Arc::new(Ctx {
            opts: self.opts.clone(),
            gid: self.gid,
            handle,
        });
        tokio::pin!(shutdown);
        let mut next_id: u64 = 0;
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        next_id += 1;
                        let id = next_id;
                        match limit.clone().try_acquire_owned() {
                            Ok(permit) => {
                                let ctx = ctx.clone();
                                let stop = stop_rx.clone();
                                tokio::spawn(async move {
                                    connection(id, stream, &ctx, stop).await;
                                    drop(permit);
                                });
                            }
                            Err(_) => {
                                warn!(conn = id, max = ctx.opts.max_clients, "control: too many connections, refusing one");
                                let ctx = ctx.clone();
                                tokio::spawn(async move {
                                    let (_, mut wr) = stream.into_split();
                                    let msg = format!("too many control connections (at most {}); try again", ctx.opts.max_clients);
                                    let _ = write(&mut wr, &Response::error(ErrorCode::Failed, msg), ctx.opts.write_timeout).await;
                                });
                            }
                        }
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off a little.
                        warn!(error = %e, "control: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        drop(stop_tx);
        let path = &self.opts.socket;
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if (meta.dev(), meta.ino()) == self.identity {
                let _ = std::fs::remove_file(path);
            }
        }
        info!(socket = %path.display(), "control socket closed");
    }
}

/// Sends one request to the daemon and waits for its answer, at most `timeout`. Never fails:
/// a daemon that is gone or late becomes an error response.
pub async fn ask(handle: &Handle, request: Request, timeout: Duration) -> Response {
    let (tx, rx) = oneshot::channel();
    let exchange = async {
        if handle.requests.send((request, tx)).await.is_err() {
            return Response::error(ErrorCode::Unavailable, "lbd is shutting down");
        }
        match rx.await {
            Ok(r) => r,
            Err(_) => Response::error(ErrorCode::Unavailable, "lbd dropped the request (stopping)"),
        }
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(r) => r,
        Err(_) => Response::error(
            ErrorCode::Failed,
            format!("lbd did not answer within {}s", timeout.as_secs()),
        ),
    }
}

struct Ctx {
    opts: Options,
    gid: Option<u32>,
    handle: Handle,
}

async fn connection(id: u64, stream: UnixStream, ctx: &Ctx, mut stop: watch::Receiver<()>) {
    let peer = match peer_of(&stream, ctx.gid).await {
        Ok(p) => p,
        Err(e) => {
            warn!(conn = id, error = %e, "control: no peer credentials, closing");
            return;
        }
    };
    let access = auth::access(&peer, ctx.gid, ctx.opts.others);
    debug!(conn = id, uid = peer.uid, pid = ?peer.pid, ?access, "control: connection");
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let wt = ctx.opts.write_timeout;
    loop {
        let read = tokio::select! {
            _ = stop.changed() => return,
            r = tokio::time::timeout(ctx.opts.idle_timeout, lines::read_line(&mut rd, ctx.opts.max_line)) => r,
        };
        let line = match read {
            Err(_) => {
                debug!(conn = id, "control: idle connection closed");
                return;
            }
            Ok(Err(e)) => {
                debug!(conn = id, error = %e, "control: read failed");
                return;
            }
            Ok(Ok(Line::Eof)) => return,
            Ok(Ok(Line::Partial(bytes))) => {
                warn!(
                    conn = id,
                    uid = peer.uid,
                    bytes = bytes.len(),
                    "control: peer hung up in the middle of a request"
                );
                return;
            }
            Ok(Ok(Line::TooLong)) => {
                warn!(
                    conn = id,
                    uid = peer.uid,
                    max = ctx.opts.max_line,
                    "control: request line too long, closing"
                );
                let msg = format!("request line longer than {} bytes", ctx.opts.max_line);
                let _ = write(&mut wr, &Response::error(ErrorCode::BadRequest, msg), wt).await;
                return;
            }
            Ok(Ok(Line::Complete(bytes))) => bytes,
        };
        let request = match parse_request(&line) {
            Ok(r) => r,
            Err(msg) => {
                warn!(conn = id, uid = peer.uid, pid = ?peer.pid, error = %msg, "control: bad request");
                if write(&mut wr, &Response::error(ErrorCode::BadRequest, msg), wt)
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
        };
        if let Err(why) = auth::allows(access, &request) {
            warn!(conn = id, uid = peer.uid, pid = ?peer.pid, cmd = request.name(), "control: permission denied");
            let denied = Response::error(ErrorCode::PermissionDenied, why);
            if write(&mut wr, &denied, wt).await.is_err() || access == Access::None {
                return;
            }
            continue;
        }
        if let Request::Events {
            since,
            limit,
            follow: true,
        } = request
        {
            info!(conn = id, uid = peer.uid, pid = ?peer.pid, cmd = "events", "control: following events");
            follow(id, since, limit, ctx, &mut rd, &mut wr, &mut stop).await;
            return;
        }
        let name = request.name();
        let mutating = request.is_mutating();
        let summary = if mutating {
            serde_json::to_string(&request).unwrap_or_default()
        } else {
            String::new()
        };
        let response = ask(&ctx.handle, request, ctx.opts.reply_timeout).await;
        match &response {
            Response::Error { code, message } => {
                warn!(conn = id, uid = peer.uid, pid = ?peer.pid, cmd = name, request = %summary, outcome = code.as_str(), %message, "control request failed")
            }
            _ if mutating => {
                info!(conn = id, uid = peer.uid, pid = ?peer.pid, cmd = name, request = %summary, outcome = "ok", "control request")
            }
            _ => {
                info!(conn = id, uid = peer.uid, pid = ?peer.pid, cmd = name, outcome = "ok", "control request")
            }
        }
        if write(&mut wr, &response, wt).await.is_err() {
            debug!(conn = id, "control: client went away before the answer");
            return;
        }
    }
}

/// `Events { follow: true }`: the history as `Event` lines, then every new event until the
/// client hangs up, the server stops, or the client falls too far behind.
async fn follow(
    id: u64,
    since: Option<u64>,
    limit: Option<usize>,
    ctx: &Ctx,
    rd: &mut BufReader<tokio::net::unix::OwnedReadHalf>,
    wr: &mut OwnedWriteHalf,
    stop: &mut watch::Receiver<()>,
) {
    let wt = ctx.opts.write_timeout;
    // Subscribe first, so nothing published while the history is fetched is lost.
    let mut live = ctx.handle.events.subscribe();
    let history = Request::Events {
        since,
        limit,
        follow: false,
    };
    let mut last = since;
    match ask(&ctx.handle, history, ctx.opts.reply_timeout).await {
        Response::Events { events } => {
            for e in events {
                last = Some(last.map_or(e.seq, |l| l.max(e.seq)));
                if write(wr, &Response::Event { event: e }, wt).await.is_err() {
                    return;
                }
            }
        }
        other => {
            let _ = write(wr, &other, wt).await;
            return;
        }
    }
    let mut scratch = [0u8; 256];
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            n = rd.read(&mut scratch) => match n {
                // The client has nothing to say while following: a read of 0 is its hang-up.
                Ok(0) | Err(_) => {
                    info!(conn = id, "control: event follower left");
                    return;
                }
                Ok(_) => {}
            },
            ev = live.recv() => match ev {
                Ok(e) => {
                    if last.is_some_and(|l| e.seq <= l) {
                        continue;
                    }
                    last = Some(e.seq);
                    if write(wr, &Response::Event { event: e }, wt).await.is_err() {
                        debug!(conn = id, "control: event follower too slow or gone");
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    warn!(conn = id, missed = n, "control: event follower too slow, closing");
                    let msg = format!("too slow: missed {n} events; run lbctl events again");
                    let _ = write(wr, &Response::error(ErrorCode::Failed, msg), wt).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

async fn write(wr: &mut OwnedWriteHalf, response: &Response, timeout: Duration) -> io::Result<()> {
    let mut bytes = serde_json::to_vec(response).map_err(io::Error::other)?;
    bytes.push(b'\n');
    match tokio::time::timeout(timeout, wr.write_all(&bytes)).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "client not reading",
        )),
    }
}

async fn peer_of(stream: &UnixStream, control_gid: Option<u32>) -> io::Result<Peer> {
    let cred = stream.peer_cred()?;
    let mut peer = Peer {
        uid: cred.uid(),
        gid: cred.gid(),
        pid: cred.pid(),
        groups: Vec::new(),
    };
    // Supplementary groups matter only when the primary group does not already decide.
    if let (Some(gid), Some(pid)) = (control_gid, peer.pid) {
        if peer.uid != 0 && peer.gid != gid {
            if let Ok(status) = tokio::fs::read_to_string(format!("/proc/{pid}/status")).await {
                peer.groups = auth::parse_proc_groups(&status);
            }
        }
    }
    Ok(peer)
}

/// Removes a socket left behind by a dead process; refuses a live one or a non-socket.
fn remove_stale(path: &Path) -> Result<(), ServerError> {
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("stat", path)(e)),
    };
    if !meta.file_type().is_socket() {
        return Err(ServerError::NotASocket(path.to_path_buf()));
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(ServerError::InUse(path.to_path_buf()));
    }
    match std::fs::remove_file(path) {
        Ok(()) => {
            info!(socket = %path.display(), "removed a stale control socket");
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("remove stale socket", path)(e)),
    }
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "control.sock".into());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// The id of a group given by name or number.
pub fn group_id(group: &str) -> Result<u32, ServerError> {
    if let Ok(n) = group.parse::<u32>() {
        return Ok(n);
    }
    let name =
        std::ffi::CString::new(group).map_err(|_| ServerError::UnknownGroup(group.to_string()))?;
    let mut buf = vec![0u8; 4096];
    loop {
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call; buf outlives the use of grp's strings
        // (we only read gr_gid, a plain integer).
        let rc = unsafe {
            libc::getgrnam_r(
                name.as_ptr(),
                &mut grp,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() {
            return Err(ServerError::UnknownGroup(group.to_string()));
        }
        return Ok(grp.gr_gid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_name_and_number() {
        assert_eq!(group_id("0").unwrap(), 0);
        assert_eq!(group_id("root").unwrap(), 0);
        assert!(matches!(
            group_id("no-such-group-lbd"),
            Err(ServerError::UnknownGroup(_))
        ));
        assert!(group_id("a\0b").is_err());
    }
}
