//! `vrrp::InstanceConfig`: one VRRP instance as configured (serde), and its validation into the
//! state machine's parameters.
//!
//! Durations are in the grammar of [`crate::duration`] (`"100ms"`, `"1.5s"`), or a number of
//! seconds.
//! VIPs are written as `"192.0.2.10/24"` or `{address, prefix, interface}`.
//!
//! `version: 2` makes a VRRPv2 (RFC 3768) router, as keepalived runs by default for IPv4: IPv4
//! only, `advert_interval` in whole seconds (1-255), optionally with keepalived's
//! `authentication` (`{type: pass | ah, password: TEXT}`; the password is a [`Secret`], never
//! shown, and only its first 8 bytes are used, as keepalived truncates `auth_pass`).
//!
//! `track` names interfaces, services, and track scripts, files and processes defined in
//! `track_scripts` / `track_files` / `track_processes` (`track: [{script: chk, weight: -20},
//! {file: maint}, {process: haproxy}]`); a reference without a weight takes its definition's
//! (`track_refs.rs`).

pub use super::garp::{GarpConfig, GARP_MAX_COUNT, GARP_MAX_INTERVAL};
use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use super::fsm::{FsmConfig, NotifyState, Version};
use super::packet::{Family, MAX_ADVER_INT_CS};
use super::packet_v2::{Auth, Password, AUTH_DATA_LEN};
pub use super::track_file::{TrackFile, MAX_FILE_WEIGHT};
pub use super::track_process::TrackProcess;
pub use super::track_refs::{Track, TrackTarget, MAX_TRACK_WEIGHT};
pub use super::track_script::TrackScript;
pub use super::vmac::UseVmac;
use super::vmac::Vmac;
use crate::secret::Secret;

/// One VRRP instance (virtual router) as the operator writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceConfig {
    /// Name used in logs and passed to notify hooks.
    pub name: String,
    /// The interface adverts are sent and received on.
    pub interface: String,
    /// Virtual Router Identifier, 1-255.
    pub vrid: u8,
    /// The VRRP version: 3 (RFC 5798) or 2 (RFC 3768, IPv4 only). Default 3.
    #[serde(default = "default_version")]
    pub version: u8,
    /// VRRPv2 only: keepalived's authentication (PASS or AH). Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
    /// 1-254, or 255 for the address owner. Default 100.
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// Advertisement interval, 10 ms to 40.95 s in steps of 10 ms (VRRPv2: whole seconds,
    /// 1-255 s). Default 1 s.
    #[serde(default = "default_advert", with = "crate::duration::serde")]
    pub advert_interval: Duration,
    /// Take over from a lower-priority master. Default true (`nopreempt` = false).
    #[serde(default = "yes")]
    pub preempt: bool,
    /// Tolerate a lower-priority master this long before preempting. Default 0.
    #[serde(default, with = "crate::duration::serde")]
    pub preempt_delay: Duration,
    /// As master, send no advert in reply to one of lower priority (keepalived's
    /// `lower_prio_no_advert`). Default false: reassert at once.
    #[serde(default)]
    pub lower_prio_no_advert: bool,
    /// Virtual addresses. Those of the first VIP's family on `interface` are advertised;
    /// the others move with them (keepalived's `virtual_ipaddress_excluded`).
    pub vips: Vec<Vip>,
    /// Send adverts to these addresses instead of the multicast group; with peers, adverts
    /// from any other address are dropped (`unknown_peer`).
    #[serde(default)]
    pub unicast_peers: Vec<IpAddr>,
    /// The source address of the adverts (keepalived's `unicast_src_ip`). Default: the
    /// interface's first IPv4 address that is not a VIP, or its IPv6 link-local address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unicast_src_ip: Option<IpAddr>,
    /// Things whose failure lowers the priority.
    #[serde(default)]
    pub track: Vec<Track>,
    /// The track scripts `track` names (`{script: NAME}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_scripts: Vec<TrackScript>,
    /// The track files `track` names (`{file: NAME}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_files: Vec<TrackFile>,
    /// The track processes `track` names (`{process: NAME}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_processes: Vec<TrackProcess>,
    /// Hooks run in order on transitions.
    #[serde(default)]
    pub notify: Vec<NotifyHook>,
    /// Gratuitous ARP / unsolicited NA on taking over.
    #[serde(default)]
    pub garp: GarpConfig,
    /// keepalived's `use_vmac`: `true` (named `vrrp.VRID`) or the name of a macvlan with the
    /// virtual router MAC, on `interface`, that carries the VIPs of the advertised family
    /// that name no interface, and the adverts. Default none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::vmac::deserialize_use"
    )]
    pub use_vmac: Option<UseVmac>,
    /// keepalived's `vmac_xmit_base`: adverts are sent and received on `interface`, not on
    /// the VMAC (needed with unicast peers). Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vmac_xmit_base: bool,
}

