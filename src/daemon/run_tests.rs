//! The edge against a fake kernel, on a real runtime: control requests answered through the
//! loop, a stop that leaves the table as it is and does not wait for a long batch, batches
//! applied in chunks on the kernel thread, and a recorded run that replays to the same
//! effects.

use super::kernel::{Done, FakeKernel, Kernel, KernelThread, SharedKernel, APPLY_CHUNK};
use super::run::{control_channel, Daemon, Signals};
use super::start::Options;
use crate::control::proto::{Request, Response};
use crate::director::plan_tests::write_config;
use crate::director::{Batch, Change};
use crate::ipvs::{ApplyReport, IpvsError, Op, ServiceEntry};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn converged(n: u8) -> (tempfile::TempDir, tempfile::TempDir, SharedKernel) {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    write_config(dir.path(), n, "", "");
    let cfg = crate::config::load(dir.path()).unwrap().config;
    let kernel = SharedKernel::default();
    kernel.0.lock().unwrap().table = crate::director::plan::all_healthy_table(&cfg).unwrap();
    (dir, state, kernel)
}

fn options(dir: &std::path::Path, state: &std::path::Path) -> Options {
    Options {
        config_dir: dir.to_path_buf(),
        state_dir: Some(state.to_path_buf()),
        run_checks: false,
        record: None,
        exit_after_run: false,
    }
}

async fn ask(handle: &super::ControlHandle, request: Request) -> Response {
    let (tx, rx) = tokio::sync::oneshot::channel();
    handle.requests.send((request, tx)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), rx)
        .await
        .expect("an answer within 10 s")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_answers_control_requests_and_stops_without_touching_the_table() {
    let (dir, state, kernel) = converged(2);
    let (handle, inbox) = control_channel();
    let d = Daemon::start(
        options(dir.path(), state.path()),
        Box::new(kernel.clone()),
        handle.events.clone(),
    )
    .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let signals = Signals::new().unwrap();
    let task = tokio::spawn(d.run(inbox, signals, async {
        let _ = stop_rx.await;
    }));
    let mut follow = handle.events.subscribe();
    let r = ask(
        &handle,
        Request::Drain {
            node: "n2".into(),
            service: Some("web".into()),
        },
    )
    .await;
    assert_eq!(
        r,
        Response::Done {
            message: "drain n2 in web: 1 operation(s) sent".into()
        }
    );
    let ev = follow.recv().await.unwrap();
    assert!(ev.message.contains("drain n2"), "{ev:?}");
    // A check failure fed from outside reaches the table through the director.
    handle
        .inputs
        .send(crate::director::Input::Checks {
            reports: vec![crate::monitor::CheckReport {
                watch: crate::monitor::WatchId::Service("web".into()),
                node: "n1".into(),
                outcome: Err(crate::monitor::CheckError::Refused),
                started: 0,
                duration_ms: 1,
            }],
        })
        .unwrap();
    let t0 = Instant::now();
    while kernel.table().dest_count() != 1 {
        assert!(t0.elapsed() < Duration::from_secs(10), "n1 never left");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let Response::Status(s) = ask(&handle, Request::Status).await else {
        panic!("status")
    };
    assert_eq!(s.services[0].real_servers[0].health, "down");
    let before = kernel.table();
    stop_tx.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(kernel.table(), before, "the table stays on exit");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state.path().join("state.json")).unwrap()).unwrap();
    assert_eq!(doc["health"]["web"]["n1"]["up"], false, "{doc}");
}

/// A kernel whose every apply call takes `delay` (a big table under emulation), recording
/// the chunk sizes.
#[derive(Clone)]
struct Slow {
    inner: SharedKernel,
    delay: Duration,
    chunks: Arc<Mutex<Vec<usize>>>,
}

impl Kernel for Slow {
    fn dump(&mut self) -> Result<Vec<ServiceEntry>, IpvsError> {
        self.inner.dump()
    }
    fn apply(&mut self, ops: &[Op]) -> Result<ApplyReport, IpvsError> {
        std::thread::sleep(self.delay);
        self.chunks.lock().unwrap().push(ops.len());
        self.inner.apply(ops)
    }
    fn mutating(&self) -> u64 {
        self.inner.mutating()
    }
}

