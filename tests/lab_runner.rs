//! The lab runner seen from the host: `vagrant/lab run` hands the guest command's output and
//! exit status back to the caller, runs it in the project directory with `LBD_LAB=1` and IPVS
//! loaded, and leaves no qemu process or temporary file behind, also on a timeout.
//! Each test boots the qemu guest once; a lock keeps the boots one at a time.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

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
    let script = "echo \"lab=$LBD_LAB cwd=$(pwd)\"; test -e /proc/net/ip_vs && echo ipvs; \
                  echo to-stderr >&2; exit 7";
    let out = lab_run(tmp.path(), &["--", "sh", "-c", script]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(7),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = format!("lab=1 cwd={}\nipvs\nto-stderr\n", project().display());
    assert_eq!(stdout, expected);
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

#[test]
fn interrupted_run_kills_the_guest() {
    let tmp = tempfile::tempdir().unwrap();
    let _one = ONE_GUEST_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let mut child = Command::new(project().join("vagrant/lab"))
        .args(["run", "--", "sleep", "600"])
        .env("TMPDIR", tmp.path())
        .current_dir(project())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("vagrant/lab starts");
    // Wait until the guest is booting (its temporary directory exists), then stop the runner
    // the way `kill` or a closing terminal does.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_dir(tmp.path()).unwrap().next().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the runner never started a guest"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: signalling our own child process by its pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{status}");
    assert_nothing_left(tmp.path());
}
