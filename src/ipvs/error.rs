//! Typed IPVS errors. Kernel error numbers are turned into words that name the object and
//! the cause, using what the request was about (service, real server, scheduler).

use std::net::IpAddr;

use thiserror::Error;

use super::message::IpvsCmd;
use super::types::{addr_port, ServiceKey};

/// What a request was about, to give a kernel error its meaning.
#[derive(Clone, Debug, Default)]
pub struct Target {
    pub service: Option<ServiceKey>,
    pub dest: Option<(IpAddr, u16)>,
    pub scheduler: Option<String>,
    pub pe_name: Option<String>,
}

/// Everything that can go wrong talking to IPVS.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IpvsError {
    #[error("ipvs is not available in this kernel (no generic netlink family \"IPVS\"; is the ip_vs module loaded?)")]
    NotAvailable,
    #[error("permission denied: CAP_NET_ADMIN needed")]
    PermissionDenied,
    #[error("virtual service {0} already exists")]
    ServiceExists(ServiceKey),
    #[error("virtual service {0} does not exist")]
    NoSuchService(ServiceKey),
    #[error("scheduler '{0}' is not available in this kernel")]
    NoScheduler(String),
    #[error(
        "scheduler '{scheduler}' or persistence engine '{pe}' is not available in this kernel"
    )]
    NoSchedulerOrPe { scheduler: String, pe: String },
    #[error("real server {dest} already exists in virtual service {service}")]
    DestExists { service: ServiceKey, dest: String },
    #[error("real server {dest} does not exist in virtual service {service}")]
    NoSuchDest { service: ServiceKey, dest: String },
    #[error("real server {dest} in virtual service {service}: weight must not be negative and the lower threshold must not exceed the upper one")]
    DestOutOfRange { service: ServiceKey, dest: String },
    #[error("real server {dest} in virtual service {service}: invalid (the address must be a local or unicast-routable address of this director's namespace, and a GUE tunnel needs a port)")]
    InvalidDest { service: ServiceKey, dest: String },
    #[error("{what}: address family not supported by this kernel's ipvs")]
    FamilyNotSupported { what: String },
    #[error("{what}: invalid argument")]
    Invalid { what: String },
    #[error("{what}: {err}")]
    Kernel { what: String, err: std::io::Error },
    #[error("netlink: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed reply to {what}: {reason}")]
    Malformed { what: String, reason: String },
}

impl IpvsError {
    /// The errno name the kernel's refusal stands for (`ENOENT`, `EEXIST`, ...), for the
    /// `error` label of `lbd_netlink_errors_total`; `other` when it was not the kernel's.
    pub fn errno_label(&self) -> &'static str {
        match self {
            IpvsError::PermissionDenied => "EPERM",
            IpvsError::ServiceExists(_) | IpvsError::DestExists { .. } => "EEXIST",
            IpvsError::NoSuchService(_)
            | IpvsError::NoSuchDest { .. }
            | IpvsError::NoScheduler(_)
            | IpvsError::NoSchedulerOrPe { .. } => "ENOENT",
            IpvsError::DestOutOfRange { .. } => "ERANGE",
            IpvsError::InvalidDest { .. } | IpvsError::Invalid { .. } => "EINVAL",
            IpvsError::FamilyNotSupported { .. } => "EAFNOSUPPORT",
            IpvsError::Kernel { err, .. } => match err.raw_os_error() {
                Some(libc::ESRCH) => "ESRCH",
                Some(libc::EBUSY) => "EBUSY",
                Some(libc::ENOMEM) => "ENOMEM",
                _ => "other",
            },
            _ => "other",
        }
    }

    /// The kernel's errno (positive) for `cmd` about `target`, in words.
    pub fn from_kernel(cmd: IpvsCmd, target: &Target, errno: i32) -> Self {
        let what = describe(cmd, target);
        let dest = target
            .dest
            .map(|(a, p)| addr_port(&a, p))
            .unwrap_or_default();
        let service = target.service;
        match (errno, service) {
            (libc::EPERM, _) | (libc::EACCES, _) => IpvsError::PermissionDenied,
            (libc::EEXIST, Some(service)) if target.dest.is_some() => {
                IpvsError::DestExists { service, dest }
            }
            (libc::EEXIST, Some(service)) => IpvsError::ServiceExists(service),
            (libc::ESRCH, Some(service)) => IpvsError::NoSuchService(service),
            (libc::ENOENT, Some(service)) if target.dest.is_some() => {
                IpvsError::NoSuchDest { service, dest }
            }
            (libc::ENOENT, _) if target.scheduler.is_some() => {
                let scheduler = target.scheduler.clone().unwrap_or_default();
                match &target.pe_name {
                    Some(pe) => IpvsError::NoSchedulerOrPe {
                        scheduler,
                        pe: pe.clone(),
                    },
                    None => IpvsError::NoScheduler(scheduler),
                }
            }
            (libc::ERANGE, Some(service)) if target.dest.is_some() => {
                IpvsError::DestOutOfRange { service, dest }
            }
            (libc::EINVAL, Some(service)) if cmd == IpvsCmd::NewDest => {
                IpvsError::InvalidDest { service, dest }
            }
            (libc::EAFNOSUPPORT, _) => IpvsError::FamilyNotSupported { what },
            (libc::EINVAL, _) => IpvsError::Invalid { what },
            (e, _) => IpvsError::Kernel {
                what,
                err: std::io::Error::from_raw_os_error(e),
            },
        }
    }

    /// A reply that does not parse or does not fit the request.
    pub fn malformed(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        IpvsError::Malformed {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

/// `add virtual service tcp 192.0.2.10:80`, `delete real server ... from ...`.
pub fn describe(cmd: IpvsCmd, t: &Target) -> String {
    let svc = t
        .service
        .map(|s| format!("virtual service {s}"))
        .unwrap_or_default();
    let dest = t
        .dest
        .map(|(a, p)| format!("real server {}", addr_port(&a, p)))
        .unwrap_or_default();
    match cmd {
        IpvsCmd::NewService => format!("add {svc}"),
        IpvsCmd::SetService => format!("edit {svc}"),
        IpvsCmd::DelService => format!("delete {svc}"),
        IpvsCmd::GetService => format!("get {svc}").trim_end().to_string(),
        IpvsCmd::NewDest => format!("add {dest} to {svc}"),
        IpvsCmd::SetDest => format!("edit {dest} of {svc}"),
        IpvsCmd::DelDest => format!("delete {dest} from {svc}"),
        IpvsCmd::GetDest => format!("list real servers of {svc}"),
        IpvsCmd::NewDaemon => "start sync daemon".into(),
        IpvsCmd::DelDaemon => "stop sync daemon".into(),
        IpvsCmd::GetDaemon => "get sync daemons".into(),
        IpvsCmd::SetConfig => "set timeouts".into(),
        IpvsCmd::GetConfig => "get timeouts".into(),
        IpvsCmd::GetInfo | IpvsCmd::SetInfo => "get ipvs info".into(),
        IpvsCmd::Zero => format!("zero counters {svc}").trim_end().to_string(),
        IpvsCmd::Flush => "flush".into(),
        IpvsCmd::Other(c) => format!("ipvs command {c}"),
    }
}
