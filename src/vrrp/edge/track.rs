//! The edge of track scripts, files and processes: runs each script every `interval` as a
//! task of the VRRP runtime (never on the instance's own task: a slow script delays nothing),
//! reads the track files, and scans `/proc` for the track processes. The counting, the value
//! and the matching rules are pure (`vrrp/track_script.rs`, `vrrp/track_file.rs`,
//! `vrrp/track_process.rs`).
//!
//! Processes are counted by a scan of `/proc` at each poll (every 500 ms), not with
//! keepalived's proc connector: a scan reads one `stat` file per process (and `cmdline` only
//! when a definition compares command lines), on a blocking thread with a time limit, so a
//! process whose command line cannot be read at once (its memory locked or swapped out) never
//! holds the instance; that scan is skipped and the states stay as they were.
//!
//! A script runs through the monitors' runner (`monitor/process.rs`): in its own process
//! group, killed whole at its timeout or when the instance stops, as `user` when one is set,
//! with an environment of its own (`PATH`, `LBD_VRRP_INSTANCE`, `LBD_TRACK_SCRIPT`): nothing
//! of lbd's environment reaches it.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::monitor::process::{self, ProcessSpec};
use crate::vrrp::track_file::{parse_value, READ_LIMIT};
use crate::vrrp::track_process::{ProcessInfo, Quorum, TrackProcess};
use crate::vrrp::track_script::TrackScript;

/// The `PATH` a track script gets.
pub const SCRIPT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One finished run of a track script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptRun {
    pub script: String,
    /// Exit status 0.
    pub success: bool,
    /// How it ended, for the logs: `exit 1`, `timed out after 1s`, `cannot run ...`.
    pub detail: String,
}

/// Runs `s` once for `instance`.
pub async fn run_script(instance: &str, s: &TrackScript) -> ScriptRun {
    let (program, args) = s
        .command
        .split_first()
        .map_or(("", &[][..]), |(p, a)| (p, a));
    let spec = ProcessSpec {
        program: program.into(),
        args: args.to_vec(),
        env: vec![
            ("PATH".into(), SCRIPT_PATH.into()),
            ("LBD_VRRP_INSTANCE".into(), instance.into()),
            ("LBD_TRACK_SCRIPT".into(), s.name.clone()),
        ],
        clear_env: true,
        user: s.user.clone(),
        timeout: s.timeout(),
        ..ProcessSpec::default()
    };
    let (success, detail) = match process::run(&spec).await {
        Err(e) => (false, e.to_string()),
        Ok(r) if r.timed_out => (
            false,
            format!(
                "timed out after {}",
                crate::duration::format_duration(s.timeout())
            ),
        ),
        Ok(r) => match (r.code, r.signal) {
            (Some(0), _) => (true, "exit 0".to_string()),
            (Some(c), _) => (false, format!("exit {c}")),
            (None, Some(sig)) => (false, format!("killed by signal {sig}")),
            (None, None) => (false, "ended without a status".to_string()),
        },
    };
    ScriptRun {
        script: s.name.clone(),
        success,
        detail,
    }
}

/// Runs `s` now and then every `interval` (from the start of one run to the next; a run
/// longer than the interval delays the next), sending each result. Ends when the receiver is
/// gone; aborting the task kills a run in progress (its process group).
pub fn spawn_script(
    instance: String,
    s: TrackScript,
    tx: mpsc::UnboundedSender<ScriptRun>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(s.interval);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let run = run_script(&instance, &s).await;
            if tx.send(run).is_err() {
                return;
            }
        }
    })
}

