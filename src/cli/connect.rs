//! Reaching lbd from `lbctl`: which socket (`--socket`, else `director.control.socket` of the
//! configuration, else the default), one request with a deadline, and every failure mapped to
//! a message on stderr and a stable exit code.

use super::{Cli, Exit};
use crate::config::DEFAULT_CONTROL_SOCKET;
use crate::control::client::{Client, ClientError};
use crate::control::proto::{ErrorCode, Request, Response};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// How long lbctl waits for an answer (the daemon gives up on itself after 30 s).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(35);

/// The few keys of `director.yaml` lbctl needs: only the socket. The rest of the configuration
/// is not loaded, so `lbctl status` works while an edit in progress breaks another file.
#[derive(Debug, Default, Deserialize)]
struct DirectorFile {
    #[serde(default)]
    control: Option<ControlFile>,
}

#[derive(Debug, Default, Deserialize)]
struct ControlFile {
    #[serde(default)]
    socket: Option<PathBuf>,
}

/// The control socket to use.
pub fn socket_path(cli: &Cli) -> Result<PathBuf, String> {
    if let Some(s) = &cli.socket {
        return Ok(s.clone());
    }
    let file = cli.config.join("director.yaml");
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        // No configuration here (a fresh machine, another directory): the default socket.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(DEFAULT_CONTROL_SOCKET.into())
        }
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
    };
    let parsed: DirectorFile = serde_saphyr::from_str(&text).map_err(|e| {
        format!(
            "{}: {e}\n(run `lbctl check` for details, or give --socket)",
            file.display()
        )
    })?;
    Ok(parsed
        .control
        .and_then(|c| c.socket)
        .unwrap_or_else(|| DEFAULT_CONTROL_SOCKET.into()))
}

/// The client for this command line, or the exit code after saying why not.
pub fn client(cli: &Cli, err: &mut dyn Write) -> Result<Client, Exit> {
    match socket_path(cli) {
        Ok(p) => Ok(Client::new(p, REPLY_TIMEOUT)),
        Err(msg) => {
            let _ = writeln!(err, "lbctl: {msg}");
            Err(Exit::Config)
        }
    }
}

/// The exit code of a daemon-side error.
pub fn exit_of(code: ErrorCode) -> Exit {
    match code {
        ErrorCode::BadRequest | ErrorCode::Failed => Exit::Failure,
        ErrorCode::PermissionDenied => Exit::Denied,
        ErrorCode::NotFound => Exit::NotFound,
        ErrorCode::ConfigInvalid => Exit::Config,
        ErrorCode::Unavailable => Exit::Unreachable,
    }
}

/// The exit code of a client-side error.
pub fn exit_of_client(e: &ClientError) -> Exit {
    match e {
        ClientError::Unreachable { .. }
        | ClientError::Timeout { .. }
        | ClientError::Closed { .. } => Exit::Unreachable,
        ClientError::PermissionDenied { .. } => Exit::Denied,
        ClientError::Protocol(_) | ClientError::Io { .. } => Exit::Failure,
    }
}

/// Reports an error answer: its JSON on `out` with `--json`, the message on `err`.
pub fn report_error(
    response: &Response,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    match response {
        Response::Error { code, message } => {
            if json {
                let _ = print_json(out, response);
            }
            let _ = writeln!(err, "lbctl: {message}");
            exit_of(*code)
        }
        other => {
            let _ = writeln!(
                err,
                "lbctl: unexpected answer from lbd: {}",
                serde_json::to_string(other).unwrap_or_default()
            );
            Exit::Failure
        }
    }
}

/// Sends `request` and returns the answer if it is not an error; otherwise says why and
/// returns the exit code.
pub fn call(
    cli: &Cli,
    request: &Request,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Response, Exit> {
    let client = client(cli, err)?;
    call_with(&client, request, json, out, err)
}

/// [`call`] with a client already made (for loops such as `drain --wait`).
pub fn call_with(
    client: &Client,
    request: &Request,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Response, Exit> {
    match client.call(request) {
        Ok(r @ Response::Error { .. }) => Err(report_error(&r, json, out, err)),
        Ok(r) => Ok(r),
        Err(e) => {
            let _ = writeln!(err, "lbctl: {e}");
            Err(exit_of_client(&e))
        }
    }
}

/// Pretty JSON and a newline.
pub fn print_json<T: Serialize + ?Sized>(out: &mut dyn Write, value: &T) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// A mutating request whose answer is `Done { message }`: prints the message (or the answer as
/// JSON).
pub fn done(
    cli: &Cli,
    request: &Request,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Exit> {
    match call(cli, request, json, out, err) {
        Ok(r @ Response::Done { .. }) => {
            if json {
                print_json(out, &r)?;
            } else if let Response::Done { message } = &r {
                writeln!(out, "{message}")?;
            }
            Ok(Exit::Ok)
        }
        Ok(other) => Ok(report_error(&other, json, out, err)),
        Err(exit) => Ok(exit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(args).unwrap()
    }

    #[test]
    fn socket_from_flag_config_or_default() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        // No director.yaml: the default.
        let c = cli(&["lbctl", "-c", d, "status"]);
        assert_eq!(
            socket_path(&c).unwrap(),
            PathBuf::from(DEFAULT_CONTROL_SOCKET)
        );
        // The configuration's socket; unknown keys are no concern here.
        std::fs::write(
            dir.path().join("director.yaml"),
            "name: dir1\ncontrol:\n  socket: /tmp/x/control.sock\n  group: lbd\nvrrp: []\n",
        )
        .unwrap();
        assert_eq!(
            socket_path(&c).unwrap(),
            PathBuf::from("/tmp/x/control.sock")
        );
        // The flag wins.
        let c = cli(&["lbctl", "-c", d, "--socket", "/tmp/y.sock", "status"]);
        assert_eq!(socket_path(&c).unwrap(), PathBuf::from("/tmp/y.sock"));
        // Broken YAML names the file.
        std::fs::write(dir.path().join("director.yaml"), "control: [\n").unwrap();
        let c = cli(&["lbctl", "-c", d, "status"]);
        let e = socket_path(&c).unwrap_err();
        assert!(e.contains("director.yaml"), "{e}");
    }

    #[test]
    fn error_codes_map_to_exits() {
        assert_eq!(exit_of(ErrorCode::PermissionDenied).code(), 4);
        assert_eq!(exit_of(ErrorCode::NotFound).code(), 5);
        assert_eq!(exit_of(ErrorCode::ConfigInvalid).code(), 2);
        assert_eq!(exit_of(ErrorCode::Failed).code(), 1);
        assert_eq!(exit_of(ErrorCode::BadRequest).code(), 1);
        assert_eq!(exit_of(ErrorCode::Unavailable).code(), 3);
    }
}
