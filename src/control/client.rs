//! The client side of the control socket, as `lbctl` uses it: connect, send one request line,
//! read one response line (or a stream of them), with a deadline and errors that say what to do.
//! Blocking I/O: `lbctl` has nothing else to do meanwhile.

use super::proto::{Request, Response};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest response line the client accepts (a status of a very large cluster fits).
pub const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// Why a request did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach lbd at {path}: is it running? ({source})")]
    Unreachable { path: PathBuf, source: io::Error },
    #[error("permission denied on {path}: lbctl needs root or the control group (director.control.group)")]
    PermissionDenied { path: PathBuf },
    #[error("lbd at {path} did not answer within {}s", .after.as_secs_f64())]
    Timeout { path: PathBuf, after: Duration },
    #[error("lbd at {path} closed the connection without an answer")]
    Closed { path: PathBuf },
    #[error("lbd sent an answer lbctl does not understand: {0}")]
    Protocol(String),
    #[error("control socket {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// A client for one control socket.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
    timeout: Duration,
}

impl Client {
    /// A client of the socket at `socket`; `timeout` bounds connecting, sending and waiting for
    /// each answer.
    pub fn new(socket: impl Into<PathBuf>, timeout: Duration) -> Client {
        Client {
            socket: socket.into(),
            timeout,
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Sends `request` and returns the one answer.
    pub fn call(&self, request: &Request) -> Result<Response, ClientError> {
        let mut stream = self.open(request)?;
        stream.next_response()
    }

    /// Sends `request` and returns the stream of answers (for `events --follow`). Connecting
    /// and sending are bounded by the timeout; waiting for answers is not: a quiet cluster
    /// sends nothing for a long time.
    pub fn stream(&self, request: &Request) -> Result<Responses, ClientError> {
        let responses = self.open(request)?;
        responses
            .reader
            .get_ref()
            .set_read_timeout(None)
            .map_err(|e| self.io(e))?;
        Ok(responses)
    }

    fn open(&self, request: &Request) -> Result<Responses, ClientError> {
        let stream = UnixStream::connect(&self.socket).map_err(|e| self.connect_error(e))?;
        let set = |r: io::Result<()>| r.map_err(|e| self.io(e));
        set(stream.set_read_timeout(Some(self.timeout)))?;
        set(stream.set_write_timeout(Some(self.timeout)))?;
        let mut line = serde_json::to_vec(request).map_err(|e| self.io(io::Error::other(e)))?;
        line.push(b'\n');
        (&stream).write_all(&line).map_err(|e| self.rw_error(e))?;
        Ok(Responses {
            client: self.clone(),
            reader: BufReader::new(stream),
        })
    }

    fn connect_error(&self, e: io::Error) -> ClientError {
        let path = self.socket.clone();
        match e.raw_os_error() {
            Some(libc::EACCES) | Some(libc::EPERM) => ClientError::PermissionDenied { path },
            Some(libc::ENOENT) | Some(libc::ECONNREFUSED) | Some(libc::ENOTDIR) => {
                ClientError::Unreachable { path, source: e }
            }
            _ => ClientError::Io { path, source: e },
        }
    }

    fn rw_error(&self, e: io::Error) -> ClientError {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ClientError::Timeout {
                path: self.socket.clone(),
                after: self.timeout,
            },
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => ClientError::Closed {
                path: self.socket.clone(),
            },
            _ => self.io(e),
        }
    }

    fn io(&self, source: io::Error) -> ClientError {
        ClientError::Io {
            path: self.socket.clone(),
            source,
        }
    }
}

/// The answers to one request, one line each.
#[derive(Debug)]
pub struct Responses {
    client: Client,
    reader: BufReader<UnixStream>,
}

impl Responses {
    /// The next answer; `Closed` when the daemon hung up.
    pub fn next_response(&mut self) -> Result<Response, ClientError> {
        let mut line = Vec::new();
        let n = (&mut self.reader)
            .take(MAX_RESPONSE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| self.client.rw_error(e))?;
        if n == 0 || line.last() != Some(&b'\n') {
            if line.len() > MAX_RESPONSE {
                return Err(ClientError::Protocol(format!(
                    "answer longer than {MAX_RESPONSE} bytes"
                )));
            }
            return Err(ClientError::Closed {
                path: self.client.socket.clone(),
            });
        }
        serde_json::from_slice(&line).map_err(|e| ClientError::Protocol(e.to_string()))
    }
}

impl Iterator for Responses {
    type Item = Result<Response, ClientError>;

    /// Ends (None) when the daemon closes the stream cleanly.
    fn next(&mut self) -> Option<Self::Item> {
        match self.next_response() {
            Err(ClientError::Closed { .. }) => None,
            other => Some(other),
        }
    }
}
