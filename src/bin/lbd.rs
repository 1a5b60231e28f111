//! `lbd`, the director daemon: `lbd -c DIR [--state-dir DIR] [--log-format text|json]`.
//! Exit status: 0 after a clean stop (SIGTERM/SIGINT; the IPVS table is left as it is),
//! 2 for configuration errors (every diagnostic printed as `FILE:LINE:COL: message`),
//! 1 for anything else that stops the start (corrupt state file, no IPVS, no permission).
//!
//! The hidden `vrrp` subcommand runs one VRRP instance as its own process (tests and
//! benchmarks use it): `lbd vrrp --config instance.yaml` or flags. SIGTERM or SIGINT stops it
//! cleanly (priority-0 advert, VIPs removed, `stop` hooks).

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use lbd::daemon::{control_channel, Daemon, Options, Signals, StartError};
use lbd::vrrp::config::{GarpConfig, NotifyHook};
use lbd::vrrp::{self, InstanceConfig, NoSyncDaemon, Track, TrackTarget, Vip};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// `journal` when standard error is systemd's journal stream (`JOURNAL_STREAM`), else `text`.
    Auto,
    Text,
    Json,
    /// Native journal entries: PRIORITY from the level, the event's fields as journal fields.
    Journal,
}

/// The LVS director daemon: keeps the kernel's IPVS table equal to the configuration and the
/// health of the real servers.
#[derive(Parser)]
#[command(name = "lbd", version, about = "LVS director daemon")]
struct Cli {
    /// Configuration directory (director.yaml, hostgroups/, services/).
    #[arg(short = 'c', long = "config", default_value = lbd::config::DEFAULT_DIR)]
    config: PathBuf,
    /// State directory (overrides director.yaml's `state_dir`).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Log format: lines on standard error (text, json) or native journal entries.
    #[arg(long, value_enum, default_value_t = LogFormat::Auto)]
    log_format: LogFormat,
    /// Record every input of the director and the effects it produced into FILE (JSON lines,
    /// for debugging: a test can replay it against the core, see ARCHITECTURE.md).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run one VRRP instance in the foreground (for tests).
    #[command(hide = true)]
    Vrrp(Box<VrrpArgs>),
    /// Print the manual page lbd(8) in roff (the Debian package ships it).
    #[command(hide = true)]
    Man,
}

