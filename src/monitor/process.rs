//! Runs an external program (a Mon monitor or an alert script) the safe way: in its own process
//! group, optionally as an unprivileged user, with a timeout that kills the whole group, and
//! always reaped, so no zombie or orphan is left behind. A run given up before it ends (the
//! daemon stopping: the check thread drops its tasks) kills the group too.

use std::ffi::CString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

const MAX_OUTPUT: u64 = 1024 * 1024;

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct ProcessSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Start from an empty environment (only `env`), not lbd's own.
    pub clear_env: bool,
    pub stdin: Vec<u8>,
    /// Run as this user and its primary group.
    pub user: Option<String>,
    pub timeout: Duration,
}

/// How it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessResult {
    /// The exit code, when it exited on its own.
    pub code: Option<i32>,
    /// The signal that ended it (9 after a timeout).
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub stdout: Vec<u8>,
    pub duration: Duration,
    /// The process group it ran in (= its pid).
    pub pgid: i32,
}

/// Why a program could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("unknown user {0:?}")]
    UnknownUser(String),
}

/// Looks up a user's uid and primary gid.
pub fn lookup_user(name: &str) -> Result<(u32, u32), ProcessError> {
    let unknown = || ProcessError::UnknownUser(name.to_string());
    let cname = CString::new(name).map_err(|_| unknown())?;
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; getpwnam_r writes into pwd/buf only.
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return Err(unknown());
    }
    Ok((pwd.pw_uid, pwd.pw_gid))
}

/// Why this process cannot start a script as `uid`:`gid` (None when it can): another identity
/// needs CAP_SETUID and CAP_SETGID in the effective set, which the packaged unit leaves out.
pub fn cannot_switch_to(uid: u32, gid: u32) -> Option<String> {
    // SAFETY: geteuid/getegid have no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == uid && unsafe { libc::getegid() } == gid {
        return None;
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())?;
    const SETGID: u64 = 1 << 6;
    const SETUID: u64 = 1 << 7;
    (eff & (SETUID | SETGID) != SETUID | SETGID).then(|| {
        "this process lacks CAP_SETUID and CAP_SETGID to run a script as another user \
         (the packaged unit leaves them out: add `CapabilityBoundingSet=CAP_SETUID \
         CAP_SETGID` with `systemctl edit lbd`)"
            .to_string()
    })
}

fn kill_group(pgid: i32) {
    if pgid > 1 {
        // SAFETY: plain syscall; a negative pid addresses the process group we created.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// Kills the process group when dropped while armed: a run whose future is dropped before the
/// program ended leaves nothing running.
struct GroupGuard {
    pgid: i32,
    armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            kill_group(self.pgid);
        }
    }
}

/// Runs the program to completion or until the timeout, then kills its process group.
pub async fn run(spec: &ProcessSpec) -> Result<ProcessResult, ProcessError> {
    let started = Instant::now();
    let mut cmd = Command::new(&spec.program);
    if spec.clear_env {
        cmd.env_clear();
    }
    cmd.args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0);
    if let Some(user) = &spec.user {
        let (uid, gid) = lookup_user(user)?;
        // std drops supplementary groups (setgroups) before setgid/setuid when run as root.
        cmd.uid(uid).gid(gid);
    }
    let mut child = cmd.spawn().map_err(|source| ProcessError::Spawn {
        program: spec.program.display().to_string(),
        source,
    })?;
    let pgid = child.id().map(|p| p as i32).unwrap_or(0);
    let mut guard = GroupGuard { pgid, armed: true };
    if let Some(mut stdin) = child.stdin.take() {
        let data = spec.stdin.clone();
        tokio::spawn(async move {
            let _ = stdin.write_all(&data).await;
        });
    }
    let reader = child.stdout.take().map(|stdout| {
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = stdout.take(MAX_OUTPUT).read_to_end(&mut buf).await;
            buf
        })
    });
    let deadline = tokio::time::Instant::now() + spec.timeout;
    let mut timed_out = false;
    let status = match tokio::time::timeout_at(deadline, child.wait()).await {
        Ok(status) => status.ok(),
        Err(_) => {
            timed_out = true;
            kill_group(pgid);
            child.wait().await.ok()
        }
    };
    let stdout = match reader {
        Some(mut reader) => match tokio::time::timeout_at(deadline, &mut reader).await {
            Ok(out) => out.unwrap_or_default(),
            Err(_) => {
                // The leader exited but something it started still holds stdout open.
                timed_out = true;
                kill_group(pgid);
                reader.await.unwrap_or_default()
            }
        },
        None => Vec::new(),
    };
    guard.armed = false;
    use std::os::unix::process::ExitStatusExt;
    Ok(ProcessResult {
        code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| s.signal()),
        timed_out,
        stdout,
        duration: started.elapsed(),
        pgid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether any process is left in group `pgid` (zombies included).
    fn group_alive(pgid: i32) -> bool {
        // SAFETY: signal 0 only checks that the group exists.
        unsafe { libc::kill(-pgid, 0) == 0 }
    }

    #[tokio::test]
    async fn a_run_given_up_before_the_end_kills_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let spec = ProcessSpec {
            program: "/bin/sh".into(),
            args: vec![
                "-c".into(),
                format!("sleep 300 & echo $$ > {}; wait", pidfile.display()),
            ],
            timeout: Duration::from_secs(60),
            ..ProcessSpec::default()
        };
        // The caller gives up long before the program's own timeout.
        let r = tokio::time::timeout(Duration::from_millis(500), run(&spec)).await;
        assert!(r.is_err(), "the run should still be going: {r:?}");
        let leader: i32 = std::fs::read_to_string(&pidfile)
            .expect("the script wrote its pid")
            .trim()
            .parse()
            .unwrap();
        let t0 = Instant::now();
        while group_alive(leader) && t0.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            !group_alive(leader),
            "process group {leader} is still there"
        );
    }
}
