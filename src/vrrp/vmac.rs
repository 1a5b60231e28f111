//! keepalived's `use_vmac`: the decisions about an instance's VMAC, a macvlan interface on
//! the instance's interface that carries the virtual router MAC (RFC 5798 7.3), so that
//! switches learn that MAC, not a director's own (pure; `edge/vmac.rs` does the I/O).
//!
//! - the MAC: 00-00-5E-00-01-{VRID} (IPv4), 00-00-5E-00-02-{VRID} (IPv6);
//! - the name: the configured one, or keepalived's default `vrrp.{VRID}` (for a second
//!   instance of the same VRID: `vrrp6.{VRID}` over IPv6, then `vrrp1.{VRID}`, `vrrp2.{VRID}`...);
//! - the sysctls keepalived sets so that only the VMAC answers ARP for the VIPs
//!   (`vrrp_if_config.c`): on the VMAC arp_ignore=1 (no replies for the base's addresses),
//!   accept_local=1, rp_filter=0 (adverts arrive on a VMAC without an address while backup),
//!   promote_secondaries=1 and IPv6 off; on the base interface arp_ignore=1 and arp_filter=1
//!   (no replies for the VIPs with its own MAC) and, beyond keepalived, arp_announce=2: the
//!   base's ARP requests (a reply from a VIP to a neighbour the route sends out of the base)
//!   give the base's own address as their sender, not the VIP, whose neighbours would
//!   otherwise learn the base's MAC for it. An IPv6 VMAC gets no generated link-local
//!   address (`addr_gen_mode` none: both routers' would be the same, derived from the same
//!   MAC) and accepts no router advertisements (so it sends no solicitations);
//! - what to do with an interface that already has the VMAC's name (a previous run's, reused
//!   or recreated; anything else is refused).

use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::config::ConfigError;
use super::packet::Family;

/// `use_vmac: true` (the default name) or `use_vmac: NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UseVmac {
    Auto,
    Named(String),
}

impl Serialize for UseVmac {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            UseVmac::Auto => s.serialize_bool(true),
            UseVmac::Named(n) => s.serialize_str(n),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum UseVmacRepr {
    Flag(bool),
    Name(String),
}

impl<'de> Deserialize<'de> for UseVmac {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<UseVmac, D::Error> {
        deserialize_use(d)?.ok_or_else(|| serde::de::Error::custom("use_vmac false is no VMAC"))
    }
}

/// `use_vmac` as serde reads it: `false` is none.
pub fn deserialize_use<'de, D: Deserializer<'de>>(d: D) -> Result<Option<UseVmac>, D::Error> {
    Ok(match UseVmacRepr::deserialize(d)? {
        UseVmacRepr::Flag(false) => None,
        UseVmacRepr::Flag(true) => Some(UseVmac::Auto),
        UseVmacRepr::Name(n) => Some(UseVmac::Named(n)),
    })
}

/// An instance's VMAC as the edge sets it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vmac {
    pub name: String,
    pub mac: [u8; 6],
    pub family: Family,
    /// Adverts are sent and received on the base interface (keepalived's `vmac_xmit_base`).
    pub xmit_base: bool,
}

/// The virtual router MAC address (RFC 5798 7.3, RFC 3768 7.3).
pub fn mac(family: Family, vrid: u8) -> [u8; 6] {
    let f = match family {
        Family::V4 => 0x01,
        Family::V6 => 0x02,
    };
    [0x00, 0x00, 0x5e, 0x00, f, vrid]
}

/// keepalived's default VMAC name for `vrid`: `vrrp.{VRID}` unless `taken`; then over IPv6
/// `vrrp6.{VRID}`, then `vrrp1.{VRID}`, `vrrp2.{VRID}`... (IPv6 skips 6).
pub fn default_name(vrid: u8, family: Family, taken: impl Fn(&str) -> bool) -> String {
    let first = format!("vrrp.{vrid}");
    if !taken(&first) {
        return first;
    }
    let v6 = family == Family::V6;
    let then = v6
        .then_some(6)
        .into_iter()
        .chain((1..).filter(|n| !v6 || *n != 6));
    then.map(|n| format!("vrrp{n}.{vrid}"))
        .find(|n| !taken(n))
        .unwrap_or(first)
}

