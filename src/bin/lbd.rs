//! `lbd`, the director daemon: `lbd -c DIR [--state-dir DIR] [--log-format text|json]`.
//! Exit status: 0 after a clean stop (SIGTERM/SIGINT; the IPVS table is left as it is),
//! 2 for configuration errors (every diagnostic printed as `FILE:LINE:COL: message`),
//! 1 for anything else that stops the start (corrupt state file, no IPVS, no permission).

use clap::{Parser, ValueEnum};
use lbd::daemon::{control_channel, Daemon, Options, StartError};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// The LVS director daemon: keeps the kernel's IPVS table equal to the configuration and the
/// health of the real servers.
#[derive(Debug, Parser)]
#[command(name = "lbd", version)]
struct Args {
    /// Configuration directory (director.yaml, hostgroups/, services/).
    #[arg(short = 'c', long = "config", default_value = lbd::config::DEFAULT_DIR)]
    config: PathBuf,
    /// State directory (overrides director.yaml's `state_dir`).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Log line format on standard error.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LBD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(false).init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logs(args.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lbd: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let kernel = match lbd::ipvs::IpvsClient::connect() {
            Ok(k) => k,
            Err(e) => {
                eprintln!("lbd: {e}");
                return ExitCode::from(1);
            }
        };
        let (handle, inbox) = control_channel();
        let opts = Options {
            config_dir: args.config.clone(),
            state_dir: args.state_dir.clone(),
            run_checks: true,
        };
        let daemon = match Daemon::start(opts, Box::new(kernel), handle.events.clone()) {
            Ok(d) => d,
            Err(StartError::Config(e)) => {
                for d in &e.errors {
                    eprintln!("{d}");
                }
                eprintln!(
                    "lbd: {}: the configuration has {} error(s)",
                    args.config.display(),
                    e.errors.len()
                );
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("lbd: {e}");
                return ExitCode::from(1);
            }
        };
        // The control socket server (control branch) takes `handle`; until it is wired the
        // handle only keeps the request channel open.
        let _handle = handle;
        match daemon.run(inbox, std::future::pending()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("lbd: {e}");
                ExitCode::from(1)
            }
        }
    })
}
