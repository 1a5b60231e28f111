//! The lab runner seen from the host: `vagrant/lab run` hands the guest command's output and
//! exit status back to the caller, runs it in the project directory with `LBD_LAB=1` and IPVS
//! loaded, and leaves no qemu process or temporary file behind, also on a timeout.
//! Each test boots the qemu guest once; a lock keeps the boots one at a time.
//! The guest sees the host's files read-only (its writes stay in guest RAM); `vagrant/lab shell`
//! takes commands on its standard input; a failed preparation leaves no temporary file in the
//! cache.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static ONE_GUEST_AT_A_TIME: Mutex<()> = Mutex::new(());

fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `vagrant/lab run ARGS` with TMPDIR set to `tmp` (where the runner keeps its temporary files).
fn lab_run(tmp: &Path, args: &[&str]) -> Output {
    let _one = ONE_GUEST_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    Command::new(project().join("vagrant/lab"))
        .arg("run")
        .args(args)
        .env("TMPDIR", tmp)
        .current_dir(project())
        .stdin(Stdio::null())
        .output()
        .expect("vagrant/lab runs")
}

/// No qemu process still refers to `tmp`, and the runner removed its files from it.
fn assert_nothing_left(tmp: &Path) {
    let left: Vec<_> = std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
    let marker = tmp.to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        assert!(
            !(cmdline.contains("qemu-system") && cmdline.contains(&marker)),
            "qemu still running: {cmdline}"
        );
    }
}

#[test]
fn failing_command_fails_with_its_status_and_output() {
    let tmp = tempfile::tempdir().unwrap();
    // The guest may write anywhere (a scratch layer in its RAM); the host sees none of it.
    let probe = project().join(format!(
        "target/lab-probe-{}",
        tmp.path().file_name().unwrap().to_string_lossy()
    ));
    let script = format!(
        "echo \"lab=$LBD_LAB cwd=$(pwd)\"; test -e /proc/net/ip_vs && echo ipvs; \
         mkdir -p target && touch {} && echo rw; echo to-stderr >&2; exit 7",
        probe.display()
    );
    let out = lab_run(tmp.path(), &["--", "sh", "-c", &script]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(7),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = format!("lab=1 cwd={}\nipvs\nrw\nto-stderr\n", project().display());
    assert_eq!(stdout, expected);
    assert!(
        !probe.exists(),
        "the guest's write reached the host: {}",
        probe.display()
    );
    assert_nothing_left(tmp.path());
}

#[test]
fn succeeding_commands_succeed_several_per_boot() {
    let tmp = tempfile::tempdir().unwrap();
    let out = lab_run(
        tmp.path(),
        &["--", "sh", "-c", "true && echo one && false || echo two"],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "one\ntwo\n");
    assert_nothing_left(tmp.path());
}

#[test]
fn timeout_kills_the_guest_and_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let out = lab_run(tmp.path(), &["--timeout", "4", "--", "sleep", "600"]);
    assert_eq!(out.status.code(), Some(124), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("did not finish within 4 s"), "{stderr}");
    assert_nothing_left(tmp.path());
}

/// Starts `vagrant/lab run -- sleep 600` in its own process group (as a shell runs a job), with
/// the signal dispositions a terminal's shell gives its jobs, and waits until its qemu is
/// running. (The suite itself may run with SIGINT ignored, as `nohup cmd &` starts it: a shell
/// that inherits an ignored signal cannot trap it, so the runner would never see the Ctrl-C.)
/// Its own time limit ends a run that missed the signal within minutes, not at the suite's.
fn start_sleeping_guest(tmp: &Path) -> Child {
    let mut cmd = Command::new(project().join("vagrant/lab"));
    // SAFETY: signal(2) is async-signal-safe; between fork and exec only this child runs.
    unsafe {
        cmd.pre_exec(|| {
            for sig in [libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGHUP] {
                libc::signal(sig, libc::SIG_DFL);
            }
            Ok(())
        });
    }
    let child = cmd
        .args(["run", "--timeout", "120", "--", "sleep", "600"])
        .env("TMPDIR", tmp)
        .current_dir(project())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("vagrant/lab starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !qemu_running(tmp) {
        assert!(Instant::now() < deadline, "the runner never started qemu");
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

/// Whether a qemu process refers to `tmp` (its run directory lives there).
fn qemu_running(tmp: &Path) -> bool {
    let marker = tmp.to_string_lossy().into_owned();
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        cmdline.contains("qemu-system") && cmdline.contains(&marker)
    })
}