/// Why the kernel would refuse `name` as an interface name (`dev_valid_name`), if it would.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 15 {
        Some("an interface name has 1 to 15 characters")
    } else if name == "." || name == ".." {
        Some("`.` and `..` are not interface names")
    } else if name
        .bytes()
        .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b < 0x20)
    {
        Some("an interface name has no `/`, `:` or spaces")
    } else {
        None
    }
}

/// The configuration rules of `use_vmac` and `vmac_xmit_base` (the loader reports the same
/// with a file and line).
pub fn check(
    vmac: Option<&Vmac>,
    xmit_base: bool,
    interface: &str,
    unicast: bool,
) -> Result<(), ConfigError> {
    let Some(v) = vmac else {
        return match xmit_base {
            true => Err(ConfigError::XmitBaseWithoutVmac),
            false => Ok(()),
        };
    };
    if let Some(why) = name_problem(&v.name) {
        return Err(ConfigError::BadVmacName(v.name.clone(), why));
    }
    if v.name == interface {
        return Err(ConfigError::BadVmacName(
            v.name.clone(),
            "it is the instance's own interface",
        ));
    }
    if unicast && !v.xmit_base {
        return Err(ConfigError::VmacUnicast);
    }
    Ok(())
}

/// A sysctl to set: its path under `/proc/sys` and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysctl {
    pub path: String,
    pub value: u8,
}

fn sysctl(dir: &str, iface: &str, key: &str, value: u8) -> Sysctl {
    Sysctl {
        path: format!("net/{dir}/conf/{iface}/{key}"),
        value,
    }
}

/// How a setting can be written over rtnetlink (which systemd's `ProtectKernelTunables`, a
/// read-only `/proc/sys`, does not stop), if the kernel takes it so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Netlink {
    /// `IFLA_INET_CONF`: this `IPV4_DEVCONF_*` number of the interface (`linux/ip.h`).
    Ipv4Conf(u16),
    /// `IFLA_INET6_ADDR_GEN_MODE`.
    AddrGenMode,
}