/// keepalived's VRRPv2 `authentication { auth_type ...; auth_pass ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authentication {
    /// `pass` (simple password in the advert) or `ah` (IPsec AH, HMAC-MD5-96).
    #[serde(rename = "type")]
    pub kind: AuthKind,
    /// Non-empty; only the first 8 bytes are used (keepalived truncates with a warning).
    pub password: Secret,
}

/// The VRRPv2 authentication types keepalived implements (RFC 2338's 1 and 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    #[serde(alias = "PASS")]
    Pass,
    #[serde(alias = "AH")]
    Ah,
}

/// A virtual address with its prefix and, optionally, another interface than the instance's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vip {
    pub address: IpAddr,
    pub prefix: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// Whether the adverts carry it. None: when it is of the instance's family and on the
    /// instance's interface. `true` on another interface is keepalived's `virtual_ipaddress`
    /// with `dev`; `false` on the instance's interface its `virtual_ipaddress_excluded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertise: Option<bool>,
    /// The address's label (IPv4 only, at most 15 bytes: `eth0:1`, keepalived's `label`), as
    /// `ip addr` and ifconfig show it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// Why the kernel (or `ip addr`) would refuse `label` on `address`, if it would.
pub fn label_problem(address: &IpAddr, label: &str) -> Option<&'static str> {
    if address.is_ipv6() {
        Some("IPv6 addresses have no label")
    } else if label.is_empty() || label.len() > 15 {
        Some("a label has 1 to 15 characters")
    } else if label.chars().any(|c| c.is_whitespace() || c == '/') {
        Some("a label has no spaces or `/`")
    } else {
        None
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum VipRepr {
    Text(String),
    Full {
        address: IpAddr,
        prefix: Option<u8>,
        interface: Option<String>,
        advertise: Option<bool>,
        label: Option<String>,
    },
}

impl<'de> Deserialize<'de> for Vip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Vip, D::Error> {
        match VipRepr::deserialize(d)? {
            VipRepr::Text(s) => s.parse().map_err(serde::de::Error::custom),
            VipRepr::Full {
                address,
                prefix,
                interface,
                advertise,
                label,
            } => Ok(Vip {
                prefix: prefix.unwrap_or(if address.is_ipv4() { 32 } else { 128 }),
                address,
                interface,
                advertise,
                label,
            }),
        }
    }
}

impl std::str::FromStr for Vip {
    type Err = ConfigError;

    /// `ADDR[/PREFIX][@IFACE]`.
    fn from_str(s: &str) -> Result<Vip, ConfigError> {
        let bad = || ConfigError::BadVip(s.to_string());
        let (rest, interface) = match s.split_once('@') {
            Some((a, i)) if !i.is_empty() => (a, Some(i.to_string())),
            Some(_) => return Err(bad()),
            None => (s, None),
        };
        let (addr, prefix) = match rest.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (rest, None),
        };
        let address: IpAddr = addr.parse().map_err(|_| bad())?;
        Ok(Vip {
            prefix: prefix.unwrap_or(if address.is_ipv4() { 32 } else { 128 }),
            address,
            interface,
            advertise: None,
            label: None,
        })
    }
}

/// A notify hook: a command (argv) run on some transitions, with a time limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyHook {
    /// The transitions that run it (default: all).
    #[serde(default = "all_states")]
    pub on: Vec<NotifyState>,
    /// Program and arguments, to which keepalived's four are appended (`INSTANCE NAME STATE
    /// PRIORITY`); the environment carries LBD_VRRP_INSTANCE, LBD_VRRP_STATE,
    /// LBD_VRRP_FROM, LBD_VRRP_PRIORITY, LBD_VRRP_REASON.
    pub command: Vec<String>,
    /// Killed after this long. Default 5 s.
    #[serde(default = "default_hook_timeout", with = "crate::duration::serde")]
    pub timeout: Duration,
}