fn batch(n: usize) -> Batch {
    let changes = (0..n)
        .map(|i| {
            let key = crate::ipvs::ServiceKey::Addr {
                protocol: crate::ipvs::Protocol::Tcp,
                addr: "192.0.2.10".parse().unwrap(),
                port: 10_000 + i as u16,
            };
            Change {
                op: Op::AddService(crate::ipvs::Service::new(key, "rr")),
                service: format!("s{i}"),
                node: String::new(),
                why: "service in the configuration".into(),
            }
        })
        .collect();
    Batch {
        id: 7,
        cause: "test".into(),
        changes,
    }
}

#[tokio::test]
async fn a_batch_is_applied_in_chunks_and_a_stop_ends_it_after_the_current_one() {
    let chunks = Arc::new(Mutex::new(Vec::new()));
    let slow = Slow {
        inner: SharedKernel::default(),
        delay: Duration::from_millis(200),
        chunks: chunks.clone(),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let k = KernelThread::start(Box::new(slow.clone()), tx).unwrap();
    let n = 2 * APPLY_CHUNK + 200;
    k.apply(batch(n));
    let Some(Done::Applied { id, unsent, .. }) = rx.recv().await else {
        panic!("applied")
    };
    assert_eq!((id, unsent), (7, None));
    assert_eq!(*chunks.lock().unwrap(), vec![APPLY_CHUNK, APPLY_CHUNK, 200]);
    assert_eq!(k.mutating(), n as u64);
    // Stopping while the first chunk is in the kernel: the rest is not sent.
    let slow2 = Slow {
        inner: SharedKernel::default(),
        delay: Duration::from_millis(300),
        chunks: Arc::new(Mutex::new(Vec::new())),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let k = KernelThread::start(Box::new(slow2.clone()), tx).unwrap();
    k.apply(batch(n));
    tokio::time::sleep(Duration::from_millis(100)).await;
    k.stopping();
    let Some(Done::Applied { unsent, error, .. }) = rx.recv().await else {
        panic!("applied")
    };
    assert_eq!(unsent, Some(APPLY_CHUNK));
    assert_eq!(error.as_deref(), Some("lbd is stopping"));
    assert_eq!(slow2.inner.table().services.len(), APPLY_CHUNK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_does_not_wait_for_a_long_start_up_batch() {
    // 60 services of 100 real servers to put back (6,060 operations) at 2 s per chunk of
    // 2,000: 8 s of applying. The stop must come within one chunk, not after all four.
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    write_config(dir.path(), 100, "", "");
    for i in 2..=60 {
        std::fs::write(
            dir.path().join(format!("services/web{i:02}.yaml")),
            format!(
                "virtual: {{address: 192.0.2.10, port: {}}}\nscheduler: rr\nhostgroup: web_nodes\n\
                 watch:\n  monitor: tcp\n  interval: 2s\n",
                8000 + i
            ),
        )
        .unwrap();
    }
    // The state file says every node passed: start-up puts the whole table back.
    let cfg = crate::config::load(dir.path()).unwrap().config;
    let mut doc = crate::director::StateDoc::default();
    let known: std::collections::BTreeMap<_, _> = crate::director::plan::all_healthy(&cfg)
        .into_keys()
        .map(|p| {
            (
                p,
                crate::director::Known {
                    up: true,
                    load: None,
                    weight: None,
                },
            )
        })
        .collect();
    doc.set_known(&known);
    std::fs::write(
        state.path().join("state.json"),
        serde_json::to_vec(&doc).unwrap(),
    )
    .unwrap();
    let chunks = Arc::new(Mutex::new(Vec::new()));
    let slow = Slow {
        inner: SharedKernel(Arc::new(Mutex::new(FakeKernel::default()))),
        delay: Duration::from_secs(2),
        chunks: chunks.clone(),
    };
    let (handle, inbox) = control_channel();
    let d = Daemon::start(
        options(dir.path(), state.path()),
        Box::new(slow.clone()),
        handle.events.clone(),
    )
    .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(d.run(inbox, Signals::new().unwrap(), async {
        let _ = stop_rx.await;
    }));
    // The loop answers while the batch is out.
    let t0 = Instant::now();
    let r = ask(&handle, Request::Nodes).await;
    assert!(matches!(r, Response::Nodes { .. }), "{r:?}");
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t0 = Instant::now();
    stop_tx.send(()).unwrap();
    task.await.unwrap().unwrap();
    let took = t0.elapsed();
    // At most the chunk in the kernel (2 s) and the stop's own work.
    assert!(took < Duration::from_secs(4), "stop took {took:?}");
    let sent = chunks.lock().unwrap().clone();
    assert!(sent.len() < 4, "every chunk was sent: {sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_run_replays_to_the_same_effects() {
    let (dir, state, kernel) = converged(3);
    let trace = state.path().join("trace.jsonl");
    let (handle, inbox) = control_channel();
    let mut opts = options(dir.path(), state.path());
    opts.record = Some(trace.clone());
    let d = Daemon::start(opts, Box::new(kernel.clone()), handle.events.clone()).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(d.run(inbox, Signals::new().unwrap(), async {
        let _ = stop_rx.await;
    }));
    ask(
        &handle,
        Request::Disable {
            node: "n3".into(),
            service: None,
        },
    )
    .await;
    ask(&handle, Request::Status).await;
    ask(&handle, Request::Reload).await;
    stop_tx.send(()).unwrap();
    task.await.unwrap().unwrap();
    let text = std::fs::read(&trace).unwrap();
    let (d, done) = crate::director::replay::replay(&text[..]).unwrap();
    assert!(done.inputs >= 4, "{done:?}");
    assert_eq!(
        d.plan().members[&("web".into(), "n3".into())].weight,
        None,
        "the replayed director disabled n3 too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_up_metrics_are_filled_by_the_loop_from_the_plan_as_it_is() {
    // 6 services x 200 real servers: more than one chunk of the fill.
    let (dir, state, _) = converged(200);
    let web = std::fs::read_to_string(dir.path().join("services/web.yaml")).unwrap();
    for i in 1..6 {
        let text = web.replace("port: 80", &format!("port: {}", 8000 + i));
        std::fs::write(dir.path().join(format!("services/s{i}.yaml")), text).unwrap();
    }
    let cfg = crate::config::load(dir.path()).unwrap().config;
    let kernel = SharedKernel::default();
    kernel.0.lock().unwrap().table = crate::director::plan::all_healthy_table(&cfg).unwrap();
    let (handle, inbox) = control_channel();
    let mut d = Daemon::start(
        options(dir.path(), state.path()),
        Box::new(kernel.clone()),
        handle.events.clone(),
    )
    .unwrap();
    let metrics = crate::metrics::Metrics::new("dir1");
    d.set_metrics(metrics.clone());
    let in_table = |m: &crate::metrics::Metrics| {
        m.encode()
            .lines()
            .filter(|l| l.starts_with("lbd_real_server_in_table{"))
            .count()
    };
    assert_eq!(in_table(&metrics), 0, "not filled before the loop runs");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(d.run(inbox, Signals::new().unwrap(), async {
        let _ = stop_rx.await;
    }));
    let t0 = Instant::now();
    while in_table(&metrics) < 1200 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{}",
            in_table(&metrics)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A change after the fill is what the series show.
    ask(
        &handle,
        Request::Drain {
            node: "n7".into(),
            service: Some("s3".into()),
        },
    )
    .await;
    assert!(metrics
        .encode()
        .lines()
        .any(|l| l.starts_with("lbd_real_server_weight{")
            && l.contains("service=\"s3\"")
            && l.contains("node=\"n7\"")
            && l.ends_with(" 0")));
    stop_tx.send(()).unwrap();
    task.await.unwrap().unwrap();
}