/// The value of a track file now: `Some(0)` when it is missing, unreadable or empty, `None`
/// when its number is out of range (keep the previous value).
pub async fn read_file(path: &Path) -> Option<i64> {
    let read = async {
        let f = tokio::fs::File::open(path).await?;
        let mut buf = Vec::with_capacity(READ_LIMIT);
        f.take(READ_LIMIT as u64).read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    // A file on a hung network mount must not hold the instance: it counts as unreadable.
    match tokio::time::timeout(Duration::from_secs(1), read).await {
        Ok(Ok(bytes)) => parse_value(&bytes),
        _ => Some(0),
    }
}

/// One process from its `/proc/PID/stat` (`PID (COMM) STATE ...`; the name may hold blanks and
/// parentheses, so it ends at the last `)`) and, when read, its `cmdline` (NUL-separated).
pub fn parse_process(stat: &[u8], cmdline: Option<&[u8]>) -> Option<ProcessInfo> {
    let open = stat.iter().position(|&c| c == b'(')?;
    let close = stat.iter().rposition(|&c| c == b')')?;
    let comm = stat.get(open + 1..close)?.to_vec();
    let state = *stat.get(close + 2)?;
    let args = cmdline
        .map(|c| {
            c.strip_suffix(b"\0")
                .unwrap_or(c)
                .split(|&b| b == 0)
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>()
        })
        .filter(|a| a.iter().any(|w| !w.is_empty()))
        .unwrap_or_default();
    Some(ProcessInfo {
        comm,
        args,
        zombie: matches!(state, b'Z' | b'X' | b'x'),
    })
}

/// The processes under `proc_root` (a `/proc`), their command lines read when `cmdline`. A
/// process that ends during the scan is left out.
pub fn scan_processes(proc_root: &Path, cmdline: bool) -> std::io::Result<Vec<ProcessInfo>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(proc_root)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let dir = entry.path();
        let Ok(stat) = std::fs::read(dir.join("stat")) else {
            continue;
        };
        let cmd = if cmdline {
            std::fs::read(dir.join("cmdline")).ok()
        } else {
            None
        };
        out.extend(parse_process(&stat, cmd.as_deref()));
    }
    Ok(out)
}

/// The track processes of one instance and their quorum states.
pub struct ProcessWatch {
    defs: Vec<TrackProcess>,
    states: Vec<Quorum>,
}

impl ProcessWatch {
    pub fn new(defs: Vec<TrackProcess>) -> ProcessWatch {
        let states = vec![Quorum::new(); defs.len()];
        ProcessWatch { defs, states }
    }