fn default_version() -> u8 {
    3
}
fn default_priority() -> u8 {
    100
}
fn default_advert() -> Duration {
    Duration::from_secs(1)
}
fn default_hook_timeout() -> Duration {
    Duration::from_secs(5)
}
fn yes() -> bool {
    true
}
fn all_states() -> Vec<NotifyState> {
    vec![
        NotifyState::Master,
        NotifyState::Backup,
        NotifyState::Fault,
        NotifyState::Stop,
    ]
}

/// Errors in an instance configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("vrid must be 1-255, not 0")]
    ZeroVrid,
    #[error("priority must be 1-255, not 0")]
    ZeroPriority,
    #[error("advert_interval {0:?} must be 10ms-40.95s in steps of 10ms")]
    BadInterval(Duration),
    #[error("an instance needs at least one vip")]
    NoVips,
    #[error("bad vip {0:?}: expected ADDR[/PREFIX][@INTERFACE]")]
    BadVip(String),
    #[error("vip {0} has prefix /{1}, longer than its family allows")]
    BadPrefix(IpAddr, u8),
    #[error("vip {0} cannot be advertised: adverts carry the addresses of the instance's family (its first VIP's)")]
    AdvertiseFamily(IpAddr),
    #[error("vip {0}: label: {1}")]
    BadLabel(IpAddr, &'static str),
    #[error("unicast peer {0} is not of the instance's family")]
    PeerFamily(IpAddr),
    #[error("unicast_src_ip {0} is not of the instance's family")]
    SrcFamily(IpAddr),
    #[error("unicast_src_ip {0} is one of the vips: adverts come from the director's own address")]
    SrcIsVip(IpAddr),
    #[error(
        "{0} {1} is not link-local: VRRPv3 over IPv6 sends and accepts adverts from link-local \
         addresses only (RFC 5798 5.1.2.1)"
    )]
    NotLinkLocal(&'static str, IpAddr),
    #[error("notify hook has an empty command")]
    EmptyHook,
    #[error("garp {0} must be 1-{GARP_MAX_COUNT}, not {1}")]
    GarpCount(&'static str, u32),
    #[error("garp interval {0:?} is longer than {GARP_MAX_INTERVAL:?}")]
    GarpInterval(Duration),
    #[error("version must be 2 or 3, not {0}")]
    BadVersion(u8),
    #[error("VRRPv2 is IPv4 only, but the first vip {0} is IPv6: use version 3")]
    V2Ipv6(IpAddr),
    #[error(
        "advert_interval {0:?} is not possible with VRRPv2: its Adver Int is whole seconds, 1s-255s"
    )]
    V2Interval(Duration),
    #[error("authentication needs version 2 (VRRPv3 has none): set `version: 2` or remove it")]
    AuthNeedsV2,
    #[error("authentication password is empty")]
    EmptyPassword,
    #[error("track weight {0} must be -253..253 (0 or none: FAULT while down)")]
    BadTrackWeight(i16),
    #[error("track file weight {0} must be -254..254")]
    BadFileWeight(i16),
    #[error("track {0} `{1}` is not defined")]
    UnknownTrack(&'static str, String),
    #[error("track {0} `{1}` is defined twice")]
    DuplicateTrack(&'static str, String),
    #[error("track script `{0}`: {1}")]
    BadScript(String, &'static str),
    #[error("track process `{0}`: {1}")]
    BadProcess(String, String),
    #[error("use_vmac `{0}`: {1}")]
    BadVmacName(String, &'static str),
    #[error("vmac_xmit_base needs use_vmac")]
    XmitBaseWithoutVmac,
    #[error(
        "use_vmac with unicast_peers needs vmac_xmit_base: unicast adverts arrive on the base \
         interface"
    )]
    VmacUnicast,
}

impl InstanceConfig {
    /// The advertised family (that of the first VIP).
    pub fn family(&self) -> Family {
        self.vips
            .first()
            .map(|v| Family::of(&v.address))
            .unwrap_or(Family::V4)
    }

    /// The VIPs carried in adverts: the instance's family, on the instance's interface unless
    /// a VIP's `advertise` says otherwise.
    pub fn advert_addrs(&self) -> Vec<IpAddr> {
        let fam = self.family();
        self.vips
            .iter()
            .filter(|v| Family::of(&v.address) == fam)
            .filter(|v| {
                v.advertise
                    .unwrap_or_else(|| v.interface.as_deref().is_none_or(|i| i == self.interface))
            })
            .map(|v| v.address)
            .collect()
    }

    /// The instance's VMAC, if it has one (`use_vmac: true` is named `vrrp.VRID`).
    pub fn vmac(&self) -> Option<Vmac> {
        let family = self.family();
        let name = match self.use_vmac.as_ref()? {
            UseVmac::Named(n) => n.clone(),
            UseVmac::Auto => super::vmac::default_name(self.vrid, family, |_| false),
        };
        Some(Vmac {
            name,
            mac: super::vmac::mac(family, self.vrid),
            family,
            xmit_base: self.vmac_xmit_base,
        })
    }

    /// The interface a VIP goes on: its own, the VMAC for the advertised family, or
    /// `interface` (a VIP of the other family stays there: the VMAC's MAC is not its family's).
    pub fn vip_interface(&self, vip: &Vip) -> String {
        if let Some(i) = &vip.interface {
            return i.clone();
        }
        match self.vmac() {
            Some(v) if Family::of(&vip.address) == v.family => v.name,
            _ => self.interface.clone(),
        }
    }

    /// The VRRPv2 authentication the codec uses (none for VRRPv3).
    pub fn auth(&self) -> Auth {
        match &self.authentication {
            None => Auth::None,
            Some(a) => {
                let pw = Password::new(a.password.expose());
                match a.kind {
                    AuthKind::Pass => Auth::Pass(pw),
                    AuthKind::Ah => Auth::Ah(pw),
                }
            }
        }
    }

    /// What is accepted but worth telling the operator (logged at start): a password longer
    /// than the 8 bytes VRRPv2 carries. Never contains the password.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(a) = &self.authentication {
            if Password::truncates(a.password.expose()) {
                out.push(format!(
                    "authentication password is longer than {AUTH_DATA_LEN} bytes: only the \
                     first {AUTH_DATA_LEN} are used (keepalived truncates auth_pass the same way)"
                ));
            }
        }
        out
    }

    /// Checks the values and builds the state machine's parameters.
    pub fn to_fsm(&self) -> Result<FsmConfig, ConfigError> {
        if self.vrid == 0 {
            return Err(ConfigError::ZeroVrid);
        }
        if self.priority == 0 {
            return Err(ConfigError::ZeroPriority);
        }
        let version = match self.version {
            2 => Version::V2,
            3 => Version::V3,
            v => return Err(ConfigError::BadVersion(v)),
        };
        let ms = self.advert_interval.as_millis();
        let cs = ms / 10;
        if version == Version::V2 {
            if ms % 1000 != 0 || !(1..=255).contains(&(ms / 1000)) {
                return Err(ConfigError::V2Interval(self.advert_interval));
            }
        } else if ms % 10 != 0 || cs == 0 || cs > u128::from(MAX_ADVER_INT_CS) {
            return Err(ConfigError::BadInterval(self.advert_interval));
        }
        if self.vips.is_empty() {
            return Err(ConfigError::NoVips);
        }
        if version == Version::V2 && self.family() == Family::V6 {
            return Err(ConfigError::V2Ipv6(self.vips[0].address));
        }
        match &self.authentication {
            Some(_) if version == Version::V3 => return Err(ConfigError::AuthNeedsV2),
            Some(a) if a.password.expose().is_empty() => return Err(ConfigError::EmptyPassword),
            _ => {}
        }
        for v in &self.vips {
            let max = if v.address.is_ipv4() { 32 } else { 128 };
            if v.prefix > max {
                return Err(ConfigError::BadPrefix(v.address, v.prefix));
            }
            if v.advertise == Some(true) && Family::of(&v.address) != self.family() {
                return Err(ConfigError::AdvertiseFamily(v.address));
            }
            if let Some(why) = v
                .label
                .as_deref()
                .and_then(|l| label_problem(&v.address, l))
            {
                return Err(ConfigError::BadLabel(v.address, why));
            }
        }
        if let Some(p) = self
            .unicast_peers
            .iter()
            .find(|p| Family::of(p) != self.family())
        {
            return Err(ConfigError::PeerFamily(*p));
        }
        if let Some(p) = self.unicast_peers.iter().find(|p| !link_local_or_v4(p)) {
            return Err(ConfigError::NotLinkLocal("unicast peer", *p));
        }
        if let Some(src) = self.unicast_src_ip {
            if Family::of(&src) != self.family() {
                return Err(ConfigError::SrcFamily(src));
            }
            if self.vips.iter().any(|v| v.address == src) {
                return Err(ConfigError::SrcIsVip(src));
            }
            if !link_local_or_v4(&src) {
                return Err(ConfigError::NotLinkLocal("unicast_src_ip", src));
            }
        }
        if self.notify.iter().any(|h| h.command.is_empty()) {
            return Err(ConfigError::EmptyHook);
        }
        self.garp.check()?;
        self.check_track()?;
        super::vmac::check(
            self.vmac().as_ref(),
            self.vmac_xmit_base,
            &self.interface,
            !self.unicast_peers.is_empty(),
        )?;
        Ok(FsmConfig {
            name: self.name.clone(),
            version,
            vrid: self.vrid,
            priority: self.priority,
            advert_interval_cs: cs as u16,
            preempt: self.preempt,
            preempt_delay: self.preempt_delay,
            advert_addrs: self.advert_addrs(),
            garp_repeat: self.garp.count.saturating_sub(1),
            garp_interval: self.garp.interval,
            garp_delay: (!self.garp.delay.is_zero()).then_some(self.garp.delay),
            garp_refresh: (!self.garp.refresh.is_zero()).then_some(self.garp.refresh),
            garp_refresh_repeat: self.garp.refresh_count.saturating_sub(1),
            garp_lower_prio_count: self.garp.lower_prio_count(),
            garp_lower_prio_delay: self.garp.lower_prio_delay(),
            lower_prio_no_advert: self.lower_prio_no_advert,
            peers: self.unicast_peers.clone(),
        })
    }
}

