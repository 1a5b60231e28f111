//! keepalived 2.2.7 as a lab peer of the real `lbd`. [`Keepalived::start`] writes the given
//! keepalived.conf and runs keepalived in a namespace: in the foreground, VRRP only or VRRP and
//! the IPVS checker, logging to a file and not to syslog (which in the lab guest is the
//! console). [`Keepalived::stop`] sends SIGTERM as `systemctl stop keepalived` does (keepalived
//! then releases its VIPs with a priority-0 advert and removes the IPVS services it made) and
//! waits for the exit. Drop kills whatever is left of it by pid: the parent, and the children
//! named in their pid files.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::netns;

/// How long keepalived may take to exit after SIGTERM.
const STOP_LIMIT: Duration = Duration::from_secs(30);

/// Which of keepalived's subsystems run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subsystems {
    /// `-P`: VRRP only.
    Vrrp,
    /// VRRP and the checker (`virtual_server` blocks, in the namespace's IPVS table).
    VrrpAndIpvs,
}

/// A running keepalived; killed (with its children, by pid) on drop.
pub struct Keepalived {
    child: Option<Child>,
    /// The children's pid files (VRRP, checkers).
    child_pids: Vec<PathBuf>,
    log: PathBuf,
    /// When [`Keepalived::terminate`] sent SIGTERM.
    terminated: Option<Instant>,
}

impl Keepalived {
    /// Writes `conf` to `DIR/keepalived-NS.conf` and starts keepalived with it in `ns`; its
    /// log (console and detail) goes to `DIR/keepalived-NS.log`, replaced at each start.
    pub fn start(ns: &str, dir: &Path, conf: &str, run: Subsystems) -> Result<Self, String> {
        let file = |what: &str| dir.join(format!("keepalived-{ns}{what}"));
        let conf_path = file(".conf");
        std::fs::write(&conf_path, conf).map_err(|e| format!("{}: {e}", conf_path.display()))?;
        let (vrrp_pid, checkers_pid) = (file(".vrrp.pid"), file(".checkers.pid"));
        let log = file(".log");
        let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = netns::command(ns, "keepalived");
        cmd.args(["-n", "-l", "-G", "-D", "--dont-respawn", "-f"])
            .arg(&conf_path)
            .arg("-p")
            .arg(file(".pid"))
            .arg("-r")
            .arg(&vrrp_pid)
            .arg("-c")
            .arg(&checkers_pid);
        if run == Subsystems::Vrrp {
            cmd.arg("-P");
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("keepalived in {ns}: {e}"))?;
        Ok(Keepalived {
            child: Some(child),
            child_pids: vec![vrrp_pid, checkers_pid],
            log,
            terminated: None,
        })
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, as `systemctl stop keepalived`, and wait for the exit: [`Keepalived::terminate`]
    /// and [`Keepalived::wait_exit`].
    pub fn stop(&mut self) -> Result<Duration, String> {
        self.terminate()?;
        self.wait_exit()
    }

    /// Sends SIGTERM.
    pub fn terminate(&mut self) -> Result<(), String> {
        if let Some(c) = &self.child {
            let pid = i32::try_from(c.id()).map_err(|e| e.to_string())?;
            // SAFETY: kill(2) on keepalived's parent process, started by this test.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            self.terminated = Some(Instant::now());
        }
        Ok(())
    }

    /// Waits for the exit after [`Keepalived::terminate`]; how long it took from the signal.
    /// What is left after [`STOP_LIMIT`] is killed, and that is an error.
    pub fn wait_exit(&mut self) -> Result<Duration, String> {
        let since = self.terminated.unwrap_or_else(Instant::now);
        let exited = match &mut self.child {
            Some(c) => {
                while matches!(c.try_wait(), Ok(None)) && since.elapsed() < STOP_LIMIT {
                    std::thread::sleep(Duration::from_millis(20));
                }
                matches!(c.try_wait(), Ok(Some(_)))
            }
            None => true,
        };
        let took = since.elapsed();
        self.kill();
        if exited {
            Ok(took)
        } else {
            Err(format!(
                "keepalived did not exit within {STOP_LIMIT:?} of SIGTERM"
            ))
        }
    }

    fn kill(&mut self) {
        for file in &self.child_pids {
            if let Some(pid) = std::fs::read_to_string(file)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
            {
                // SAFETY: a child of keepalived (its pid file is this test's), started through
                // its parent by this test; keepalived removes the file when the child exits.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        self.kill();
    }
}