/// lbd(8)'s sections beyond the options: signals, files, see also.
const MAN_EXTRA: &str = r#".SH SIGNALS
.TP
\fBSIGHUP\fR
Re-read the configuration (as \fBlbctl reload\fR); an invalid one is refused and the running one stays.
.TP
\fBSIGTERM\fR, \fBSIGINT\fR
Stop: VRRP instances send their priority-0 advert and release their VIPs, the IPVS table is left as it is (never flushed), the state is saved.
.SH FILES
.TP
\fI/etc/lbd/director.yaml\fR, \fI/etc/lbd/hostgroups/*.yaml\fR, \fI/etc/lbd/services/*.yaml\fR
The configuration (lbd.yaml(5)).
.TP
\fI/var/lib/lbd/state.json\fR, \fI/var/lib/lbd/events.jsonl\fR
Node health, operator overrides and the event history, kept across restarts.
.TP
\fI/run/lbd/control.sock\fR
The control socket \fBlbctl\fR(1) talks to.
.TP
\fI/usr/lib/lbd/monitors\fR, \fI/usr/lib/lbd/alerts\fR
External monitor and alert scripts (Mon's conventions).
.SH "SEE ALSO"
\fBlbctl\fR(1), \fBlbd.yaml\fR(5), \fBipvsadm\fR(8), \fBsystemd.service\fR(5)
"#;

/// Writes lbd(8): clap_mangen's sections from the command definition, then [`MAN_EXTRA`].
fn man_page(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    let man = clap_mangen::Man::new(Cli::command()).section("8");
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_version_section(out)?;
    out.write_all(MAN_EXTRA.as_bytes())
}

#[derive(Args)]
struct VrrpArgs {
    /// A YAML or JSON file holding one instance (`vrrp::InstanceConfig`).
    #[arg(long, conflicts_with_all = ["interface", "vrid", "vip"])]
    config: Option<PathBuf>,
    #[arg(long, default_value = "vrrp")]
    name: String,
    #[arg(long, required_unless_present = "config")]
    interface: Option<String>,
    #[arg(long, required_unless_present = "config")]
    vrid: Option<u8>,
    #[arg(long, default_value_t = 100)]
    priority: u8,
    /// e.g. 100ms, 1s, 1.5s.
    #[arg(long, default_value = "1s", value_parser = lbd::duration::arg)]
    advert_interval: Duration,
    #[arg(long)]
    nopreempt: bool,
    #[arg(long, default_value = "0s", value_parser = lbd::duration::arg)]
    preempt_delay: Duration,
    /// ADDR[/PREFIX][@INTERFACE], repeatable.
    #[arg(long, required_unless_present = "config")]
    vip: Vec<Vip>,
    /// Send adverts to this peer instead of multicast, repeatable; adverts from others are
    /// dropped.
    #[arg(long)]
    unicast_peer: Vec<IpAddr>,
    /// The adverts' source address (default: the interface's first non-VIP IPv4 address, or
    /// its IPv6 link-local one).
    #[arg(long)]
    unicast_src_ip: Option<IpAddr>,
    /// A program run on every transition (with keepalived's INSTANCE NAME STATE PRIORITY
    /// arguments and LBD_VRRP_* in its environment), repeatable.
    #[arg(long)]
    notify: Vec<String>,
    /// INTERFACE[:WEIGHT], keepalived's track_interface, repeatable: WEIGHT -253..253 is added
    /// to the priority while INTERFACE is up (positive) or while it is down (negative); without
    /// one (or 0) the instance is in fault while INTERFACE is down.
    #[arg(long, value_parser = track_arg)]
    track_interface: Vec<Track>,
    /// Gratuitous ARPs sent on becoming master.
    #[arg(long, default_value_t = 5)]
    garp_count: u32,
    /// keepalived's use_vmac: the VIPs (and adverts) on a macvlan with the virtual router MAC,
    /// named NAME (default vrrp.VRID).
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "")]
    use_vmac: Option<String>,
    /// keepalived's vmac_xmit_base: adverts sent and received on --interface, not the VMAC.
    #[arg(long)]
    vmac_xmit_base: bool,
    /// Keep the instance's status (role, priority, drops...) in this JSON file.
    #[arg(long)]
    status_file: Option<PathBuf>,
}

fn track_arg(s: &str) -> Result<Track, String> {
    let (name, weight) = match s.rsplit_once(':') {
        Some((name, w)) => {
            let w = w
                .parse::<i16>()
                .ok()
                .filter(|w| w.abs() <= vrrp::config::MAX_TRACK_WEIGHT)
                .ok_or_else(|| format!("bad weight in {s:?}: expected -253..253"))?;
            (name, Some(w))
        }
        None => (s, None),
    };
    if name.is_empty() {
        return Err(format!("expected INTERFACE[:WEIGHT], not {s:?}"));
    }
    Ok(Track {
        target: TrackTarget::Interface(name.to_string()),
        weight,
    })
}

/// Rewrites `path` (through a temporary file and a rename) whenever the status changes.
async fn write_status(control: vrrp::Control, path: PathBuf) {
    let tmp = path.with_extension("tmp");
    let mut last = String::new();
    loop {
        if let Some(st) = control.status() {
            let mut v = serde_json::to_value(&st).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("role".into(), st.role().into());
            }
            let text = v.to_string();
            if text != last
                && std::fs::write(&tmp, &text).is_ok()
                && std::fs::rename(&tmp, &path).is_ok()
            {
                last = text;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn load(args: VrrpArgs) -> Result<InstanceConfig, String> {
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        return if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
        } else {
            serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
        };
    }
    Ok(InstanceConfig {
        name: args.name,
        interface: args.interface.unwrap_or_default(),
        vrid: args.vrid.unwrap_or_default(),
        version: 3,
        authentication: None,
        priority: args.priority,
        advert_interval: args.advert_interval,
        preempt: !args.nopreempt,
        preempt_delay: args.preempt_delay,
        lower_prio_no_advert: false,
        vips: args.vip,
        unicast_peers: args.unicast_peer,
        unicast_src_ip: args.unicast_src_ip,
        track: args.track_interface,
        track_scripts: Vec::new(),
        track_files: Vec::new(),
        track_processes: Vec::new(),
        notify: args
            .notify
            .into_iter()
            .map(|c| NotifyHook {
                on: vec![
                    vrrp::NotifyState::Master,
                    vrrp::NotifyState::Backup,
                    vrrp::NotifyState::Fault,
                    vrrp::NotifyState::Stop,
                ],
                command: vec![c],
                timeout: Duration::from_secs(5),
            })
            .collect(),
        garp: GarpConfig {
            count: args.garp_count,
            ..GarpConfig::default()
        },
        use_vmac: args.use_vmac.map(|n| match n.is_empty() {
            true => vrrp::config::UseVmac::Auto,
            false => vrrp::config::UseVmac::Named(n),
        }),
        vmac_xmit_base: args.vmac_xmit_base,
    })
}

async fn run_vrrp(cfg: InstanceConfig, status_file: Option<PathBuf>) -> Result<(), String> {
    let (instance, control) =
        vrrp::run_instance(cfg, Arc::new(NoSyncDaemon)).map_err(|e| e.to_string())?;
    if let Some(path) = status_file {
        tokio::spawn(write_status(control.clone(), path));
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
    let ctl = control.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!("signal received, stopping");
        ctl.shutdown();
    });
    let res = instance.run().await.map_err(|e| e.to_string());
    if let Some(st) = control.status() {
        tracing::info!(drops = ?st.drops, sent = st.adverts_sent,
            accepted = st.adverts_accepted, "final status");
    }
    res
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LBD_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        // The node machines log each (service, node) machine's own start; the daemon logs the
        // node transitions itself.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,lbd::node=warn"));
    let format = match format {
        LogFormat::Auto if stderr_is_journal() => LogFormat::Journal,
        LogFormat::Auto => LogFormat::Text,
        f => f,
    };
    if format == LogFormat::Journal {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        match tracing_journald::layer() {
            Ok(journal) => {
                tracing_subscriber::registry()
                    .with(filter)
                    // Fields under their own names (`journalctl NODE=rs1`), not F_NODE.
                    .with(
                        journal
                            .with_syslog_identifier("lbd".into())
                            .with_field_prefix(None),
                    )
                    .init();
                return;
            }
            Err(e) => eprintln!("lbd: no journal ({e}); logging to standard error"),
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        _ => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
}

/// Whether standard error is the journal's stream: systemd sets `JOURNAL_STREAM=DEV:INODE` to
/// it, and the pair still matching means no one redirected stderr since (sd_journal_stream_fd(3)).
fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(want) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    want.to_str() == Some(&format!("{}:{}", meta.dev(), meta.ino()))
}

fn runtime(multi: bool) -> Result<tokio::runtime::Runtime, ExitCode> {
    let built = if multi {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    built.map_err(|e| {
        eprintln!("lbd: cannot start the runtime: {e}");
        ExitCode::from(1)
    })
}

async fn run_daemon(cli: Cli) -> ExitCode {
    let signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lbd: cannot watch signals: {e}");
            return ExitCode::from(1);
        }
    };
    let kernel = match lbd::ipvs::IpvsClient::connect() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("lbd: {e}");
            return ExitCode::from(1);
        }
    };
    let (handle, inbox) = control_channel();
    let opts = Options {
        config_dir: cli.config.clone(),
        state_dir: cli.state_dir.clone(),
        run_checks: true,
        record: cli.record.clone(),
        exit_after_run: true,
    };
    let daemon = match Daemon::start(opts, Box::new(kernel), handle.events.clone()) {
        Ok(d) => d,
        Err(StartError::Config(e)) => {
            for d in &e.errors {
                eprintln!("{d}");
            }
            eprintln!(
                "lbd: {}: the configuration has {} error(s)",
                cli.config.display(),
                e.errors.len()
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("lbd: {e}");
            return ExitCode::from(1);
        }
    };
    let mut daemon = daemon;
    let director = daemon.director().config().director.clone();
    let metrics = lbd::metrics::Metrics::new(&director.name);
    daemon.set_metrics(metrics.clone());
    let server_handle = lbd::control::server::Handle {
        requests: handle.requests.clone(),
        events: handle.events.clone(),
    };
    // The control socket and the status page serve until the loop ends. Failing to open them
    // is logged, not fatal: the table is kept either way.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let mut servers = Vec::new();
    match lbd::control::server::Server::bind(lbd::control::server::Options::from_config(
        &director.control,
    )) {
        Ok(server) => {
            let h = server_handle.clone();
            let stop = stopped(stop_rx.clone());
            servers.push(tokio::spawn(async move { server.run(h, stop).await }));
        }
        Err(e) => tracing::error!(error = %e, "control socket not available"),
    }
    match lbd::control::http::bind(director.listen).await {
        Ok(listener) => {
            let stop = stopped(stop_rx.clone());
            servers.push(tokio::spawn(lbd::control::http::serve(
                listener,
                server_handle,
                metrics,
                stop,
            )));
        }
        Err(e) => tracing::error!(error = %e, "status page and /metrics not available"),
    }
    let result = daemon.run(inbox, signals, std::future::pending()).await;
    let _ = stop_tx.send(true);
    for s in servers {
        let _ = s.await;
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lbd: {e}");
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    match cli.command {
        Some(Command::Man) => match man_page(&mut std::io::stdout().lock()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("lbd man: {e}");
                ExitCode::from(1)
            }
        },
        Some(Command::Vrrp(args)) => {
            let status_file = args.status_file.clone();
            let cfg = match load(*args) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("lbd vrrp: {e}");
                    return ExitCode::from(2);
                }
            };
            let rt = match runtime(false) {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            match rt.block_on(run_vrrp(cfg, status_file)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("lbd vrrp: {e}");
                    ExitCode::from(1)
                }
            }
        }
        None => {
            lbd::daemon::memory::one_malloc_arena();
            match runtime(true) {
                Ok(rt) => rt.block_on(run_daemon(cli)),
                Err(code) => code,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vrrp(args: &[&str]) -> Result<VrrpArgs, String> {
        let base = [
            "lbd",
            "vrrp",
            "--interface",
            "eth0",
            "--vrid",
            "51",
            "--vip",
            "192.0.2.10",
        ];
        let cli = Cli::try_parse_from(base.iter().chain(args)).map_err(|e| e.to_string())?;
        match cli.command {
            Some(Command::Vrrp(a)) => Ok(*a),
            _ => Err("no vrrp subcommand".into()),
        }
    }

    #[test]
    fn the_manual_page_is_section_8_with_signals_and_files() {
        let mut page = Vec::new();
        man_page(&mut page).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.starts_with(".ie"), "{page}");
        assert!(page.contains(".TH lbd 8"), "{page}");
        for want in [".SH SIGNALS", ".SH FILES", "\\fBSIGHUP\\fR", r"\-\-config"] {
            assert!(page.contains(want), "{want}: {page}");
        }
        // The hidden subcommands stay out of the page.
        assert!(!page.contains("vrrp") && !page.contains(" man"), "{page}");
    }

    #[test]
    fn vrrp_durations_take_the_one_grammar() {
        let a = vrrp(&["--advert-interval", "1.5s", "--preempt-delay", "1m30s"]).expect("parses");
        assert_eq!(a.advert_interval, Duration::from_millis(1500));
        assert_eq!(a.preempt_delay, Duration::from_secs(90));
        let a = vrrp(&[]).expect("defaults");
        assert_eq!(
            (a.advert_interval, a.preempt_delay),
            (Duration::from_secs(1), Duration::ZERO)
        );
        let e = vrrp(&["--advert-interval", "1"]).err().expect("no unit");
        assert!(e.contains("`1` has no unit"), "{e}");
    }
}
