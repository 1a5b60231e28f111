//! `lbd`, the director daemon.
//!
//! For now it only has the hidden `vrrp` subcommand, which runs one VRRP instance as its own
//! process (tests and benchmarks use it): `lbd vrrp --config instance.yaml` or flags.
//! SIGTERM or SIGINT stops it cleanly (priority-0 advert, VIPs removed, `stop` hooks).

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use lbd::vrrp::config::{parse_duration, GarpConfig, NotifyHook};
use lbd::vrrp::{self, InstanceConfig, NoSyncDaemon, Track, TrackTarget, Vip};

#[derive(Parser)]
#[command(name = "lbd", version, about = "LVS director daemon")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run one VRRP instance in the foreground (for tests).
    #[command(hide = true)]
    Vrrp(VrrpArgs),
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
    /// e.g. 100ms, 1s.
    #[arg(long, default_value = "1s", value_parser = duration_arg)]
    advert_interval: Duration,
    #[arg(long)]
    nopreempt: bool,
    #[arg(long, default_value = "0s", value_parser = duration_arg)]
    preempt_delay: Duration,
    /// ADDR[/PREFIX][@INTERFACE], repeatable.
    #[arg(long, required_unless_present = "config")]
    vip: Vec<Vip>,
    /// Send adverts to this peer instead of multicast, repeatable.
    #[arg(long)]
    unicast_peer: Vec<IpAddr>,
    /// A program run (with LBD_VRRP_* in its environment) on every transition, repeatable.
    #[arg(long)]
    notify: Vec<String>,
    /// INTERFACE:WEIGHT: lower the priority by WEIGHT while INTERFACE is down, repeatable.
    #[arg(long, value_parser = track_arg)]
    track_interface: Vec<Track>,
    /// Gratuitous ARPs sent on becoming master.
    #[arg(long, default_value_t = 5)]
    garp_count: u32,
}

fn duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

fn track_arg(s: &str) -> Result<Track, String> {
    let (name, weight) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("expected INTERFACE:WEIGHT, not {s:?}"))?;
    let weight = weight
        .parse::<u8>()
        .map_err(|_| format!("bad weight in {s:?}: expected 0-255"))?;
    Ok(Track {
        target: TrackTarget::Interface(name.to_string()),
        weight,
    })
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
        priority: args.priority,
        advert_interval: args.advert_interval,
        preempt: !args.nopreempt,
        preempt_delay: args.preempt_delay,
        vips: args.vip,
        unicast_peers: args.unicast_peer,
        track: args.track_interface,
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
    })
}

async fn run_vrrp(cfg: InstanceConfig) -> Result<(), String> {
    let (instance, control) =
        vrrp::run_instance(cfg, Arc::new(NoSyncDaemon)).map_err(|e| e.to_string())?;
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

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let Some(Command::Vrrp(args)) = cli.command else {
        eprintln!("lbd: the daemon is not implemented yet");
        return ExitCode::from(1);
    };
    let cfg = match load(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lbd vrrp: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lbd: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run_vrrp(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lbd vrrp: {e}");
            ExitCode::from(1)
        }
    }
}
