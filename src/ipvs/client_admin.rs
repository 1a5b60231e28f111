//! The IPVS client's smaller commands, each one request and its answer: the version and
//! connection table size, the protocol timeouts, the connection-sync daemons, zeroing the
//! counters and flushing the table (`lbctl` never flushes on its own; tests and `ipvs_bench`
//! do).

use super::attr::{DaemonAttr, IpvsAttr};
use super::client::IpvsClient;
use super::convert::{daemon_attrs, daemon_from_attrs, service_key_attrs};
use super::error::{IpvsError, Target};
use super::message::{IpvsCmd, IpvsMessage};
use super::types::*;

impl IpvsClient {
    /// IPVS version and connection table size.
    pub fn info(&mut self) -> Result<Info, IpvsError> {
        let replies = self.simple(
            IpvsMessage::new(IpvsCmd::GetInfo, vec![]),
            &Target::default(),
        )?;
        let (mut version, mut size) = (None, None);
        for attr in replies.into_iter().flat_map(|r| r.attrs) {
            match attr {
                IpvsAttr::InfoVersion(v) => version = Some(v),
                IpvsAttr::InfoConnTabSize(v) => size = Some(v),
                _ => {}
            }
        }
        match (version, size) {
            (Some(version), Some(conn_tab_size)) => Ok(Info {
                version,
                conn_tab_size,
            }),
            _ => Err(IpvsError::malformed(
                "get ipvs info",
                "version or table size missing",
            )),
        }
    }

    /// Connection timeouts (tcp, tcpfin, udp).
    pub fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        let replies = self.simple(
            IpvsMessage::new(IpvsCmd::GetConfig, vec![]),
            &Target::default(),
        )?;
        let mut t = Timeouts::default();
        for attr in replies.into_iter().flat_map(|r| r.attrs) {
            match attr {
                IpvsAttr::TimeoutTcp(v) => t.tcp = v,
                IpvsAttr::TimeoutTcpFin(v) => t.tcp_fin = v,
                IpvsAttr::TimeoutUdp(v) => t.udp = v,
                _ => {}
            }
        }
        Ok(t)
    }

    /// Sets connection timeouts; a 0 leaves that timeout unchanged.
    pub fn set_timeouts(&mut self, t: Timeouts) -> Result<(), IpvsError> {
        let msg = IpvsMessage::new(
            IpvsCmd::SetConfig,
            vec![
                IpvsAttr::TimeoutTcp(t.tcp),
                IpvsAttr::TimeoutTcpFin(t.tcp_fin),
                IpvsAttr::TimeoutUdp(t.udp),
            ],
        );
        self.simple(msg, &Target::default()).map(drop)
    }

    /// The running sync daemons.
    pub fn daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError> {
        let replies = self.request(
            IpvsMessage::new(IpvsCmd::GetDaemon, vec![]),
            true,
            &Target::default(),
        )?;
        let mut out = Vec::new();
        for attr in replies.into_iter().flat_map(|r| r.attrs) {
            if let IpvsAttr::Daemon(attrs) = attr {
                out.push(
                    daemon_from_attrs(&attrs)
                        .map_err(|e| IpvsError::malformed("get sync daemons", e))?,
                );
            }
        }
        Ok(out)
    }

    /// Starts a connection sync daemon.
    pub fn start_daemon(&mut self, d: &SyncDaemon) -> Result<(), IpvsError> {
        let msg = IpvsMessage::new(IpvsCmd::NewDaemon, vec![IpvsAttr::Daemon(daemon_attrs(d))]);
        self.simple(msg, &Target::default()).map(drop)
    }

    /// Stops the sync daemon of role `state`.
    pub fn stop_daemon(&mut self, state: DaemonState) -> Result<(), IpvsError> {
        let msg = IpvsMessage::new(
            IpvsCmd::DelDaemon,
            vec![IpvsAttr::Daemon(vec![DaemonAttr::State(state.number())])],
        );
        self.simple(msg, &Target::default()).map(drop)
    }

    /// Zeroes the counters of one service, or of all.
    pub fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), IpvsError> {
        let attrs = key
            .map(|k| vec![IpvsAttr::Service(service_key_attrs(k))])
            .unwrap_or_default();
        let target = Target {
            service: key.copied(),
            ..Target::default()
        };
        self.simple(IpvsMessage::new(IpvsCmd::Zero, attrs), &target)
            .map(drop)
    }

    /// Deletes every virtual service and real server.
    pub fn flush(&mut self) -> Result<(), IpvsError> {
        self.simple(IpvsMessage::new(IpvsCmd::Flush, vec![]), &Target::default())
            .map(drop)
    }
}