impl Sysctl {
    /// The interface and the rtnetlink form of this setting, if it has one: an interface's
    /// IPv4 devconf or IPv6 `addr_gen_mode`, not `all` or `default`, nor IPv6's others.
    pub fn netlink(&self) -> Option<(&str, Netlink)> {
        let mut parts = self.path.split('/');
        let (Some("net"), Some(family), Some("conf"), Some(iface), Some(key), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        if iface == "all" || iface == "default" {
            return None;
        }
        let how = match (family, key) {
            ("ipv4", "rp_filter") => Netlink::Ipv4Conf(8),
            ("ipv4", "arp_filter") => Netlink::Ipv4Conf(13),
            ("ipv4", "arp_announce") => Netlink::Ipv4Conf(18),
            ("ipv4", "arp_ignore") => Netlink::Ipv4Conf(19),
            ("ipv4", "promote_secondaries") => Netlink::Ipv4Conf(20),
            ("ipv4", "accept_local") => Netlink::Ipv4Conf(23),
            ("ipv6", "addr_gen_mode") => Netlink::AddrGenMode,
            _ => return None,
        };
        Some((iface, how))
    }
}

/// What the VMAC itself needs, set before it is brought up.
pub fn vmac_sysctls(v: &Vmac) -> Vec<Sysctl> {
    let n = v.name.as_str();
    match v.family {
        Family::V4 => vec![
            sysctl("ipv4", n, "arp_ignore", 1),
            sysctl("ipv4", n, "accept_local", 1),
            sysctl("ipv4", n, "rp_filter", 0),
            sysctl("ipv4", n, "promote_secondaries", 1),
            // IN6_ADDR_GEN_MODE_NONE: no IPv6 address, so nothing (MLD, solicitations) goes
            // out of the VMAC with its MAC, even where IPv6 cannot be turned off.
            sysctl("ipv6", n, "addr_gen_mode", 1),
            sysctl("ipv6", n, "disable_ipv6", 1),
        ],
        Family::V6 => vec![
            // IN6_ADDR_GEN_MODE_NONE.
            sysctl("ipv6", n, "addr_gen_mode", 1),
            sysctl("ipv6", n, "accept_ra", 0),
        ],
    }
}

/// What the base interface needs (IPv4: it must not answer ARP for the VIPs on the VMAC);
/// the previous values are put back when the last VMAC on it goes.
pub fn base_sysctls(base: &str, family: Family) -> Vec<Sysctl> {
    match family {
        Family::V4 => vec![
            sysctl("ipv4", base, "arp_ignore", 1),
            sysctl("ipv4", base, "arp_filter", 1),
            sysctl("ipv4", base, "arp_announce", 2),
        ],
        Family::V6 => Vec::new(),
    }
}

/// An IPv4 VMAC needs `rp_filter` 0 on itself, but the kernel applies the greater of
/// `all.rp_filter` and the interface's own. As keepalived does, a non-zero `all` is moved onto
/// every interface (`each`: name and value, `default` included): each is raised to `all`'s
/// value where lower, then `all` becomes 0. The filtering of every interface stays what it was
/// (so nothing is put back, and a crash leaves nothing wrong); only the VMAC's is lifted.
/// Returns the writes in order, `all` last.
pub fn rp_filter_moves(all: u8, each: &[(String, u8)]) -> Vec<Sysctl> {
    if all == 0 {
        return Vec::new();
    }
    let mut out: Vec<Sysctl> = each
        .iter()
        .filter(|(n, v)| n != "all" && *v < all)
        .map(|(n, _)| sysctl("ipv4", n, "rp_filter", all))
        .collect();
    out.push(sysctl("ipv4", "all", "rp_filter", 0));
    out
}

/// An interface found with the VMAC's name, as rtnetlink shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// `IFLA_INFO_KIND` (`macvlan`, `veth`...), none for a physical device.
    pub kind: Option<String>,
    /// `IFLA_LINK`: the lower device.
    pub link: Option<u32>,
    /// The macvlan mode is private.
    pub private: bool,
    pub mac: [u8; 6],
}

/// What to do with the interface that has the VMAC's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    /// None: create it.
    Create,
    /// A previous run's, as it should be: use it.
    Reuse,
    /// A macvlan of the base interface with another MAC or mode: delete it and create ours.
    Recreate,
    /// Something else: refuse to start, saying what it is.
    Foreign(String),
}

/// Judges an interface found with the VMAC's name (`None`: there is none).
pub fn existing(found: Option<&Found>, base_index: u32, mac: [u8; 6]) -> Existing {
    let Some(f) = found else {
        return Existing::Create;
    };
    match (f.kind.as_deref(), f.link) {
        (Some("macvlan"), Some(l)) if l == base_index => {
            if f.private && f.mac == mac {
                Existing::Reuse
            } else {
                Existing::Recreate
            }
        }
        (Some("macvlan"), _) => Existing::Foreign("a macvlan of another interface".into()),
        (Some(k), _) => Existing::Foreign(format!("a {k} interface, not a macvlan")),
        (None, _) => Existing::Foreign("a device that is not a macvlan".into()),
    }
}

/// The link-local address an IPv6 VMAC sends from: the instance's source address (its
/// `unicast_src_ip` or the base interface's link-local), as keepalived puts it on the VMAC.
pub fn link_local(src: IpAddr) -> Option<(IpAddr, u8)> {
    match src {
        IpAddr::V6(a) if a.is_unicast_link_local() => Some((src, 64)),
        _ => None,
    }
}

