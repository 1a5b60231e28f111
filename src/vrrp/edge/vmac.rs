//! An instance's VMAC on the host: the macvlan (mode private, the virtual router MAC) made
//! over rtnetlink on the instance's interface, or a previous run's reused or recreated; its
//! sysctls set (over rtnetlink where the kernel takes them, an interface's IPv4 devconf and
//! IPv6 `addr_gen_mode`, so that a read-only `/proc/sys` (systemd's `ProtectKernelTunables`)
//! does not stop them; the others, `all.rp_filter`, IPv6's `disable_ipv6` and `accept_ra`,
//! under `/proc/sys`, logged when refused); brought up; deleted on a clean stop. The
//! decisions are `crate::vrrp::vmac`'s.
//!
//! Private mode is what lets a backup hear the master's adverts: they come from the same
//! MAC as its own VMAC, and a private macvlan takes such frames for itself (a bridge-mode
//! one would take them for its own, looped back).
//!
//! The base interface's ARP sysctls are shared by every VMAC on it: the first instance that
//! needs them saves the values it finds, the last one to stop cleanly puts them back
//! (within this process, as keepalived counts them). After a crash they stay set.
//!
//! A reload starts an instance's successor while the instance stops, on the same VMAC: the
//! setups and removals of this process run one at a time and count the instances on each
//! VMAC, so the one that stops leaves the VMAC to its successor.

use std::collections::BTreeMap;
use std::net::IpAddr;
use tokio::sync::Mutex;

use rtnetlink::packet_core::{DefaultNla, NLA_F_NESTED};
use rtnetlink::packet_route::link::{
    AfSpecInet, AfSpecInet6, AfSpecUnspec, In6AddrGenMode, InfoData, InfoMacVlan, LinkAttribute,
    LinkInfo, LinkMessage, MacVlanMode,
};
use rtnetlink::{Handle, LinkMacVlan, LinkUnspec};

use super::netlink::{self, NetlinkError};
use crate::vrrp::packet::Family;
use crate::vrrp::vmac::{
    base_sysctls, existing, fmt_mac, link_local, rp_filter_moves, vmac_sysctls, Existing, Found,
    Netlink, Sysctl, Vmac,
};

/// Why a VMAC could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum VmacError {
    #[error(
        "vmac {0}: an interface of that name exists and is {1}; lbd does not take it over \
         (delete it, or name another VMAC in use_vmac)"
    )]
    Foreign(String, String),
    #[error("vmac {0}: {1}")]
    Netlink(String, NetlinkError),
}

/// What the VMACs of this process share.
struct Shared {
    /// VMAC → the instances using it.
    users: BTreeMap<String, usize>,
    /// Base interface → (VMACs using it, the values its ARP sysctls had before the first).
    bases: BTreeMap<String, (usize, Vec<Sysctl>)>,
}

/// Held by every setup and removal for its whole length.
static SHARED: Mutex<Shared> = Mutex::const_new(Shared {
    users: BTreeMap::new(),
    bases: BTreeMap::new(),
});

