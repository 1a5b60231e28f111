//! Alerts: a watch's `alert` (failure) and `upalert` (recovery) scripts in Mon's convention, a
//! service's `quorum_down` / `quorum_up` scripts, plus the built-in log alert. They run in
//! order (the built-in mail alert, `mail/`, among them), one node's alerts one after another (a per-node queue; a service's quorum scripts
//! have one queue per service), each with a timeout; every run's exit status and duration goes
//! into an [`AlertRecord`] for the event history.
//!
//! A script is called as `SCRIPT -s SERVICE -g GROUP -h NODE -t TIME [-u] ARGS...` with the
//! summary on stdin and in the environment: `MON_ALERTTYPE` (`failure`/`up`), `MON_GROUP`,
//! `MON_SERVICE`, `MON_LAST_SUMMARY`, `MON_OPSTATUS` (0 failed, 1 ok), and `LBD_ALERT` (the
//! key: `alert`, `upalert`, `quorum_down`, `quorum_up`), `LBD_NODE`, `LBD_NODE_ADDRESS`,
//! `LBD_SERVICE`, `LBD_OLD_STATE`, `LBD_NEW_STATE` (quorum scripts: `LBD_QUORUM` instead).

use super::process::{self, ProcessSpec};
use super::spec::AlertSpec;
use crate::node::{AlertKind, NodeState};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// One alert to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertCall {
    pub node: String,
    pub address: String,
    pub group: String,
    /// The watch (service name, or `ping`).
    pub watch: String,
    pub kind: AlertKind,
    pub old: NodeState,
    pub new: NodeState,
    pub summary: String,
}

/// One run of one alert, for the event history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub node: String,
    pub watch: String,
    pub kind: AlertKind,
    /// The script's path, or `log` / `mail` for the built-in alerts.
    pub alert: String,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u64,
    /// Why it could not run at all.
    pub error: Option<String>,
}

