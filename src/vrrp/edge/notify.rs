//! Notify hooks: on every transition the matching commands run one after another (in
//! configuration order, transitions in the order they happened), each killed after its
//! timeout; every run is recorded and logged.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

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
    let child = Command::new(prog)
        .args(args)
        .env("LBD_VRRP_INSTANCE", name)
        .env("LBD_VRRP_STATE", &state)
        .env("LBD_VRRP_FROM", format!("{:?}", t.from).to_lowercase())
        .env("LBD_VRRP_PRIORITY", t.priority.to_string())
        .env("LBD_VRRP_REASON", &t.reason)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let outcome = match child {
        Err(e) => HookOutcome::SpawnFailed(e.to_string()),
        Ok(mut child) => match tokio::time::timeout(hook.timeout, child.wait()).await {
            Ok(Ok(st)) => HookOutcome::Exited(st.code().unwrap_or(-1)),
            Ok(Err(e)) => HookOutcome::SpawnFailed(e.to_string()),
            Err(_) => {
                let _ = child.kill().await;
                HookOutcome::TimedOut
            }
        },
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
}