    /// Scans `/proc` and returns the processes whose state changed, with their new state and
    /// count. Nothing when there is nothing to track, or when the scan failed or took over a
    /// second (logged; the states stay).
    pub async fn poll(&mut self, instance: &str) -> Vec<(String, bool, u32)> {
        if self.defs.is_empty() {
            return Vec::new();
        }
        let cmdline = self.defs.iter().any(TrackProcess::uses_cmdline);
        let scan = tokio::task::spawn_blocking(move || scan_processes(Path::new("/proc"), cmdline));
        let procs = match tokio::time::timeout(Duration::from_secs(1), scan).await {
            Ok(Ok(Ok(p))) => p,
            Ok(Ok(Err(e))) => {
                tracing::warn!(instance, "cannot scan /proc for track processes: {e}");
                return Vec::new();
            }
            Ok(Err(e)) => {
                tracing::warn!(instance, "the /proc scan failed: {e}");
                return Vec::new();
            }
            Err(_) => {
                tracing::warn!(instance, "the /proc scan took over 1s: skipped");
                return Vec::new();
            }
        };
        let now = Instant::now();
        let mut changed = Vec::new();
        for (def, state) in self.defs.iter().zip(self.states.iter_mut()) {
            let n = def.count(&procs);
            if let Some(up) = state.observe(def, n, now) {
                changed.push((def.name.clone(), up, n));
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(command: &[&str], timeout_ms: u64) -> TrackScript {
        TrackScript {
            name: "chk".into(),
            command: command.iter().map(|s| s.to_string()).collect(),
            interval: Duration::from_secs(1),
            timeout: Some(Duration::from_millis(timeout_ms)),
            weight: 0,
            rise: 1,
            fall: 1,
            user: None,
        }
    }

    #[tokio::test]
    async fn exit_status_decides_and_a_timeout_is_a_failure() {
        let ok = run_script("vi", &script(&["/bin/sh", "-c", "exit 0"], 5000)).await;
        assert!(ok.success, "{ok:?}");
        let bad = run_script("vi", &script(&["/bin/sh", "-c", "exit 3"], 5000)).await;
        assert_eq!((bad.success, bad.detail.as_str()), (false, "exit 3"));
        let t0 = std::time::Instant::now();
        let slow = run_script("vi", &script(&["/bin/sleep", "30"], 200)).await;
        assert!(!slow.success);
        assert!(slow.detail.starts_with("timed out"), "{slow:?}");
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "killed at the timeout"
        );
        let missing = run_script("vi", &script(&["/nonexistent/chk"], 1000)).await;
        assert!(!missing.success);
        assert!(missing.detail.contains("cannot run"), "{missing:?}");
    }

    #[tokio::test]
    async fn the_script_sees_only_its_own_environment() {
        // A test-only variable, set before the child is spawned.
        std::env::set_var("LBD_TEST_SECRET", "hunter2");
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("env");
        let cmd = format!("env > {}", out.display());
        let r = run_script("vi_51", &script(&["/bin/sh", "-c", &cmd], 5000)).await;
        assert!(r.success, "{r:?}");
        let env = std::fs::read_to_string(&out).unwrap();
        assert!(!env.contains("hunter2"), "{env}");
        assert!(env.contains("LBD_VRRP_INSTANCE=vi_51"), "{env}");
        assert!(env.contains("LBD_TRACK_SCRIPT=chk"), "{env}");
        assert!(env.contains(&format!("PATH={SCRIPT_PATH}")), "{env}");
    }

    #[test]
    fn stat_and_cmdline_lines_are_read_as_the_kernel_writes_them() {
        let p = parse_process(b"42 (my (odd) name) S 1 42 42 0", None).unwrap();
        assert_eq!(p.comm, b"my (odd) name");
        assert!(!p.zombie && p.args.is_empty());
        let z = parse_process(b"43 (nginx) Z 1", Some(b"")).unwrap();
        assert!(
            z.zombie && z.args.is_empty(),
            "a zombie, an empty command line"
        );
        let c = parse_process(b"44 (sleep) S 1", Some(b"/bin/sleep\x0086401\x00")).unwrap();
        assert_eq!(c.args, vec![b"/bin/sleep".to_vec(), b"86401".to_vec()]);
        assert_eq!(parse_process(b"garbage", None), None);
    }

    #[tokio::test]
    async fn a_process_this_test_starts_is_counted_by_name_and_by_command_line() {
        let mut child = std::process::Command::new("/bin/sleep")
            .arg("86399.25")
            .spawn()
            .unwrap();
        let def = |process: &[&str]| TrackProcess::new("sleeper", process);
        let procs = scan_processes(Path::new("/proc"), true).unwrap();
        assert_eq!(def(&["/bin/sleep", "86399.25"]).count(&procs), 1);
        assert!(def(&["sleep"]).count(&procs) >= 1);
        let mut w = ProcessWatch::new(vec![def(&["/bin/sleep", "86399.25"])]);
        assert_eq!(w.poll("vi").await, vec![("sleeper".to_string(), true, 1)]);
        assert_eq!(w.poll("vi").await, vec![], "no change");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(w.poll("vi").await, vec![("sleeper".to_string(), false, 0)]);
    }

    #[tokio::test]
    async fn files_read_as_keepalived_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("maint");
        assert_eq!(read_file(&f).await, Some(0), "missing: 0");
        std::fs::write(&f, "-30\n").unwrap();
        assert_eq!(read_file(&f).await, Some(-30));
        std::fs::write(&f, "").unwrap();
        assert_eq!(read_file(&f).await, Some(0), "empty: 0");
        std::fs::write(&f, "99999999999").unwrap();
        assert_eq!(read_file(&f).await, None, "out of range: ignored");
    }
}
