//! The IPVS socket client: the only place that does netlink I/O for IPVS.
//!
//! It resolves the "IPVS" generic netlink family through nlctrl, sends requests, reads ACKs,
//! errors and multipart dumps, and applies batches of operations pipelined: many requests go
//! back to back in one `sendmsg`, the kernel handles them in order and acknowledges each one,
//! and the acknowledgements are matched to operations by sequence number.

use std::os::fd::AsRawFd;
use std::time::Duration;

use netlink_packet_core::{NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::GenlMessage;
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};
use serde::Serialize;

use super::attr::IpvsAttr;
use super::constants::IPVS_GENL_NAME;
use super::convert::{dest_from_attrs, service_from_attrs, service_key_attrs};
use super::error::{describe, IpvsError, Target};
use super::message::{IpvsCmd, IpvsMessage};
use super::ops::Op;
use super::types::*;
use super::wire::{encode, encode_request, parse_message, split_messages};

/// Requests sent per `sendmsg` before their acknowledgements are read back.
const DEFAULT_WINDOW: usize = 256;
/// Receive buffer asked for, so that a window's acknowledgements always fit.
const RCVBUF: usize = 8 << 20;
/// How long to wait for the kernel before giving up.
const RECV_TIMEOUT: Duration = Duration::from_secs(30);

/// A failed operation of a batch.
#[derive(Debug)]
pub struct OpFailure {
    /// Position of the operation in the batch.
    pub index: usize,
    pub op: Op,
    pub error: IpvsError,
}

/// What `IpvsClient::apply` did.
#[derive(Debug, Default)]
pub struct ApplyReport {
    /// Operations sent (every one is acknowledged, successfully or not).
    pub sent: usize,
    /// `sendmsg` calls used.
    pub sendmsgs: usize,
    /// Operations the kernel refused, in batch order. The others were applied.
    pub failures: Vec<OpFailure>,
}

impl ApplyReport {
    /// Whether every operation was applied.
    pub fn is_ok(&self) -> bool {
        self.failures.is_empty()
    }

    /// The first failure as an error, if any.
    pub fn into_result(mut self) -> Result<usize, IpvsError> {
        if self.failures.is_empty() {
            Ok(self.sent)
        } else {
            Err(self.failures.remove(0).error)
        }
    }
}

/// Counters of what the client sent, for tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClientCounters {
    /// Mutating requests (service/dest add/edit/delete, config, daemon, zero, flush).
    pub mutating: u64,
    /// Read requests (dumps and gets).
    pub reads: u64,
}

/// A connected IPVS client.
pub struct IpvsClient {
    sock: Socket,
    family: u16,
    seq: u32,
    rx: Vec<u8>,
    window: usize,
    counters: ClientCounters,
    recording: Option<Vec<Captured>>,
}

/// A datagram the client sent or received, kept while recording (for byte fixtures).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Captured {
    Sent(Vec<u8>),
    Received(Vec<u8>),
}

impl IpvsClient {
    /// Opens a generic netlink socket in the caller's network namespace and resolves the
    /// IPVS family id.
    pub fn connect() -> Result<Self, IpvsError> {
        let mut sock = Socket::new(NETLINK_GENERIC)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        // Acks without a copy of the request: smaller, so more fit in the buffer.
        let _ = sock.set_cap_ack(true);
        set_rcvbuf(&sock, RCVBUF);
        set_rcvtimeo(&sock, RECV_TIMEOUT)?;
        let mut client = IpvsClient {
            sock,
            family: 0,
            seq: 0,
            rx: Vec::with_capacity(1 << 20),
            window: DEFAULT_WINDOW,
            counters: ClientCounters::default(),
            recording: None,
        };
        client.family = client.resolve_family()?;
        Ok(client)
    }

    /// The family id the kernel assigned to IPVS.
    pub fn family_id(&self) -> u16 {
        self.family
    }

    /// What the client has sent so far.
    pub fn counters(&self) -> ClientCounters {
        self.counters
    }

    /// Requests per `sendmsg` in `apply` (at least 1).
    pub fn set_window(&mut self, window: usize) {
        self.window = window.max(1);
    }

