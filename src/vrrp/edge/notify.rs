//! Notify hooks: on every transition the matching commands run one after another (in
//! configuration order, transitions in the order they happened), each in its own process
//! group, killed whole after its timeout (the monitors' [`process::run`]); every run is
//! recorded and logged, with what it printed on stdout. A hook that leaves a background
//! process holding its stdout counts as running until that ends (or the timeout).
//!
//! Like keepalived's `notify` scripts, every command is called with four arguments after its
//! own: `INSTANCE|GROUP NAME MASTER|BACKUP|FAULT|STOP PRIORITY` ([`keepalived_args`]; a group's
//! priority is 0, as keepalived passes it), besides lbd's `LBD_VRRP_*` environment.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::monitor::process::{self, ProcessSpec};
use crate::vrrp::config::NotifyHook;
use crate::vrrp::fsm::{NotifyState, Transition};

/// How one hook run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum HookOutcome {
    /// Exit status (a signal counts as -1).
    Exited(i32),
    /// Killed at the timeout.
    TimedOut,
    /// Could not be started.
    SpawnFailed(String),
}

/// The record of one hook run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookRun {
    pub notify: NotifyState,
    pub command: Vec<String>,
    pub outcome: HookOutcome,
    pub elapsed: Duration,
}

/// Whose transition a hook reports: keepalived's first notify argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Subject {
    /// A VRRP instance (`INSTANCE`).
    Instance,
    /// A sync group (`GROUP`).
    Group,
}

/// keepalived's four notify arguments, appended to a hook's own: `INSTANCE` or `GROUP`, the
/// name, the state as keepalived spells it and the priority (a group's is always 0).
pub fn keepalived_args(
    subject: Subject,
    name: &str,
    notify: NotifyState,
    priority: u8,
) -> [String; 4] {
    let (kind, priority) = match subject {
        Subject::Instance => ("INSTANCE", priority),
        Subject::Group => ("GROUP", 0),
    };
    let state = match notify {
        NotifyState::Master => "MASTER",
        NotifyState::Backup => "BACKUP",
        NotifyState::Fault => "FAULT",
        NotifyState::Stop => "STOP",
    };
    [
        kind.to_string(),
        name.to_string(),
        state.to_string(),
        priority.to_string(),
    ]
}

/// The queue feeding the hook worker.
pub struct HookQueue {
    tx: Option<mpsc::UnboundedSender<Transition>>,
    worker: Option<JoinHandle<()>>,
    records: Arc<Mutex<Vec<HookRun>>>,
}

impl HookQueue {
    /// Starts the worker for instance `name`.
    pub fn start(name: &str, hooks: Vec<NotifyHook>) -> HookQueue {
        HookQueue::start_for(Subject::Instance, name, hooks)
    }

    /// Starts the worker for instance or sync group `name`.
    pub fn start_for(subject: Subject, name: &str, hooks: Vec<NotifyHook>) -> HookQueue {
        let (tx, mut rx) = mpsc::unbounded_channel::<Transition>();
        let records = Arc::new(Mutex::new(Vec::new()));
        let rec = records.clone();
        let name = name.to_string();
        let worker = tokio::spawn(async move {
            while let Some(t) = rx.recv().await {
                for hook in hooks.iter().filter(|h| h.on.contains(&t.notify)) {
                    let run = run_hook(subject, &name, hook, &t).await;
                    tracing::info!(subject = ?subject, name = %name, notify = ?run.notify,
                        command = ?run.command, outcome = ?run.outcome,
                        elapsed_ms = run.elapsed.as_millis() as u64, "notify hook ran");
                    if let Ok(mut r) = rec.lock() {
                        r.push(run);
                    }
                }
            }
        });
        HookQueue {
            tx: Some(tx),
            worker: Some(worker),
            records,
        }
    }

    /// Queues the hooks of one transition.
    pub fn push(&self, t: Transition) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(t);
        }
    }

    /// Every run so far.
    pub fn records(&self) -> Vec<HookRun> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Lets the queued hooks finish (at most `limit`), then stops the worker.
    pub async fn finish(&mut self, limit: Duration) {
        self.tx = None;
        if let Some(w) = self.worker.take() {
            let abort = w.abort_handle();
            if tokio::time::timeout(limit, w).await.is_err() {
                abort.abort();
            }
        }
    }
}

