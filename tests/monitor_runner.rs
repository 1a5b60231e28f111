//! The tokio runner on loopback: checks keep their cadence while another check hangs, results
//! carry the right node and reason, and the daemon's cadence commands take effect.

use lbd::monitor::spec::{CheckSpec, HttpCheck, TcpCheck, WatchSpec};
use lbd::monitor::{CheckError, Command, Runner, Target, WatchId};
use lbd::node::Cadence;
use std::net::IpAddr;
use std::time::Duration;
use tokio::net::TcpListener;

#[tokio::test]
async fn a_hung_check_does_not_delay_the_others() {
    // A server that accepts and never answers (hung HTTP), and one that accepts (TCP ok).
    let hung = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let hung_port = hung.local_addr().expect("addr").port();
    let ok = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let ok_port = ok.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = hung.accept().await {
            held.push(s);
        }
    });
    tokio::spawn(async move { while ok.accept().await.is_ok() {} });

    let lo: IpAddr = "127.0.0.1".parse().expect("ip");
    let mut tcp = WatchSpec::new(
        "tcp",
        "g",
        CheckSpec::Tcp(TcpCheck {
            port: ok_port,
            send: None,
            expect: None,
        }),
    );
    tcp.interval = Duration::from_millis(200);
    tcp.timeout = Duration::from_millis(150);
    let mut http = WatchSpec::new(
        "http",
        "g",
        CheckSpec::Http(HttpCheck {
            port: Some(hung_port),
            ..HttpCheck::default()
        }),
    );
    http.interval = Duration::from_millis(200);
    http.timeout = Duration::from_millis(1_000);
    http.failed_interval = Some(Duration::from_millis(50));
    let mut runner = Runner::new(16, 5);
    let nodes: Vec<Target> = (0..5)
        .map(|i| Target {
            node: format!("n{i}"),
            addr: lo,
        })
        .collect();
    runner
        .add_watch(&WatchId::Service("tcp".into()), &tcp, &nodes)
        .expect("tcp watch");
    runner
        .add_watch(&WatchId::Service("http".into()), &http, &nodes[..1])
        .expect("http watch");
    let missed = prometheus_client::metrics::counter::Counter::<u64>::default();
    runner.count_missed(missed.clone());
    let (cmd_tx, cmd_rx) = tokio::sync::mpsc::channel(4);
    let (rep_tx, mut rep_rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = tokio::spawn(runner.run(cmd_rx, rep_tx));
    cmd_tx
        .send(Command::Cadence {
            watch: WatchId::Service("tcp".into()),
            node: "n3".into(),
            cadence: Cadence::Now,
        })
        .await
        .expect("command");
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    cmd_tx.send(Command::Stop).await.expect("stop");
    let stats = handle.await.expect("runner");
    let mut reports = Vec::new();
    while let Ok(batch) = rep_rx.try_recv() {
        reports.extend(batch);
    }
    for i in 0..5 {
        let node = format!("n{i}");
        let starts: Vec<u64> = reports
            .iter()
            .filter(|r| r.watch == WatchId::Service("tcp".into()) && r.node == node)
            .map(|r| {
                assert!(r.outcome.is_ok(), "{r:?}");
                r.started
            })
            .collect();
        assert!(
            starts.len() >= 9,
            "{node}: only {} tcp checks in 2.1 s",
            starts.len()
        );
        // Cadence kept (no drift: k intervals after the second run), despite the hung http
        // check; the slack is for a loaded two-core machine.
        for (k, t) in starts.iter().enumerate().skip(1) {
            let want = starts[1] + (k as u64 - 1) * 200;
            assert!(
                t.abs_diff(want) <= 60,
                "{node}: run {k} at {t}, want {want}: {starts:?}"
            );
        }
    }
    let http: Vec<_> = reports
        .iter()
        .filter(|r| r.watch == WatchId::Service("http".into()))
        .collect();
    assert!(!http.is_empty());
    for r in &http {
        assert_eq!(r.outcome, Err(CheckError::Timeout(1_000)));
        assert!(r.duration_ms >= 1_000);
    }
    // The hung check skipped the intervals it overran, it did not pile up.
    assert!(stats.missed >= 4, "{stats:?}");
    // The metric counted them as they happened.
    assert_eq!(missed.get(), stats.missed);
}

#[tokio::test]
async fn the_retry_cadence_rechecks_soon_after_each_run_and_normal_ends_it() {
    // A port nobody listens on: every check is refused at once.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let mut tcp = WatchSpec::new(
        "tcp",
        "g",
        CheckSpec::Tcp(TcpCheck {
            port,
            send: None,
            expect: None,
        }),
    );
    // One run at the interval in this test's time; the retries come every 100 ms.
    tcp.interval = Duration::from_secs(60);
    tcp.timeout = Duration::from_secs(1);
    tcp.retry_interval = Some(Duration::from_millis(100));
    let mut runner = Runner::new(4, 5);
    let node = Target {
        node: "n0".into(),
        addr: "127.0.0.1".parse().expect("ip"),
    };
    let id = WatchId::Service("tcp".into());
    runner
        .add_watch(&id, &tcp, std::slice::from_ref(&node))
        .expect("tcp watch");
    let (cmd_tx, cmd_rx) = tokio::sync::mpsc::channel(4);
    let (rep_tx, mut rep_rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = tokio::spawn(runner.run(cmd_rx, rep_tx));
    let cadence = |cadence| Command::Cadence {
        watch: id.clone(),
        node: "n0".into(),
        cadence,
    };
    let mut runs = 0;
    // The first run (within the first-run window), refused.
    let first = tokio::time::timeout(Duration::from_secs(10), rep_rx.recv())
        .await
        .expect("a first check")
        .expect("reports");
    runs += first.len();
    assert!(
        matches!(first[0].outcome, Err(CheckError::Refused)),
        "{first:?}"
    );
    cmd_tx.send(cadence(Cadence::Retry)).await.expect("retry");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    while let Ok(batch) = rep_rx.try_recv() {
        runs += batch.len();
    }
    // 1.5 s at 100 ms after each refused run: about 14; a loaded machine makes fewer.
    assert!(runs >= 4, "only {runs} runs with retries every 100 ms");
    assert!(
        runs <= 17,
        "{runs} runs: retries faster than 100 ms after each run"
    );
    cmd_tx.send(cadence(Cadence::Normal)).await.expect("normal");
    tokio::time::sleep(Duration::from_millis(200)).await;
    while rep_rx.try_recv().is_ok() {}
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert!(
        rep_rx.try_recv().is_err(),
        "a check ran after the normal 60 s cadence came back"
    );
    cmd_tx.send(Command::Stop).await.expect("stop");
    handle.await.expect("runner");
}