/// An IPv4 address, or an IPv6 one in fe80::/10: what may source a VRRP advert.
pub fn link_local_or_v4(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(_) => true,
        IpAddr::V6(v) => v.is_unicast_link_local(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_instance_with_defaults() {
        let text = "name: vi_1\ninterface: eth0\nvrid: 51\npriority: 150\nadvert_interval: 100ms\n\
                    vips: ['192.0.2.10/24', {address: '2001:db8::10', prefix: 64}, '198.51.100.1/24@eth1']\n\
                    track: [{interface: eth1, weight: -60}, {service: http, weight: 20}, {interface: eth2}]\n\
                    notify: [{command: [/bin/true], on: [master]}]\n";
        let c: InstanceConfig = serde_saphyr::from_str(text).unwrap();
        assert!(c.preempt);
        assert_eq!(c.advert_interval, Duration::from_millis(100));
        assert_eq!(c.vips[2].interface.as_deref(), Some("eth1"));
        assert_eq!(c.track[1].target, TrackTarget::Service("http".into()));
        assert_eq!(c.track[0].weight, Some(-60));
        assert_eq!(c.track[2].weight, None, "no weight: FAULT while down");
        let f = c.to_fsm().unwrap();
        assert_eq!(f.advert_interval_cs, 10);
        assert_eq!(
            f.advert_addrs,
            vec!["192.0.2.10".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(f.garp_repeat, 4);
        // JSON round trip of the whole thing.
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<InstanceConfig>(&json).unwrap(), c);
    }

    #[test]
    fn durations_are_the_one_grammar_or_seconds() {
        let base = "name: x\ninterface: eth0\nvrid: 1\nvips: ['192.0.2.10/24']\n";
        let c: InstanceConfig = serde_saphyr::from_str(&format!(
            "{base}advert_interval: 1.5s\npreempt_delay: 2\ngarp: {{interval: 0.1s, refresh: 1m30s}}\n"
        ))
        .unwrap();
        assert_eq!(c.advert_interval, Duration::from_millis(1500));
        assert_eq!(c.preempt_delay, Duration::from_secs(2));
        assert_eq!(c.garp.interval, Duration::from_millis(100));
        assert_eq!(c.garp.refresh, Duration::from_secs(90));
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["advert_interval"], "1s500ms");
        for (bad, why) in [("fast", "is not a duration"), ("10", "has no unit")] {
            let e = serde_saphyr::from_str::<InstanceConfig>(&format!(
                "{base}advert_interval: '{bad}'\n"
            ))
            .expect_err(bad)
            .to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn advertise_overrides_the_interface_rule_within_the_family() {
        let c: InstanceConfig = serde_saphyr::from_str(
            "name: vi\ninterface: eth0\nvrid: 51\nvips:\n  - 192.0.2.10/24\n  \
             - {address: 192.0.2.11, prefix: 24, advertise: false}\n  \
             - {address: 198.51.100.1, interface: eth1}\n  \
             - {address: 198.51.100.2, interface: eth1, advertise: true}\n  \
             - 2001:db8::10/64\n",
        )
        .unwrap();
        let addrs: Vec<String> = c.advert_addrs().iter().map(|a| a.to_string()).collect();
        assert_eq!(addrs, ["192.0.2.10", "198.51.100.2"]);
        assert!(c.to_fsm().is_ok());
        let mut bad = c.clone();
        bad.vips[4].advertise = Some(true);
        assert_eq!(
            bad.to_fsm().unwrap_err(),
            ConfigError::AdvertiseFamily("2001:db8::10".parse().unwrap())
        );
    }

    #[test]
    fn invalid_values_are_named() {
        let base = InstanceConfig {
            name: "x".into(),
            interface: "eth0".into(),
            vrid: 1,
            version: 3,
            authentication: None,
            priority: 100,
            advert_interval: Duration::from_millis(105),
            preempt: true,
            preempt_delay: Duration::ZERO,
            lower_prio_no_advert: false,
            vips: vec!["192.0.2.10/24".parse().unwrap()],
            unicast_peers: vec![],
            unicast_src_ip: None,
            track: vec![],
            track_scripts: vec![],
            track_files: vec![],
            track_processes: vec![],
            notify: vec![],
            garp: GarpConfig::default(),
            use_vmac: None,
            vmac_xmit_base: false,
        };
        assert!(matches!(base.to_fsm(), Err(ConfigError::BadInterval(_))));
        let mut c = base.clone();
        c.advert_interval = Duration::from_secs(41);
        assert!(matches!(c.to_fsm(), Err(ConfigError::BadInterval(_))));
        c.advert_interval = Duration::from_secs(1);
        c.vrid = 0;
        assert_eq!(c.to_fsm(), Err(ConfigError::ZeroVrid));
        c.vrid = 1;
        c.unicast_peers = vec!["2001:db8::3".parse().unwrap()];
        assert!(matches!(c.to_fsm(), Err(ConfigError::PeerFamily(_))));
        c.unicast_peers = vec![];
        c.unicast_src_ip = Some("2001:db8::3".parse().unwrap());
        assert!(matches!(c.to_fsm(), Err(ConfigError::SrcFamily(_))));
        c.unicast_src_ip = Some("192.0.2.10".parse().unwrap());
        assert!(matches!(c.to_fsm(), Err(ConfigError::SrcIsVip(_))));
        c.unicast_src_ip = Some("192.0.2.2".parse().unwrap());
        c.unicast_peers = vec!["192.0.2.3".parse().unwrap()];
        assert_eq!(c.to_fsm().unwrap().peers, c.unicast_peers);
        let mut g = c.clone();
        g.garp.count = 0;
        assert_eq!(g.to_fsm(), Err(ConfigError::GarpCount("count", 0)));
        g.garp.count = 2;
        g.garp.refresh_count = 101;
        assert_eq!(
            g.to_fsm(),
            Err(ConfigError::GarpCount("refresh_count", 101))
        );
        g.garp.refresh_count = 3;
        g.garp.interval = Duration::from_secs(11);
        assert!(matches!(g.to_fsm(), Err(ConfigError::GarpInterval(_))));
        g.garp.interval = Duration::from_millis(50);
        g.garp.delay = Duration::ZERO;
        let f = g.to_fsm().unwrap();
        assert_eq!((f.garp_repeat, f.garp_refresh_repeat), (1, 2));
        assert_eq!(f.garp_delay, None);
        assert_eq!(
            c.to_fsm().unwrap().garp_delay,
            Some(Duration::from_secs(5)),
            "keepalived's default garp_master_delay"
        );
        let mut v6 = c.clone();
        v6.vips = vec!["2001:db8::10/64".parse().unwrap()];
        v6.unicast_src_ip = None;
        v6.unicast_peers = vec!["2001:db8::3".parse().unwrap()];
        assert_eq!(
            v6.to_fsm(),
            Err(ConfigError::NotLinkLocal(
                "unicast peer",
                v6.unicast_peers[0]
            ))
        );
        v6.unicast_peers = vec!["fe80::3".parse().unwrap()];
        v6.unicast_src_ip = Some("2001:db8::2".parse().unwrap());
        assert!(matches!(
            v6.to_fsm(),
            Err(ConfigError::NotLinkLocal("unicast_src_ip", _))
        ));
        v6.unicast_src_ip = Some("fe80::2".parse().unwrap());
        assert!(v6.to_fsm().is_ok());
        c.unicast_src_ip = None;
        c.unicast_peers = vec![];
        c.track = vec![Track {
            target: TrackTarget::Interface("eth1".into()),
            weight: Some(-254),
        }];
        assert_eq!(c.to_fsm(), Err(ConfigError::BadTrackWeight(-254)));
        c.track[0].weight = Some(253);
        assert!(c.to_fsm().is_ok());
        assert!("192.0.2.1/40".parse::<Vip>().is_ok());
        assert!("nonsense/24".parse::<Vip>().is_err());
    }
    const V2: &str = "name: x\ninterface: eth0\nvrid: 51\nversion: 2\nvips: ['192.0.2.10/24']\n";

    fn v2(extra: &str) -> InstanceConfig {
        serde_saphyr::from_str(&format!("{V2}{extra}")).unwrap()
    }

    #[test]
    fn version_2_with_keepalived_authentication() {
        let c = v2("authentication: {type: pass, password: secret12345}\n");
        let f = c.to_fsm().unwrap();
        assert_eq!(f.version, Version::V2);
        assert_eq!(f.advert_interval_cs, 100);
        assert_eq!(c.auth(), Auth::Pass(Password::new("secret12")));
        let w = c.warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("first 8"), "{w:?}");
        assert!(!w[0].contains("secret"), "{w:?}");
        let c = v2("authentication: {type: AH, password: pw}\n");
        assert_eq!(c.auth(), Auth::Ah(Password::new("pw")));
        assert!(c.warnings().is_empty());
        assert_eq!(v2("").auth(), Auth::None);
        // The default stays VRRPv3.
        let c: InstanceConfig = serde_saphyr::from_str(&V2.replace("version: 2\n", "")).unwrap();
        assert_eq!(c.to_fsm().unwrap().version, Version::V3);
    }

    #[test]
    fn the_password_is_never_shown() {
        let c = v2("authentication: {type: ah, password: hunter22}\n");
        let json = serde_json::to_string(&c).unwrap();
        let debug = format!("{c:?} {:?} {:?}", c.to_fsm().unwrap(), c.auth());
        for text in [&json, &debug] {
            assert!(!text.contains("hunter"), "{text}");
        }
        assert!(json.contains(r#""password":"***""#), "{json}");
    }

    #[test]
    fn version_2_limits_are_named() {
        let refused = |extra: &str| v2(extra).to_fsm().unwrap_err().to_string();
        for (extra, why) in [
            ("advert_interval: 1.5s\n", "whole seconds, 1s-255s"),
            ("advert_interval: 100ms\n", "whole seconds, 1s-255s"),
            ("advert_interval: 256s\n", "whole seconds, 1s-255s"),
            (
                "authentication: {type: pass, password: ''}\n",
                "password is empty",
            ),
        ] {
            let e = refused(extra);
            assert!(e.contains(why), "{extra}: {e}");
        }
        assert!(v2("advert_interval: 255s\n").to_fsm().is_ok());
        let e = serde_saphyr::from_str::<InstanceConfig>(&V2.replace("version: 2", "version: 4"))
            .unwrap()
            .to_fsm()
            .unwrap_err();
        assert_eq!(e, ConfigError::BadVersion(4));
        assert!(e.to_string().contains("2 or 3"), "{e}");
        let v6 = V2.replace("192.0.2.10/24", "2001:db8::10/64");
        let e = serde_saphyr::from_str::<InstanceConfig>(&v6)
            .unwrap()
            .to_fsm()
            .unwrap_err();
        assert!(e.to_string().contains("IPv4 only"), "{e}");
        let v3 = V2.replace("version: 2", "version: 3");
        let e = serde_saphyr::from_str::<InstanceConfig>(&format!(
            "{v3}authentication: {{type: pass, password: x}}\n"
        ))
        .unwrap()
        .to_fsm()
        .unwrap_err();
        assert_eq!(e, ConfigError::AuthNeedsV2);
        for bad in [
            "authentication: {type: md5, password: x}\n",
            "authentication: {type: pass, password: x, spi: 1}\n",
            "authentication: {type: pass}\n",
        ] {
            assert!(
                serde_saphyr::from_str::<InstanceConfig>(&format!("{V2}{bad}")).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn track_scripts_and_files_are_referenced_by_name_and_take_their_weight() {
        let c: InstanceConfig = serde_saphyr::from_str(
            "name: x\ninterface: eth0\nvrid: 1\nvips: ['192.0.2.10/24']\n\
             track_scripts: [{name: chk, command: [/bin/true], interval: 2s, weight: -20, fall: 3}]\n\
             track_files: [{name: maint, path: /run/maint}]\n\
             track: [{script: chk}, {file: maint, weight: -10}, {script: chk, weight: 5}]\n",
        )
        .unwrap();
        assert!(c.to_fsm().is_ok());
        let t = c.effective_track();
        assert_eq!(t[0].target, TrackTarget::Script("chk".into()));
        assert_eq!(t[0].weight, Some(-20), "the definition's weight");
        assert_eq!(t[1].weight, Some(-10), "the reference's own");
        assert_eq!(t[2].weight, Some(5));
        assert_eq!(c.tracked_scripts().len(), 1, "one run for two references");
        assert_eq!(
            c.tracked_files()[0].weight,
            1,
            "a file's default weight is 1"
        );
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<InstanceConfig>(&json).unwrap(), c);
    }

    #[test]
    fn bad_track_scripts_and_files_are_named() {
        let base = "name: x\ninterface: eth0\nvrid: 1\nvips: ['192.0.2.10/24']\n";
        let refused = |extra: &str| {
            serde_saphyr::from_str::<InstanceConfig>(&format!("{base}{extra}"))
                .unwrap()
                .to_fsm()
                .unwrap_err()
        };
        let chk = "track_scripts: [{name: chk, command: [/bin/true]}]\n";
        assert_eq!(
            refused("track: [{script: nope}]\n"),
            ConfigError::UnknownTrack("script", "nope".into())
        );
        assert_eq!(
            refused("track: [{file: nope}]\n"),
            ConfigError::UnknownTrack("file", "nope".into())
        );
        assert_eq!(
            refused(&format!("{chk}track: [{{script: chk, weight: 254}}]\n")),
            ConfigError::BadTrackWeight(254)
        );
        assert_eq!(
            refused("track_files: [{name: f, path: /f}]\ntrack: [{file: f, weight: -255}]\n"),
            ConfigError::BadFileWeight(-255)
        );
        assert_eq!(
            refused("track_files: [{name: f, path: /f, weight: 300}]\n"),
            ConfigError::BadFileWeight(300)
        );
        assert_eq!(
            refused(
                "track_scripts: [{name: c, command: [/bin/true]}, {name: c, command: [/bin/false]}]\n"
            ),
            ConfigError::DuplicateTrack("script", "c".into())
        );
        let e = refused("track_scripts: [{name: c, command: [true]}]\n").to_string();
        assert!(e.contains("absolute path"), "{e}");
        let e = refused("track_scripts: [{name: c, command: [/bin/true], rise: 0}]\n");
        assert!(e.to_string().contains("at least 1"), "{e}");
        let e = refused("track_scripts: [{name: c, command: [/bin/true], interval: 0s}]\n");
        assert!(e.to_string().contains("greater than zero"), "{e}");
    }
}