async fn run_hook(subject: Subject, name: &str, hook: &NotifyHook, t: &Transition) -> HookRun {
    let start = Instant::now();
    let notify = t.notify;
    let state = serde_json::to_value(notify)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let Some((prog, args)) = hook.command.split_first() else {
        return HookRun {
            notify,
            command: hook.command.clone(),
            outcome: HookOutcome::SpawnFailed("empty command".into()),
            elapsed: start.elapsed(),
        };
    };
    let who = match subject {
        Subject::Instance => "LBD_VRRP_INSTANCE",
        Subject::Group => "LBD_VRRP_GROUP",
    };
    let env = [
        (who, name.to_string()),
        ("LBD_VRRP_STATE", state),
        ("LBD_VRRP_FROM", format!("{:?}", t.from).to_lowercase()),
        ("LBD_VRRP_PRIORITY", t.priority.to_string()),
        ("LBD_VRRP_REASON", t.reason.clone()),
    ];
    // The monitors' runner: its own process group, killed whole at the timeout or when this
    // run is given up (the worker aborted at stop).
    let spec = ProcessSpec {
        program: prog.into(),
        args: args
            .iter()
            .cloned()
            .chain(keepalived_args(subject, name, notify, t.priority))
            .collect(),
        env: env.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        timeout: hook.timeout,
        ..ProcessSpec::default()
    };
    let outcome = match process::run(&spec).await {
        Err(e) => HookOutcome::SpawnFailed(e.to_string()),
        Ok(r) => {
            let out = String::from_utf8_lossy(&r.stdout);
            let out = out.trim();
            if !out.is_empty() {
                let short: String = out.chars().take(500).collect();
                tracing::info!(name = %name, command = ?hook.command, "notify hook said: {short}");
            }
            if r.timed_out {
                HookOutcome::TimedOut
            } else {
                HookOutcome::Exited(r.code.unwrap_or(-1))
            }
        }
    };
    HookRun {
        notify,
        command: hook.command.clone(),
        outcome,
        elapsed: start.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrp::fsm::State;

    fn transition(notify: NotifyState) -> Transition {
        Transition {
            from: State::Backup,
            to: State::Master,
            notify,
            event: "master-down-timer",
            reason: "test".into(),
            priority: 100,
        }
    }

    fn hook(on: NotifyState, script: &str, timeout_ms: u64) -> NotifyHook {
        NotifyHook {
            on: vec![on],
            command: vec!["/bin/sh".into(), "-c".into(), script.into()],
            timeout: Duration::from_millis(timeout_ms),
        }
    }

    #[tokio::test]
    async fn hooks_run_in_order_with_timeouts_and_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let o = out.display();
        let mut q = HookQueue::start(
            "vi_1",
            vec![
                hook(NotifyState::Master, "sleep 5", 100),
                hook(
                    NotifyState::Master,
                    &format!("echo $LBD_VRRP_INSTANCE $LBD_VRRP_STATE $LBD_VRRP_FROM >> {o}"),
                    2000,
                ),
                hook(
                    NotifyState::Stop,
                    &format!("echo stop >> {o}; exit 3"),
                    2000,
                ),
                hook(NotifyState::Backup, "/nonexistent", 2000),
            ],
        );
        q.push(transition(NotifyState::Master));
        q.push(transition(NotifyState::Stop));
        q.finish(Duration::from_secs(10)).await;
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(text, "vi_1 master backup\nstop\n");
        let runs = q.records();
        let outcomes: Vec<&HookOutcome> = runs.iter().map(|r| &r.outcome).collect();
        assert_eq!(
            outcomes,
            [
                &HookOutcome::TimedOut,
                &HookOutcome::Exited(0),
                &HookOutcome::Exited(3)
            ]
        );
        assert!(runs[0].elapsed < Duration::from_secs(2));
    }

    #[test]
    fn keepalived_arguments_name_the_subject_state_and_priority() {
        assert_eq!(
            keepalived_args(Subject::Instance, "vi_51", NotifyState::Master, 150),
            ["INSTANCE", "vi_51", "MASTER", "150"]
        );
        assert_eq!(
            keepalived_args(Subject::Instance, "vi_51", NotifyState::Stop, 0),
            ["INSTANCE", "vi_51", "STOP", "0"]
        );
        assert_eq!(
            keepalived_args(Subject::Instance, "vi_52", NotifyState::Fault, 100)[2],
            "FAULT"
        );
        // A group's priority is always 0, as keepalived passes it.
        assert_eq!(
            keepalived_args(Subject::Group, "g1", NotifyState::Backup, 150),
            ["GROUP", "g1", "BACKUP", "0"]
        );
    }

    #[tokio::test]
    async fn a_script_gets_its_own_arguments_then_keepalived_s_four() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = dir.path().join("notify.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$# $1 $2 $3 $4 $5 $LBD_VRRP_GROUP\" >> {}\n",
                out.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let hook = |extra: &[&str]| NotifyHook {
            on: vec![NotifyState::Master, NotifyState::Backup],
            command: std::iter::once(script.display().to_string())
                .chain(extra.iter().map(|s| s.to_string()))
                .collect(),
            timeout: Duration::from_secs(5),
        };
        let mut q = HookQueue::start("vi_51", vec![hook(&[]), hook(&["own"])]);
        q.push(transition(NotifyState::Master));
        q.finish(Duration::from_secs(10)).await;
        let mut g = HookQueue::start_for(Subject::Group, "g1", vec![hook(&[])]);
        g.push(transition(NotifyState::Backup));
        g.finish(Duration::from_secs(10)).await;
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            text,
            "4 INSTANCE vi_51 MASTER 100  \n\
             5 own INSTANCE vi_51 MASTER 100 \n\
             4 GROUP g1 BACKUP 0  g1\n"
        );
    }

    /// Whether process `pid` still exists (zombies included).
    fn alive(pid: i32) -> bool {
        // SAFETY: signal 0 only checks that the process exists.
        unsafe { libc::kill(pid, 0) == 0 }
    }

    #[tokio::test]
    async fn a_timed_out_hook_leaves_no_process_behind() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        // The hook starts a grandchild and waits for it.
        let script = format!("sleep 300 & echo $! > {}; wait", pidfile.display());
        let mut q = HookQueue::start("vi_1", vec![hook(NotifyState::Master, &script, 300)]);
        q.push(transition(NotifyState::Master));
        q.finish(Duration::from_secs(10)).await;
        assert_eq!(q.records()[0].outcome, HookOutcome::TimedOut);
        let grandchild: i32 = std::fs::read_to_string(&pidfile)
            .expect("the hook wrote its child's pid")
            .trim()
            .parse()
            .unwrap();
        // The timeout killed the hook's whole process group, the background `sleep` too.
        let t0 = Instant::now();
        while alive(grandchild) && t0.elapsed() < Duration::from_secs(3) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = alive(grandchild);
        if left {
            // SAFETY: the sleep this test started (through the hook).
            unsafe { libc::kill(grandchild, libc::SIGKILL) };
        }
        assert!(!left, "the hook's background process outlived its timeout");
    }
}