    /// Starts keeping a copy of every datagram sent and received.
    pub fn start_recording(&mut self) {
        self.recording = Some(Vec::new());
    }

    /// The datagrams recorded since `start_recording` (recording goes on).
    pub fn take_recording(&mut self) -> Vec<Captured> {
        self.recording
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn send(&mut self, buf: &[u8]) -> Result<(), IpvsError> {
        if let Some(r) = self.recording.as_mut() {
            r.push(Captured::Sent(buf.to_vec()));
        }
        self.sock.send(buf, 0)?;
        Ok(())
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn recv(&mut self) -> Result<(), IpvsError> {
        self.rx.clear();
        match self.sock.recv(&mut self.rx, 0) {
            Ok(_) => {
                if let Some(r) = self.recording.as_mut() {
                    r.push(Captured::Received(self.rx.clone()));
                }
                Ok(())
            }
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Err(IpvsError::Io(
                std::io::Error::new(e.kind(), "timed out waiting for the kernel's reply"),
            )),
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => Err(IpvsError::Io(
                std::io::Error::new(e.kind(), "replies lost: netlink receive buffer overrun"),
            )),
            Err(e) => Err(IpvsError::Io(e)),
        }
    }

    fn resolve_family(&mut self) -> Result<u16, IpvsError> {
        let seq = self.next_seq();
        let ctrl = GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(IPVS_GENL_NAME.to_string())],
        };
        let buf = encode(
            GenlMessage::from_payload(ctrl),
            NLM_F_REQUEST | NLM_F_ACK,
            seq,
        );
        self.send(&buf)?;
        let mut family = None;
        loop {
            self.recv()?;
            let rx = std::mem::take(&mut self.rx);
            let parts = split_messages(&rx).map_err(|e| IpvsError::malformed("nlctrl", e));
            let mut done = false;
            for part in parts? {
                let msg =
                    netlink_packet_core::NetlinkMessage::<GenlMessage<GenlCtrl>>::deserialize(part)
                        .map_err(|e| IpvsError::malformed("nlctrl get family", e))?;
                if msg.header.sequence_number != seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::InnerMessage(genl) => {
                        for nla in genl.payload.nlas {
                            if let GenlCtrlAttrs::FamilyId(id) = nla {
                                family = Some(id);
                            }
                        }
                    }
                    NetlinkPayload::Error(e) => match e.code {
                        None => done = true,
                        Some(c) if -c.get() == libc::ENOENT => return Err(IpvsError::NotAvailable),
                        Some(c) => {
                            return Err(IpvsError::Kernel {
                                what: "resolve generic netlink family IPVS".into(),
                                err: std::io::Error::from_raw_os_error(-c.get()),
                            })
                        }
                    },
                    _ => {}
                }
            }
            self.rx = rx;
            if done {
                break;
            }
        }
        family.ok_or_else(|| IpvsError::malformed("nlctrl get family", "no family id"))
    }

    /// Sends one request and collects its reply messages: until NLMSG_DONE for a dump,
    /// until the ACK otherwise.
    pub(super) fn request(
        &mut self,
        msg: IpvsMessage,
        dump: bool,
        target: &Target,
    ) -> Result<Vec<IpvsMessage>, IpvsError> {
        let mut out = Vec::new();
        self.request_each(msg, dump, target, |m| {
            out.push(m);
            Ok(())
        })?;
        Ok(out)
    }

    /// Sends one request and hands each reply to `each` as it is parsed, so that a dump of
    /// thousands of real servers is never held as messages all at once. After an error from
    /// `each` the rest of the reply is still read (and dropped) before the error is returned.
    fn request_each(
        &mut self,
        msg: IpvsMessage,
        dump: bool,
        target: &Target,
        mut each: impl FnMut(IpvsMessage) -> Result<(), IpvsError>,
    ) -> Result<(), IpvsError> {
        let cmd = msg.cmd;
        let seq = self.next_seq();
        let flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { NLM_F_ACK };
        let buf = encode_request(msg, self.family, flags, seq);
        let read = matches!(
            cmd,
            IpvsCmd::GetService
                | IpvsCmd::GetDest
                | IpvsCmd::GetDaemon
                | IpvsCmd::GetConfig
                | IpvsCmd::GetInfo
        );
        if read {
            self.counters.reads += 1;
        } else {
            self.counters.mutating += 1;
        }
        self.send(&buf)?;
        let what = || describe(cmd, target);
        let mut failed = None;
        loop {
            self.recv()?;
            let rx = std::mem::take(&mut self.rx);
            let mut finished = None;
            {
                let parts = split_messages(&rx).map_err(|e| IpvsError::malformed(what(), e))?;
                for part in parts {
                    let msg = parse_message(part).map_err(|e| IpvsError::malformed(what(), e))?;
                    if msg.header.sequence_number != seq {
                        continue;
                    }
                    match msg.payload {
                        NetlinkPayload::InnerMessage(genl) => {
                            if msg.header.message_type != self.family {
                                return Err(IpvsError::malformed(
                                    what(),
                                    format!("message type {}", msg.header.message_type),
                                ));
                            }
                            if failed.is_none() {
                                failed = each(genl.payload).err();
                            }
                        }
                        NetlinkPayload::Error(e) => {
                            finished = Some(match e.code {
                                None => Ok(()),
                                Some(c) => Err(IpvsError::from_kernel(cmd, target, -c.get())),
                            });
                        }
                        NetlinkPayload::Done(d) => {
                            finished = Some(if d.code == 0 {
                                Ok(())
                            } else {
                                Err(IpvsError::from_kernel(cmd, target, d.code.abs()))
                            });
                        }
                        _ => {}
                    }
                }
            }
            self.rx = rx;
            if let Some(result) = finished {
                return result.and(failed.map_or(Ok(()), Err));
            }
        }
    }

    /// The virtual services, without their real servers.
    pub fn services(&mut self) -> Result<Vec<(Service, Stats)>, IpvsError> {
        let target = Target::default();
        let replies = self.request(IpvsMessage::new(IpvsCmd::GetService, vec![]), true, &target)?;
        let mut out = Vec::with_capacity(replies.len());
        for reply in replies {
            for attr in reply.attrs {
                if let IpvsAttr::Service(attrs) = attr {
                    out.push(
                        service_from_attrs(&attrs)
                            .map_err(|e| IpvsError::malformed("list virtual services", e))?,
                    );
                }
            }
        }
        Ok(out)
    }

    /// The real servers of one virtual service (GET_DEST is dump-only).
    pub fn dests(&mut self, key: &ServiceKey) -> Result<Vec<DestEntry>, IpvsError> {
        let target = Target {
            service: Some(*key),
            ..Target::default()
        };
        let msg = IpvsMessage::new(
            IpvsCmd::GetDest,
            vec![IpvsAttr::Service(service_key_attrs(key))],
        );
        let mut out = Vec::new();
        self.request_each(msg, true, &target, |reply| {
            for attr in reply.attrs {
                if let IpvsAttr::Dest(attrs) = attr {
                    out.push(dest_from_attrs(key.family(), &attrs).map_err(|e| {
                        IpvsError::malformed(describe(IpvsCmd::GetDest, &target), e)
                    })?);
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The whole table: every virtual service with its real servers, in kernel order.
    pub fn dump(&mut self) -> Result<Vec<ServiceEntry>, IpvsError> {
        let services = self.services()?;
        let mut out = Vec::with_capacity(services.len());
        for (service, stats) in services {
            let dests = self.dests(&service.key)?;
            out.push(ServiceEntry {
                service,
                stats,
                dests,
            });
        }
        Ok(out)
    }

    /// One virtual service, or `None` if it does not exist.
    pub fn service(&mut self, key: &ServiceKey) -> Result<Option<(Service, Stats)>, IpvsError> {
        let target = Target {
            service: Some(*key),
            ..Target::default()
        };
        let msg = IpvsMessage::new(
            IpvsCmd::GetService,
            vec![IpvsAttr::Service(service_key_attrs(key))],
        );
        let replies = match self.request(msg, false, &target) {
            Ok(r) => r,
            Err(IpvsError::NoSuchService(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        for reply in replies {
            for attr in reply.attrs {
                if let IpvsAttr::Service(attrs) = attr {
                    return service_from_attrs(&attrs).map(Some).map_err(|e| {
                        IpvsError::malformed(describe(IpvsCmd::GetService, &target), e)
                    });
                }
            }
        }
        Err(IpvsError::malformed(
            describe(IpvsCmd::GetService, &target),
            "no service in reply",
        ))
    }

    /// Applies `ops` in order, pipelined: up to `window` requests per `sendmsg`, each
    /// acknowledged and matched by sequence number. A refused operation does not stop the
    /// batch (the kernel handles each request independently); it is listed in the report.
    pub fn apply(&mut self, ops: &[Op]) -> Result<ApplyReport, IpvsError> {
        let mut report = ApplyReport::default();
        let mut base = 0usize;
        for chunk in ops.chunks(self.window) {
            let first_seq = self.seq.wrapping_add(1);
            let mut buf = Vec::with_capacity(chunk.len() * 160);
            for op in chunk {
                let seq = self.next_seq();
                buf.extend_from_slice(&encode_request(
                    op.to_message(),
                    self.family,
                    NLM_F_REQUEST | NLM_F_ACK,
                    seq,
                ));
            }
            self.send(&buf)?;
            report.sendmsgs += 1;
            self.counters.mutating += chunk.len() as u64;
            let mut acked = vec![false; chunk.len()];
            let mut left = chunk.len();
            while left > 0 {
                self.recv()?;
                let rx = std::mem::take(&mut self.rx);
                let parts = split_messages(&rx).map_err(|e| IpvsError::malformed("batch", e))?;
                for part in parts {
                    let msg = parse_message(part).map_err(|e| IpvsError::malformed("batch", e))?;
                    let NetlinkPayload::Error(e) = msg.payload else {
                        continue;
                    };
                    let i = msg.header.sequence_number.wrapping_sub(first_seq) as usize;
                    if i >= chunk.len() || acked[i] {
                        continue;
                    }
                    acked[i] = true;
                    left -= 1;
                    if let Some(code) = e.code {
                        let op = &chunk[i];
                        let m = op.to_message();
                        report.failures.push(OpFailure {
                            index: base + i,
                            op: op.clone(),
                            error: IpvsError::from_kernel(m.cmd, &target_of(op), -code.get()),
                        });
                    }
                }
                self.rx = rx;
            }
            report.sent += chunk.len();
            base += chunk.len();
        }
        report.failures.sort_by_key(|f| f.index);
        Ok(report)
    }

    pub(super) fn simple(
        &mut self,
        msg: IpvsMessage,
        target: &Target,
    ) -> Result<Vec<IpvsMessage>, IpvsError> {
        self.request(msg, false, target)
    }
}

/// What an operation is about, for its error message.
pub fn target_of(op: &Op) -> Target {
    let (scheduler, pe_name) = match op {
        Op::AddService(s) | Op::EditService(s) => (Some(s.scheduler.clone()), s.pe_name.clone()),
        _ => (None, None),
    };
    Target {
        service: Some(*op.service_key()),
        dest: op.dest_addr(),
        scheduler,
        pe_name,
    }
}

fn set_rcvbuf(sock: &Socket, size: usize) {
    let v = size as libc::c_int;
    let p = &v as *const libc::c_int as *const libc::c_void;
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: plain setsockopt on our own fd with a valid int pointer and its length.
    let forced = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            p,
            len,
        )
    };
    if forced != 0 {
        let _ = sock.set_rx_buf_sz(size);
    }
}

fn set_rcvtimeo(sock: &Socket, d: Duration) -> Result<(), IpvsError> {
    let tv = libc::timeval {
        tv_sec: d.as_secs() as libc::time_t,
        tv_usec: 0,
    };
    let p = &tv as *const libc::timeval as *const libc::c_void;
    let len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
    // SAFETY: setsockopt on our own fd with a valid timeval pointer and its length.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            p,
            len,
        )
    };
    if r != 0 {
        return Err(IpvsError::Io(std::io::Error::last_os_error()));
    }
    Ok(())
}
