//! Network namespace helpers for kernel tests: run a program in a named namespace
//! (`ip netns exec`), start a daemon there that is killed on drop, run Rust code in one (a
//! thread that `setns`es), and a scratch namespace guard that is deleted on drop.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};

/// `ip netns exec NS PROGRAM`, ready for arguments.
pub fn command(ns: &str, program: &str) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, program]);
    cmd
}

/// Runs `args` in namespace `ns`; its stdout on success, else an error naming the command, its
/// status and its stderr.
pub fn run(ns: &str, args: &[&str]) -> Result<String, String> {
    let (program, rest) = args.split_first().ok_or("netns::run: empty command")?;
    let output = command(ns, program)
        .args(rest)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{ns}: cannot run {program}: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "{ns}: `{}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// A process started in a namespace by [`spawn`]; killed (by its pid) and reaped on drop.
pub struct Spawned {
    child: Child,
}

impl Spawned {
    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `args` in namespace `ns` in the background (stdin closed, stdout and stderr inherited
/// so they show in the test's output). `ip netns exec` execs the program: the pid is its own.
pub fn spawn(ns: &str, args: &[&str]) -> Result<Spawned, String> {
    let (program, rest) = args.split_first().ok_or("netns::spawn: empty command")?;
    let child = command(ns, program)
        .args(rest)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("{ns}: cannot start {program}: {e}"))?;
    Ok(Spawned { child })
}

/// Runs `f` on a thread that has entered network namespace `ns` (`/run/netns/NS`). Sockets it
/// opens live in that namespace.
pub fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> std::io::Result<T> {
    let file = File::open(format!("/run/netns/{ns}"))?;
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                // SAFETY: setns on a valid namespace fd affects only this thread, which ends
                // when `f` returns.
                if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(f())
            })
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("thread in netns panicked")))
    })
}

/// A scratch network namespace, deleted (with its IPVS table) on drop.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates namespace `name` (deleting a stale one of that name first) with `lo` up.
    pub fn new(name: &str) -> Result<Self, String> {
        let _ = Command::new("ip")
            .args(["netns", "del", name])
            .stderr(Stdio::null())
            .status();
        let status = Command::new("ip")
            .args(["netns", "add", name])
            .status()
            .map_err(|e| format!("cannot run ip: {e}"))?;
        if !status.success() {
            return Err(format!("ip netns add {name} failed ({status})"));
        }
        let ns = Netns {
            name: name.to_owned(),
        };
        run(name, &["ip", "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