#[test]
fn interrupted_run_kills_the_guest() {
    let tmp = tempfile::tempdir().unwrap();
    let _one = ONE_GUEST_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let mut child = start_sleeping_guest(tmp.path());
    // Stop the runner the way `kill` or a closing terminal does.
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: signalling our own child process by its pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{status}");
    assert_nothing_left(tmp.path());
}

#[test]
fn ctrl_c_kills_the_guest() {
    let tmp = tempfile::tempdir().unwrap();
    let _one = ONE_GUEST_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let mut child = start_sleeping_guest(tmp.path());
    // Ctrl-C in a terminal: SIGINT to the whole foreground process group (qemu included).
    let pgid = i32::try_from(child.id()).unwrap();
    // SAFETY: signalling the process group our own child leads.
    assert_eq!(unsafe { libc::kill(-pgid, libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status}");
    assert_nothing_left(tmp.path());
}

#[test]
fn shell_takes_commands_on_its_input() {
    let tmp = tempfile::tempdir().unwrap();
    let _one = ONE_GUEST_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let mut child = Command::new(project().join("vagrant/lab"))
        .arg("shell")
        .env("TMPDIR", tmp.path())
        .current_dir(project())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("vagrant/lab shell starts");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let seen = std::sync::Arc::new(Mutex::new(String::new()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = std::io::Read::read(&mut stdout, &mut buf) {
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    // What is typed before the guest's shell reads its console is lost (as on a real serial
    // line): type the command until the answer comes, as a person would.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !seen.lock().unwrap().contains("SHELL-42 1") {
        assert!(
            Instant::now() < deadline,
            "no answer from the guest shell: {}",
            seen.lock().unwrap()
        );
        stdin.write_all(b"echo SHELL-$((6*7)) $LBD_LAB\n").unwrap();
        std::thread::sleep(Duration::from_millis(500));
    }
    // `exit` powers the guest off, and the runner ends.
    stdin.write_all(b"exit\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            // SIGTERM (not SIGKILL): the runner then stops its qemu.
            // SAFETY: signalling our own child process by its pid.
            unsafe { libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGTERM) };
            let _ = child.wait();
            panic!("the guest did not power off after exit");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(stdin);
    reader.join().unwrap();
    assert!(status.success(), "{status}");
    assert_nothing_left(tmp.path());
}

#[test]
fn failed_preparation_leaves_no_temporary_file() {
    // A package that is not a kernel: downloading and unpacking work, the kernel is not there.
    let cache = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(project().join("vagrant/lab"))
        .args(["run", "--", "true"])
        .env("TMPDIR", tmp.path())
        .env("LBD_LAB_CACHE", cache.path())
        .env("LBD_LAB_KERNEL_PKG", "busybox-static")
        .current_dir(project())
        .stdin(Stdio::null())
        .output()
        .expect("vagrant/lab runs");
    assert!(!out.status.success(), "{out:?}");
    let left: Vec<_> = walk(cache.path())
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("dl.") || name.starts_with("stage.") || name.ends_with(".tmp")
        })
        .collect();
    assert!(
        left.is_empty(),
        "temporary files left in the cache: {left:?}"
    );
    assert!(
        !cache.path().join("kernel/busybox-static/ready").exists(),
        "a broken kernel was marked ready"
    );
    assert_nothing_left(tmp.path());
}

/// Every path under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() && !path.is_symlink() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}
