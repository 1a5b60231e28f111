//! Notify hooks: on every transition the matching commands run one after another (in
//! configuration order, transitions in the order they happened), each in its own process
//! group, killed whole after its timeout (the monitors' [`process::run`]); every run is
//! recorded and logged, with what it printed on stdout. A hook that leaves a background
//! process holding its stdout counts as running until that ends (or the timeout).

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

/// The queue feeding the hook worker.
pub struct HookQueue {
    tx: Option<mpsc::UnboundedSender<Transition>>,
    worker: Option<JoinHandle<()>>,
    records: Arc<Mutex<Vec<HookRun>>>,
}

impl HookQueue {
    /// Starts the worker for instance `name`.
    pub fn start(name: &str, hooks: Vec<NotifyHook>) -> HookQueue {
        let (tx, mut rx) = mpsc::unbounded_channel::<Transition>();
        let records = Arc::new(Mutex::new(Vec::new()));
        let rec = records.clone();
        let name = name.to_string();
        let worker = tokio::spawn(async move {
            while let Some(t) = rx.recv().await {
                for hook in hooks.iter().filter(|h| h.on.contains(&t.notify)) {
                    let run = run_hook(&name, hook, &t).await;
                    tracing::info!(instance = %name, notify = ?run.notify,
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

async fn run_hook(name: &str, hook: &NotifyHook, t: &Transition) -> HookRun {
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
    let env = [
        ("LBD_VRRP_INSTANCE", name.to_string()),
        ("LBD_VRRP_STATE", state),
        ("LBD_VRRP_FROM", format!("{:?}", t.from).to_lowercase()),
        ("LBD_VRRP_PRIORITY", t.priority.to_string()),
        ("LBD_VRRP_REASON", t.reason.clone()),
    ];
    // The monitors' runner: its own process group, killed whole at the timeout or when this
    // run is given up (the worker aborted at stop).
    let spec = ProcessSpec {
        program: prog.into(),
        args: args.to_vec(),
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
                tracing::info!(instance = %name, command = ?hook.command, "notify hook said: {short}");
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