/// Creates (or reuses) `v` on `base` (index `base_index`), sets its sysctls, brings it up
/// and, over IPv6, gives it the instance's link-local source address `src`.
pub async fn set_up(
    handle: &Handle,
    v: &Vmac,
    base: &str,
    base_index: u32,
    src: IpAddr,
) -> Result<(), VmacError> {
    let nl = |e| VmacError::Netlink(v.name.clone(), e);
    let mut shared = SHARED.lock().await;
    let found = netlink::link_message(handle, &v.name).await.map_err(nl)?;
    let facts = found.as_ref().map(found_of);
    match existing(facts.as_ref(), base_index, v.mac) {
        Existing::Create => create(handle, v, base_index).await.map_err(nl)?,
        Existing::Reuse if shared.users.contains_key(&v.name) => {
            tracing::info!(vmac = %v.name, interface = %base,
                "sharing the VMAC with the instance this one replaces")
        }
        Existing::Reuse => {
            tracing::info!(vmac = %v.name, interface = %base, "reusing the VMAC a previous run left")
        }
        Existing::Recreate => {
            tracing::warn!(vmac = %v.name, interface = %base,
                "a macvlan of that name with another MAC or mode: recreating it");
            if let Some(m) = &found {
                delete(handle, m.header.index).await.map_err(nl)?;
            }
            create(handle, v, base_index).await.map_err(nl)?;
        }
        Existing::Foreign(what) => return Err(VmacError::Foreign(v.name.clone(), what)),
    }
    let index = netlink::link(handle, &v.name).await.map_err(nl)?.index;
    if v.family == Family::V4 {
        move_rp_filter(handle).await;
        for s in shared.hold_base(base, v.family) {
            write(handle, &s).await;
        }
    }
    for s in vmac_sysctls(v) {
        write(handle, &s).await;
    }
    let up = LinkUnspec::new_with_index(index).up().build();
    handle
        .link()
        .set(up)
        .execute()
        .await
        .map_err(|e| nl(e.into()))?;
    if let Some((addr, prefix)) = link_local(src) {
        netlink::add_address(handle, index, addr, prefix, None)
            .await
            .map_err(nl)?;
    }
    *shared.users.entry(v.name.clone()).or_insert(0) += 1;
    tracing::info!(vmac = %v.name, mac = %fmt_mac(&v.mac), interface = %base, %index, "vmac up");
    Ok(())
}

/// Deletes `v` (a clean stop) unless another instance of this process uses it and, if it was
/// the last VMAC on `base`, puts the base's ARP sysctls back.
pub async fn remove(handle: &Handle, v: &Vmac, base: &str) {
    let mut shared = SHARED.lock().await;
    let others = match shared.users.get_mut(&v.name) {
        Some(n) if *n > 1 => {
            *n -= 1;
            true
        }
        _ => {
            shared.users.remove(&v.name);
            false
        }
    };
    let found = match others {
        true => {
            tracing::info!(vmac = %v.name, "vmac kept for the instance that replaces this one");
            Ok(None)
        }
        false => netlink::link_message(handle, &v.name).await,
    };
    match found {
        Ok(Some(m)) => match delete(handle, m.header.index).await {
            Ok(()) => tracing::info!(vmac = %v.name, "vmac deleted"),
            Err(e) => tracing::warn!(vmac = %v.name, "vmac deletion failed: {e}"),
        },
        Ok(None) => {}
        Err(e) => tracing::warn!(vmac = %v.name, "vmac lookup failed: {e}"),
    }
    if v.family == Family::V4 {
        for s in shared.release_base(base) {
            write(handle, &s).await;
        }
    }
}