/// The environment an alert script gets. A quorum script gets `LBD_QUORUM` (`lost`/`met`)
/// instead of the node states, and `LBD_NODE` lists the real servers still passing.
pub fn environment(call: &AlertCall) -> Vec<(String, String)> {
    let up = call.kind.is_up();
    let mut env = vec![
        (
            "MON_ALERTTYPE",
            if up { "up" } else { "failure" }.to_string(),
        ),
        ("MON_GROUP", call.group.clone()),
        ("MON_SERVICE", call.watch.clone()),
        ("MON_LAST_SUMMARY", call.summary.clone()),
        ("MON_OPSTATUS", if up { "1" } else { "0" }.to_string()),
        ("LBD_ALERT", call.kind.key().to_string()),
        ("LBD_NODE", call.node.clone()),
        ("LBD_NODE_ADDRESS", call.address.clone()),
        ("LBD_SERVICE", call.watch.clone()),
    ];
    match call.kind {
        AlertKind::Alert | AlertKind::Upalert => {
            env.push(("LBD_OLD_STATE", call.old.to_string()));
            env.push(("LBD_NEW_STATE", call.new.to_string()));
        }
        AlertKind::QuorumDown | AlertKind::QuorumUp => {
            env.push(("LBD_QUORUM", if up { "met" } else { "lost" }.to_string()));
        }
    }
    env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Runs the alerts in order and returns one record each.
pub async fn run_alerts(
    alerts: &[AlertSpec],
    call: &AlertCall,
    timeout: Duration,
) -> Vec<AlertRecord> {
    let mut records = Vec::new();
    for alert in alerts {
        let record = |alert: String| AlertRecord {
            node: call.node.clone(),
            watch: call.watch.clone(),
            kind: call.kind,
            alert,
            exit_code: None,
            signal: None,
            timed_out: false,
            duration_ms: 0,
            error: None,
        };
        match alert {
            AlertSpec::Log => {
                tracing::warn!(node = %call.node, watch = %call.watch, kind = ?call.kind,
                    old = %call.old, new = %call.new, summary = %call.summary, "alert");
                records.push(AlertRecord {
                    exit_code: Some(0),
                    ..record("log".into())
                });
            }
            AlertSpec::Mail { mail } => {
                let started = std::time::Instant::now();
                let unix = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let result = super::mail::send(mail, call, unix).await;
                let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                records.push(match result {
                    Ok(()) => {
                        tracing::info!(node = %call.node, watch = %call.watch, kind = ?call.kind,
                            server = %mail.server, "alert mailed");
                        AlertRecord {
                            exit_code: Some(0),
                            duration_ms,
                            ..record("mail".into())
                        }
                    }
                    Err(e) => {
                        tracing::warn!(node = %call.node, watch = %call.watch, kind = ?call.kind,
                            server = %mail.server, port = mail.port, error = %e,
                            "cannot mail the alert");
                        AlertRecord {
                            timed_out: e.is_timeout(),
                            error: Some(e.to_string()),
                            duration_ms,
                            ..record("mail".into())
                        }
                    }
                });
            }
            AlertSpec::Script { path, args, user } => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let mut argv: Vec<String> = vec![
                    "-s".into(),
                    call.watch.clone(),
                    "-g".into(),
                    call.group.clone(),
                    "-h".into(),
                    call.node.clone(),
                    "-t".into(),
                    now.to_string(),
                ];
                if call.kind.is_up() {
                    argv.push("-u".into());
                }
                argv.extend(args.iter().cloned());
                let spec = ProcessSpec {
                    program: path.clone(),
                    args: argv,
                    env: environment(call),
                    clear_env: false,
                    stdin: format!("{}\n", call.summary).into_bytes(),
                    user: user.clone(),
                    timeout,
                };
                let name = path.display().to_string();
                records.push(match process::run(&spec).await {
                    Ok(r) => AlertRecord {
                        exit_code: r.code,
                        signal: r.signal,
                        timed_out: r.timed_out,
                        duration_ms: u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
                        ..record(name)
                    },
                    Err(e) => AlertRecord {
                        error: Some(e.to_string()),
                        ..record(name)
                    },
                });
            }
        }
    }
    records
}

/// Per-node alert queues: one node's alerts run strictly in order, different nodes in parallel.
#[derive(Debug)]
pub struct AlertQueues {
    queues: HashMap<String, mpsc::UnboundedSender<(Vec<AlertSpec>, AlertCall, Duration)>>,
    records: mpsc::UnboundedSender<AlertRecord>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl AlertQueues {
    /// Records of every run go to `records`.
    pub fn new(records: mpsc::UnboundedSender<AlertRecord>) -> Self {
        AlertQueues {
            queues: HashMap::new(),
            records,
            tasks: Vec::new(),
        }
    }

    /// Ends every run at once (each script's process group is killed) and drops the queues.
    pub fn shutdown(self) {
        for t in &self.tasks {
            t.abort();
        }
    }

    /// Queues the alerts for the call's node (must be called inside a tokio runtime).
    pub fn send(&mut self, alerts: Vec<AlertSpec>, call: AlertCall, timeout: Duration) {
        let records = self.records.clone();
        let tasks = &mut self.tasks;
        let key = match call.kind {
            AlertKind::Alert | AlertKind::Upalert => call.node.clone(),
            AlertKind::QuorumDown | AlertKind::QuorumUp => format!("quorum {}", call.watch),
        };
        let queue = self.queues.entry(key).or_insert_with(|| {
            let (tx, mut rx) = mpsc::unbounded_channel::<(Vec<AlertSpec>, AlertCall, Duration)>();
            tasks.push(tokio::spawn(async move {
                while let Some((alerts, call, timeout)) = rx.recv().await {
                    for r in run_alerts(&alerts, &call, timeout).await {
                        let _ = records.send(r);
                    }
                }
            }));
            tx
        });
        let _ = queue.send((alerts, call, timeout));
    }
}
