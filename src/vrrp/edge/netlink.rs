//! rtnetlink at the VRRP edge: interface facts (index, MAC, addresses, state) and adding or
//! removing the VIPs, with the `rtnetlink` crate (the VMAC's links: `vmac.rs`).

use std::net::IpAddr;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags, AddressHeaderFlags};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage, State as OperState};
use rtnetlink::Handle;

/// Errors of the rtnetlink edge.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("interface {0} not found")]
    NoInterface(String),
    #[error("interface {0} has no usable {1} address")]
    NoAddress(String, &'static str),
    #[error("rtnetlink: {0}")]
    Rtnetlink(#[from] rtnetlink::Error),
    #[error("rtnetlink connection: {0}")]
    Io(#[from] std::io::Error),
}

/// What the edge needs to know about an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    pub mac: [u8; 6],
    /// Administratively up and operationally up (or unknown, as for dummy links).
    pub up: bool,
}

/// One address on an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfAddr {
    pub addr: IpAddr,
    pub prefix: u8,
    /// Still doing duplicate address detection (unusable as a source).
    pub tentative: bool,
}

/// Opens an rtnetlink connection (its driver task is spawned on the current runtime).
pub fn connect() -> Result<Handle, NetlinkError> {
    let (conn, handle, _) = rtnetlink::new_connection()?;
    tokio::spawn(conn);
    Ok(handle)
}

/// The link message of `name`, if there is such an interface.
pub async fn link_message(
    handle: &Handle,
    name: &str,
) -> Result<Option<LinkMessage>, NetlinkError> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(m) => Ok(m),
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Index, MAC and state of `name`.
pub async fn link(handle: &Handle, name: &str) -> Result<LinkInfo, NetlinkError> {
    let Some(msg) = link_message(handle, name).await? else {
        return Err(NetlinkError::NoInterface(name.to_string()));
    };
    let mut mac = [0u8; 6];
    let mut oper_ok = true;
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::Address(a) if a.len() == 6 => mac.copy_from_slice(a),
            LinkAttribute::OperState(s) => {
                oper_ok = matches!(s, OperState::Up | OperState::Unknown);
            }
            _ => {}
        }
    }
    let up = msg.header.flags.contains(LinkFlags::Up) && oper_ok;
    Ok(LinkInfo {
        index: msg.header.index,
        mac,
        up,
    })
}

/// The addresses on interface `index`.
pub async fn addresses(handle: &Handle, index: u32) -> Result<Vec<IfAddr>, NetlinkError> {
    let mut out = Vec::new();
    let mut msgs = handle
        .address()
        .get()
        .set_link_index_filter(index)
        .execute();
    while let Some(m) = msgs.try_next().await? {
        if m.header.index != index {
            continue;
        }
        let mut local = None;
        let mut address = None;
        let mut tentative = m.header.flags.contains(AddressHeaderFlags::Tentative);
        for a in &m.attributes {
            match a {
                AddressAttribute::Local(ip) => local = Some(*ip),
                AddressAttribute::Address(ip) => address = Some(*ip),
                AddressAttribute::Flags(f) => {
                    tentative = f.intersects(AddressFlags::Tentative | AddressFlags::Dadfailed)
                }
                _ => {}
            }
        }
        if let Some(addr) = local.or(address) {
            out.push(IfAddr {
                addr,
                prefix: m.header.prefix_len,
                tentative,
            });
        }
    }
    Ok(out)
}

/// Adds `addr/prefix` to interface `index` (IPv6 without duplicate address detection, so the
/// VIP is usable at once), with `label` for IPv4. Already present is fine.
pub async fn add_address(
    handle: &Handle,
    index: u32,
    addr: IpAddr,
    prefix: u8,
    label: Option<&str>,
) -> Result<(), NetlinkError> {
    let mut req = handle.address().add(index, addr, prefix);
    if let (Some(l), true) = (label, addr.is_ipv4()) {
        let msg = req.message_mut();
        msg.attributes
            .retain(|a| !matches!(a, AddressAttribute::Label(_)));
        msg.attributes.push(AddressAttribute::Label(l.to_string()));
    }
    if addr.is_ipv6() {
        let msg = req.message_mut();
        msg.header.flags |= AddressHeaderFlags::Nodad;
        msg.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    match req.execute().await {
        Ok(()) => Ok(()),
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::EEXIST => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Removes `addr` from interface `index`; returns whether it was there.
pub async fn del_address(handle: &Handle, index: u32, addr: IpAddr) -> Result<bool, NetlinkError> {
    let mut msgs = handle
        .address()
        .get()
        .set_link_index_filter(index)
        .set_address_filter(addr)
        .execute();
    let mut found = Vec::new();
    while let Some(m) = msgs.try_next().await? {
        if m.header.index == index {
            found.push(m);
        }
    }
    let present = !found.is_empty();
    for m in found {
        match handle.address().del(m).execute().await {
            Ok(()) => {}
            Err(rtnetlink::Error::NetlinkError(e))
                if e.raw_code() == -libc::EADDRNOTAVAIL || e.raw_code() == -libc::ENOENT => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(present)
}