fn found_of(m: &LinkMessage) -> Found {
    let mut f = Found {
        kind: None,
        link: None,
        private: false,
        mac: [0; 6],
    };
    for a in &m.attributes {
        match a {
            LinkAttribute::Link(l) => f.link = Some(*l),
            LinkAttribute::Address(mac) if mac.len() == 6 => f.mac.copy_from_slice(mac),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    match i {
                        LinkInfo::Kind(k) => f.kind = Some(k.to_string()),
                        LinkInfo::Data(InfoData::MacVlan(d)) => {
                            f.private = d
                                .iter()
                                .any(|x| matches!(x, InfoMacVlan::Mode(MacVlanMode::Private)));
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    f
}

async fn create(handle: &Handle, v: &Vmac, base_index: u32) -> Result<(), NetlinkError> {
    let msg = LinkMacVlan::new(&v.name, base_index, MacVlanMode::Private)
        .address(v.mac.to_vec())
        .build();
    handle.link().add(msg).execute().await?;
    Ok(())
}

async fn delete(handle: &Handle, index: u32) -> Result<(), NetlinkError> {
    match handle.link().del(index).execute().await {
        Ok(()) => Ok(()),
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn path(s: &str) -> String {
    format!("/proc/sys/{s}")
}

fn read(p: &str) -> Option<u8> {
    std::fs::read_to_string(path(p)).ok()?.trim().parse().ok()
}

/// `IFLA_INET_CONF` in `IFLA_AF_SPEC`'s `AF_INET` (`linux/if_link.h`).
const IFLA_INET_CONF: u16 = 1;

/// Sets `s` over rtnetlink where it can, else under `/proc/sys`; a refusal is logged (the
/// VMAC works without it, less well).
async fn write(handle: &Handle, s: &Sysctl) {
    let res = match s.netlink() {
        Some((iface, how)) => set_link_conf(handle, iface, how, s.value)
            .await
            .map_err(|e| e.to_string()),
        None => std::fs::write(path(&s.path), s.value.to_string()).map_err(|e| e.to_string()),
    };
    if let Err(e) = res {
        tracing::warn!(sysctl = %s.path, value = s.value, "cannot set: {e}");
    }
}

/// One setting of `iface` in an `RTM_SETLINK`'s `IFLA_AF_SPEC`.
async fn set_link_conf(
    handle: &Handle,
    iface: &str,
    how: Netlink,
    value: u8,
) -> Result<(), NetlinkError> {
    let index = netlink::link(handle, iface).await?.index;
    let af = match how {
        Netlink::Ipv4Conf(id) => {
            // One nested attribute: type IPV4_DEVCONF_*, a u32 value (the crate's request
            // form leaves zeroes out, and 0 is a value lbd sets).
            let mut conf = Vec::with_capacity(8);
            conf.extend_from_slice(&8u16.to_ne_bytes());
            conf.extend_from_slice(&id.to_ne_bytes());
            conf.extend_from_slice(&u32::from(value).to_ne_bytes());
            let nla = DefaultNla::new(IFLA_INET_CONF | NLA_F_NESTED, conf);
            AfSpecUnspec::Inet(vec![AfSpecInet::Other(nla)])
        }
        Netlink::AddrGenMode => {
            AfSpecUnspec::Inet6(vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::from(value))])
        }
    };
    let msg = LinkUnspec::new_with_index(index)
        .append_extra_attribute(LinkAttribute::AfSpecUnspec(vec![af]))
        .build();
    handle.link().set(msg).execute().await?;
    Ok(())
}

/// A non-zero `net.ipv4.conf.all.rp_filter` onto each interface (see `rp_filter_moves`).
async fn move_rp_filter(handle: &Handle) {
    let all = read("net/ipv4/conf/all/rp_filter").unwrap_or(0);
    if all == 0 {
        return;
    }
    let each: Vec<(String, u8)> = std::fs::read_dir(path("net/ipv4/conf"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|d| {
            let n = d.file_name().into_string().ok()?;
            let v = read(&format!("net/ipv4/conf/{n}/rp_filter"))?;
            Some((n, v))
        })
        .collect();
    for s in rp_filter_moves(all, &each) {
        write(handle, &s).await;
    }
    tracing::info!(all,
        "moved net.ipv4.conf.all.rp_filter onto each interface (the same filtering) so that the VMAC can have 0");
}

impl Shared {
    /// Counts one more VMAC on `base`; the settings to write when it is the first (the
    /// values found are kept for [`Shared::release_base`]).
    fn hold_base(&mut self, base: &str, family: Family) -> Vec<Sysctl> {
        if let Some((users, _)) = self.bases.get_mut(base) {
            *users += 1;
            return Vec::new();
        }
        let wanted = base_sysctls(base, family);
        let before: Vec<Sysctl> = wanted
            .iter()
            .filter_map(|s| {
                read(&s.path).map(|value| Sysctl {
                    path: s.path.clone(),
                    value,
                })
            })
            .collect();
        self.bases.insert(base.to_string(), (1, before));
        wanted
    }

    /// Counts one VMAC less on `base`; the values to put back when it was the last.
    fn release_base(&mut self, base: &str) -> Vec<Sysctl> {
        let Some((users, _)) = self.bases.get_mut(base) else {
            return Vec::new();
        };
        *users -= 1;
        if *users > 0 {
            return Vec::new();
        }
        self.bases
            .remove(base)
            .map(|(_, before)| before)
            .unwrap_or_default()
    }
}