/// `00:00:5e:00:01:33`.
pub fn fmt_mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(name: &str) -> Vmac {
        Vmac {
            name: name.into(),
            mac: mac(Family::V4, 51),
            family: Family::V4,
            xmit_base: false,
        }
    }

    #[test]
    fn the_mac_is_the_rfc_virtual_router_mac_of_the_family() {
        assert_eq!(fmt_mac(&mac(Family::V4, 51)), "00:00:5e:00:01:33");
        assert_eq!(fmt_mac(&mac(Family::V6, 255)), "00:00:5e:00:02:ff");
        assert_eq!(mac(Family::V4, 1), [0, 0, 0x5e, 0, 1, 1]);
    }

    #[test]
    fn default_names_follow_keepalived() {
        let none = |_: &str| false;
        assert_eq!(default_name(51, Family::V4, none), "vrrp.51");
        assert_eq!(default_name(51, Family::V6, none), "vrrp.51");
        let taken = ["vrrp.51", "vrrp6.51", "vrrp1.51"];
        let is_taken = |n: &str| taken.contains(&n);
        assert_eq!(default_name(51, Family::V6, |n| n == "vrrp.51"), "vrrp6.51");
        assert_eq!(default_name(51, Family::V6, is_taken), "vrrp2.51");
        assert_eq!(default_name(51, Family::V4, is_taken), "vrrp2.51");
        let v6_busy = |n: &str| {
            [
                "vrrp.7", "vrrp6.7", "vrrp1.7", "vrrp2.7", "vrrp3.7", "vrrp4.7", "vrrp5.7",
            ]
            .contains(&n)
        };
        assert_eq!(
            default_name(7, Family::V6, v6_busy),
            "vrrp7.7",
            "IPv6 does not try vrrp6 twice"
        );
        assert_eq!(default_name(7, Family::V4, v6_busy), "vrrp7.7");
        assert_eq!(default_name(255, Family::V4, none).len(), 8);
    }

    #[test]
    fn names_the_kernel_refuses_are_named() {
        assert_eq!(name_problem("vrrp.51"), None);
        assert_eq!(name_problem("vmac-outside-1"), None);
        for bad in ["", "a-name-of-16-chr", ".", "..", "a/b", "a:b", "a b"] {
            assert!(name_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn configuration_rules() {
        let v = v4("vrrp.51");
        assert_eq!(check(Some(&v), false, "eth0", false), Ok(()));
        assert_eq!(check(None, false, "eth0", true), Ok(()));
        assert_eq!(
            check(None, true, "eth0", false),
            Err(ConfigError::XmitBaseWithoutVmac)
        );
        assert_eq!(
            check(Some(&v), false, "eth0", true),
            Err(ConfigError::VmacUnicast)
        );
        let mut base = v.clone();
        base.xmit_base = true;
        assert_eq!(check(Some(&base), true, "eth0", true), Ok(()));
        assert!(matches!(
            check(Some(&v4("eth0")), false, "eth0", false),
            Err(ConfigError::BadVmacName(
                _,
                "it is the instance's own interface"
            ))
        ));
        assert!(matches!(
            check(Some(&v4("vrrp/51")), false, "eth0", false),
            Err(ConfigError::BadVmacName(..))
        ));
    }

    #[test]
    fn sysctls_make_only_the_vmac_answer_arp_for_the_vips() {
        let set: Vec<(String, u8)> = vmac_sysctls(&v4("vrrp.51"))
            .into_iter()
            .map(|s| (s.path, s.value))
            .collect();
        assert_eq!(
            set,
            [
                ("net/ipv4/conf/vrrp.51/arp_ignore", 1),
                ("net/ipv4/conf/vrrp.51/accept_local", 1),
                ("net/ipv4/conf/vrrp.51/rp_filter", 0),
                ("net/ipv4/conf/vrrp.51/promote_secondaries", 1),
                ("net/ipv6/conf/vrrp.51/addr_gen_mode", 1),
                ("net/ipv6/conf/vrrp.51/disable_ipv6", 1),
            ]
            .map(|(p, v)| (p.to_string(), v))
        );
        let base: Vec<String> = base_sysctls("eth0", Family::V4)
            .into_iter()
            .map(|s| format!("{}={}", s.path, s.value))
            .collect();
        assert_eq!(
            base,
            [
                "net/ipv4/conf/eth0/arp_ignore=1",
                "net/ipv4/conf/eth0/arp_filter=1",
                "net/ipv4/conf/eth0/arp_announce=2"
            ]
        );
        let mut six = v4("vrrp.61");
        six.family = Family::V6;
        let paths: Vec<String> = vmac_sysctls(&six).into_iter().map(|s| s.path).collect();
        assert_eq!(
            paths,
            [
                "net/ipv6/conf/vrrp.61/addr_gen_mode",
                "net/ipv6/conf/vrrp.61/accept_ra"
            ]
        );
        assert!(
            base_sysctls("eth0", Family::V6).is_empty(),
            "no ARP in IPv6"
        );
    }

    #[test]
    fn interface_settings_go_over_rtnetlink_where_the_kernel_takes_them() {
        let on = |path: &str| {
            Sysctl {
                path: path.into(),
                value: 1,
            }
            .netlink()
            .map(|(i, n)| (i.to_string(), n))
        };
        let v4 = |id| Some(("eth0".to_string(), Netlink::Ipv4Conf(id)));
        assert_eq!(on("net/ipv4/conf/eth0/arp_ignore"), v4(19));
        assert_eq!(on("net/ipv4/conf/eth0/arp_filter"), v4(13));
        assert_eq!(on("net/ipv4/conf/eth0/arp_announce"), v4(18));
        assert_eq!(on("net/ipv4/conf/eth0/rp_filter"), v4(8));
        assert_eq!(on("net/ipv4/conf/eth0/accept_local"), v4(23));
        assert_eq!(on("net/ipv4/conf/eth0/promote_secondaries"), v4(20));
        assert_eq!(
            on("net/ipv6/conf/vrrp.51/addr_gen_mode"),
            Some(("vrrp.51".to_string(), Netlink::AddrGenMode))
        );
        for proc_only in [
            "net/ipv4/conf/all/rp_filter",
            "net/ipv4/conf/default/rp_filter",
            "net/ipv6/conf/vrrp.51/disable_ipv6",
            "net/ipv6/conf/vrrp.51/accept_ra",
            "net/ipv4/conf/eth0/arp_ignore/x",
        ] {
            assert_eq!(on(proc_only), None, "{proc_only}");
        }
        // Every interface setting lbd writes has its rtnetlink form but IPv6's two.
        let mut six = v4_vmac();
        six.family = Family::V6;
        let all: Vec<Sysctl> = vmac_sysctls(&v4_vmac())
            .into_iter()
            .chain(vmac_sysctls(&six))
            .chain(base_sysctls("eth0", Family::V4))
            .filter(|s| s.netlink().is_none())
            .collect();
        let left: Vec<&str> = all.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(
            left,
            [
                "net/ipv6/conf/vrrp.51/disable_ipv6",
                "net/ipv6/conf/vrrp.51/accept_ra"
            ]
        );
    }

    fn v4_vmac() -> Vmac {
        v4("vrrp.51")
    }

    #[test]
    fn a_nonzero_all_rp_filter_moves_onto_each_interface() {
        assert!(rp_filter_moves(0, &[("eth0".into(), 1)]).is_empty());
        let each = [
            ("all".to_string(), 1),
            ("default".to_string(), 0),
            ("eth0".to_string(), 0),
            ("eth1".to_string(), 2),
            ("lo".to_string(), 1),
        ];
        let moves: Vec<String> = rp_filter_moves(1, &each)
            .into_iter()
            .map(|s| format!("{}={}", s.path, s.value))
            .collect();
        assert_eq!(
            moves,
            [
                "net/ipv4/conf/default/rp_filter=1",
                "net/ipv4/conf/eth0/rp_filter=1",
                "net/ipv4/conf/all/rp_filter=0",
            ],
            "eth1's 2 and lo's 1 already filter as much"
        );
    }

    #[test]
    fn an_interface_with_the_name_is_reused_recreated_or_refused() {
        let m = mac(Family::V4, 51);
        let ours = Found {
            kind: Some("macvlan".into()),
            link: Some(2),
            private: true,
            mac: m,
        };
        assert_eq!(existing(None, 2, m), Existing::Create);
        assert_eq!(existing(Some(&ours), 2, m), Existing::Reuse);
        let bridge_mode = Found {
            private: false,
            ..ours.clone()
        };
        assert_eq!(existing(Some(&bridge_mode), 2, m), Existing::Recreate);
        let other_mac = Found {
            mac: mac(Family::V6, 51),
            ..ours.clone()
        };
        assert_eq!(existing(Some(&other_mac), 2, m), Existing::Recreate);
        let elsewhere = Found {
            link: Some(3),
            ..ours.clone()
        };
        assert!(
            matches!(existing(Some(&elsewhere), 2, m), Existing::Foreign(w) if w.contains("another interface"))
        );
        let veth = Found {
            kind: Some("veth".into()),
            ..ours.clone()
        };
        assert!(matches!(existing(Some(&veth), 2, m), Existing::Foreign(w) if w.contains("veth")));
        let phys = Found {
            kind: None,
            link: None,
            ..ours
        };
        assert!(matches!(existing(Some(&phys), 2, m), Existing::Foreign(_)));
    }

    #[test]
    fn an_ipv6_vmac_sends_from_the_instances_link_local_address() {
        let ll: IpAddr = "fe80::2".parse().unwrap();
        assert_eq!(link_local(ll), Some((ll, 64)));
        assert_eq!(link_local("192.0.2.2".parse().unwrap()), None);
    }

    #[test]
    fn use_vmac_reads_true_false_or_a_name() {
        #[derive(Deserialize, Serialize)]
        struct T {
            #[serde(default, deserialize_with = "deserialize_use")]
            use_vmac: Option<UseVmac>,
        }
        let read = |y: &str| serde_saphyr::from_str::<T>(y).unwrap().use_vmac;
        assert_eq!(read("use_vmac: true"), Some(UseVmac::Auto));
        assert_eq!(read("use_vmac: false"), None);
        assert_eq!(
            read("use_vmac: vmac1"),
            Some(UseVmac::Named("vmac1".into()))
        );
        assert_eq!(read("{}"), None);
        let json = serde_json::to_string(&T {
            use_vmac: Some(UseVmac::Named("v".into())),
        })
        .unwrap();
        assert_eq!(json, r#"{"use_vmac":"v"}"#);
        let json = serde_json::to_string(&T {
            use_vmac: Some(UseVmac::Auto),
        })
        .unwrap();
        assert_eq!(json, r#"{"use_vmac":true}"#);
    }

    #[test]
    fn an_instance_puts_the_vips_of_its_family_on_its_vmac() {
        let c: crate::vrrp::InstanceConfig = serde_saphyr::from_str(
            "name: x\ninterface: eth0\nvrid: 51\nuse_vmac: true\n\
             vips: ['192.0.2.10/24', '2001:db8::10/64', '198.51.100.1/24@eth1']\n",
        )
        .unwrap();
        let v = c.vmac().expect("a vmac");
        assert_eq!((v.name.as_str(), v.mac), ("vrrp.51", mac(Family::V4, 51)));
        let on: Vec<String> = c.vips.iter().map(|p| c.vip_interface(p)).collect();
        assert_eq!(on, ["vrrp.51", "eth0", "eth1"]);
        assert!(c.to_fsm().is_ok());
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["use_vmac"], true);
        assert!(json.get("vmac_xmit_base").is_none(), "false is not shown");
        let six: crate::vrrp::InstanceConfig = serde_saphyr::from_str(
            "name: x\ninterface: eth0\nvrid: 61\nuse_vmac: vmac61\nvmac_xmit_base: true\n\
             vips: ['2001:db8::10/64']\nunicast_peers: ['fe80::3']\n",
        )
        .unwrap();
        let v = six.vmac().expect("a vmac");
        assert_eq!((v.name.as_str(), v.xmit_base), ("vmac61", true));
        assert_eq!(fmt_mac(&v.mac), "00:00:5e:00:02:3d");
        assert!(six.to_fsm().is_ok());
        let plain = crate::vrrp::InstanceConfig {
            use_vmac: None,
            ..six
        };
        assert_eq!(plain.to_fsm(), Err(ConfigError::XmitBaseWithoutVmac));
        assert_eq!(plain.vip_interface(&plain.vips[0]), "eth0");
    }
}
