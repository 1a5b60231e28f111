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
