//! `director.yaml`: this director's identity, files, control socket, status listener,
//! reconcile pace, VRRP instances (with the track scripts and files they may name,
//! `vrrp_track.rs`) and the IPVS connection-sync daemon.

use super::diagnostic::{Pos, Sink};
use super::fields::Fields;
use super::mail::{self, Mail};
use super::scalars::{
    abs_path, boolean, cidr, command, duration, family_word, int_in, interface, ip, list, name,
    nonempty, percent, positive, socket_addr, word,
};
use super::vrrp_track;
pub use super::vrrp_track::TrackRef;
use super::vrrp_vmac;
use super::yaml::{Item, Value};
use crate::secret::Secret;
pub use crate::vrrp::config::{
    AuthKind, Authentication, GarpConfig, TrackFile, TrackProcess, TrackScript, UseVmac,
};
use serde::Serialize;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default state directory.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/lbd";
/// Default control socket.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/lbd/control.sock";
/// Default metrics and status listener.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9180);
/// Default directory of external monitor scripts.
pub const DEFAULT_MONITOR_DIR: &str = "/usr/lib/lbd/monitors";
/// Default directory of alert scripts.
pub const DEFAULT_ALERT_DIR: &str = "/usr/lib/lbd/alerts";
/// Default IPVS sync-daemon multicast group and port (the kernel's own defaults).
pub const DEFAULT_SYNC_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 81);
pub const DEFAULT_SYNC_PORT: u16 = 8848;

/// This director.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Director {
    pub name: String,
    pub state_dir: PathBuf,
    pub control: Control,
    /// Where `/metrics` and the status page listen. Default 127.0.0.1:9180.
    pub listen: SocketAddr,
    /// How often the kernel table is compared with the desired one (drift repair). Default 10s.
    pub reconcile_interval: Duration,
    /// Largest share (percent) of a service's real servers that may leave the table in one
    /// pass; beyond it the removal is held back and an alert raised. Default 50.
    pub mass_removal_guard: u8,
    /// External monitor scripts (`monitor: {external: NAME}`) live here.
    pub monitor_dir: PathBuf,
    /// Alert scripts (`alert:` / `upalert:`) live here.
    pub alert_dir: PathBuf,
    pub vrrp: Vec<VrrpInstance>,
    /// keepalived's `vrrp_script`s, which instances name in `track.scripts`. Default none.
    pub track_scripts: Vec<TrackScript>,
    /// keepalived's `track_file`s, which instances name in `track.files`. Default none.
    pub track_files: Vec<TrackFile>,
    /// keepalived's `vrrp_track_process`es, which instances name in `track.processes`.
    /// Default none.
    pub track_processes: Vec<TrackProcess>,
    /// Run the VRRP thread in SCHED_RR at this priority (1-99), as keepalived's
    /// `vrrp_rt_priority`. Needs CAP_SYS_NICE; refused, lbd logs it and runs at the normal
    /// priority. Default none.
    pub vrrp_rt_priority: Option<u8>,
    pub sync_daemon: Option<SyncDaemon>,
    /// keepalived's `vrrp_sync_group`s: instances that fail over together. Default none.
    pub vrrp_sync_groups: Vec<super::vrrp_sync_group::SyncGroup>,
    /// Mail alerts through an SMTP relay (keepalived's smtp_alert). Default none.
    #[serde(default)]
    pub mail: Option<Mail>,
}

/// The control socket `lbctl` talks to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Control {
    pub socket: PathBuf,
    /// Group allowed to use the socket; `None`: root only.
    pub group: Option<String>,
    /// What everyone else may do: nothing (default: socket mode 0660) or read (0666, and only
    /// read-only requests are served to them).
    pub others: ControlOthers,
}

/// Access of peers that are neither root nor in the control group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ControlOthers {
    #[default]
    None,
    Read,
}

/// One VRRP virtual router (VRRPv3 unless `version: 2`). With both IPv4 and IPv6 VIPs it
/// advertises in its first VIP's family; the others move with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct VrrpInstance {
    pub name: String,
    /// Where adverts are sent and received.
    pub interface: String,
    pub vrid: u8,
    /// 3 (RFC 5798, the default) or 2 (RFC 3768, keepalived's default for IPv4: IPv4 only,
    /// whole seconds, optional authentication).
    pub version: u8,
    /// VRRPv2 only: keepalived's `authentication` (PASS or AH); the password is never shown.
    pub authentication: Option<Authentication>,
    /// 1-254, the highest becomes master; 255: the address owner (always master, tracking
    /// never lowers it).
    pub priority: u8,
    /// 10ms-40.95s in steps of 10ms (VRRPv2: whole seconds, 1s-255s). Default 1s.
    pub advert_interval: Duration,
    /// Default true.
    pub preempt: bool,
    /// Default 0s.
    pub preempt_delay: Duration,
    /// As master, no advert in reply to one of lower priority (keepalived's
    /// `lower_prio_no_advert`, the RFCs' behaviour). Default false.
    pub lower_prio_no_advert: bool,
    pub vips: Vec<Vip>,
    /// Send adverts to these peers instead of the multicast group; adverts from others are
    /// dropped (`unknown_peer`).
    pub unicast_peers: Vec<IpAddr>,
    /// The adverts' source address (keepalived's `unicast_src_ip`); default: the interface's.
    pub unicast_src_ip: Option<IpAddr>,
    pub track: Option<Track>,
    pub notify: Notify,
    /// Gratuitous ARP / unsolicited NA timing (keepalived's `garp_master_*`).
    pub garp: GarpConfig,
    /// keepalived's `use_vmac`: the VIPs of the advertised family, and the adverts, on a
    /// macvlan with the virtual router MAC; always a name once loaded (`true` is
    /// `vrrp.VRID`). Default none.
    pub use_vmac: Option<UseVmac>,
    /// keepalived's `vmac_xmit_base`: adverts on `interface`, not on the VMAC. Default false.
    pub vmac_xmit_base: bool,
}

impl VrrpInstance {
    /// The interface a VIP is added to: its own, or the instance's.
    pub fn vip_interface<'a>(&'a self, vip: &'a Vip) -> &'a str {
        vip.interface.as_deref().unwrap_or(&self.interface)
    }
}

/// A virtual address moved by VRRP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Vip {
    pub address: IpAddr,
    pub prefix: u8,
    /// Another interface than the instance's (for example the inside gateway on eth1).
    pub interface: Option<String>,
    /// Carried in the adverts or not; default: when on the instance's interface (and of the
    /// family of its first VIP). keepalived advertises every `virtual_ipaddress`, whatever
    /// its `dev`: `advertise: true` on another interface pairs with it.
    pub advertise: Option<bool>,
    /// The address's label (IPv4, keepalived's `label eth0:1`).
    pub label: Option<String>,
}

/// Interfaces whose loss lowers the priority (or, without a decrement, faults the instance),
/// and the track scripts and files whose state moves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Track {
    /// Interfaces, each with its own weight (keepalived's `track_interface IF weight W`) or
    /// none: then `priority_decrement`, or without one the fault state while it is down.
    pub interfaces: Vec<TrackRef>,
    pub priority_decrement: Option<u8>,
    /// Track scripts (`track_scripts` names), each with its weight or the script's.
    pub scripts: Vec<TrackRef>,
    /// Track files (`track_files` names), each with its weight or the file's.
    pub files: Vec<TrackRef>,
    /// Track processes (`track_processes` names), each with its weight or the process's.
    #[serde(default)]
    pub processes: Vec<TrackRef>,
}

/// Scripts run on state changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Notify {
    /// Each: an absolute program and its arguments, to which keepalived's four are appended.
    pub master: Option<Vec<String>>,
    pub backup: Option<Vec<String>>,
    pub fault: Option<Vec<String>>,
    /// Run when the instance stops (lbd stopping, or the instance removed by a reload).
    pub stop: Option<Vec<String>>,
    /// Each run's time limit (its process group is killed then), at most
    /// [`MAX_NOTIFY_TIMEOUT`]. Default 5s.
    pub timeout: Option<Duration>,
}

/// The longest notify `timeout`: lbd waits this long for the hooks when it stops.
pub const MAX_NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// The IPVS connection-sync daemon: master on the VRRP master, backup on the backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SyncDaemon {
    pub interface: String,
    pub sync_id: u8,
    /// Multicast group (default 224.0.0.81) or the peer director's unicast address.
    pub destination: SyncDestination,
    pub port: u16,
    pub ttl: u8,
    /// The VRRP instance whose role the daemon follows (master or backup). Default: the first
    /// instance; `None` only without any instance.
    pub instance: Option<String>,
}

/// Where sync messages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncDestination {
    Multicast(IpAddr),
    Peer(IpAddr),
}

/// Positions the cross-file checks need.
#[derive(Debug, Default)]
pub(crate) struct DirectorSpots {
    /// Every VIP address with its position.
    pub vips: Vec<(IpAddr, Pos)>,
}

/// Decodes `director.yaml`. Relative script directories are taken relative to `config_dir`.
pub(crate) fn decode(
    item: &Item,
    config_dir: &Path,
    sink: &mut Sink,
) -> Option<(Director, DirectorSpots)> {
    let mut f = Fields::of(item, "director.yaml", sink)?;
    let dir_name = f.req("name", sink, name);
    let state_dir = f.or("state_dir", sink, DEFAULT_STATE_DIR.into(), abs_path);
    let control = f.opt("control", sink, decode_control);
    let listen = f.or("listen", sink, DEFAULT_LISTEN, socket_addr);
    let reconcile_interval = f.or(
        "reconcile_interval",
        sink,
        Duration::from_secs(10),
        positive,
    );
    let guard = f.or("mass_removal_guard", sink, 50, percent);
    let rel = |item: &Item, sink: &mut Sink| nonempty(item, sink).map(|s| config_dir.join(s));
    let monitor_dir = f.or("monitor_dir", sink, DEFAULT_MONITOR_DIR.into(), rel);
    let alert_dir = f.or("alert_dir", sink, DEFAULT_ALERT_DIR.into(), rel);
    let mut spots = DirectorSpots::default();
    let scripts = f.or(
        "track_scripts",
        sink,
        Vec::new(),
        vrrp_track::decode_scripts,
    );
    let files = f.or("track_files", sink, Vec::new(), vrrp_track::decode_files);
    let script_names: Option<Vec<String>> = scripts
        .as_ref()
        .map(|v| v.iter().map(|s| s.name.clone()).collect());
    let file_names: Option<Vec<String>> = files
        .as_ref()
        .map(|v| v.iter().map(|s| s.name.clone()).collect());
    let processes = f.or(
        "track_processes",
        sink,
        Vec::new(),
        vrrp_track::decode_processes,
    );
    let process_names: Option<Vec<String>> = processes
        .as_ref()
        .map(|v| v.iter().map(|s| s.name.clone()).collect());
    let known = (
        script_names.as_deref(),
        file_names.as_deref(),
        process_names.as_deref(),
    );
    let vrrp = f.or("vrrp", sink, Vec::new(), |item, sink| {
        decode_instances(item, known, &mut spots, sink)
    });
    let vrrp_rt_priority = f.opt("vrrp_rt_priority", sink, int_in(1, 99, "vrrp_rt_priority"));
    let sync_daemon = f.opt("sync_daemon", sink, decode_sync);
    let instance_names: Option<Vec<String>> = vrrp
        .as_ref()
        .map(|v| v.iter().map(|i| i.name.clone()).collect());
    let vrrp_sync_groups = f.or("vrrp_sync_groups", sink, Vec::new(), |item, sink| {
        super::vrrp_sync_group::decode_groups(item, instance_names.as_deref(), sink)
    });
    let mail = f.opt("mail", sink, mail::decode);
    f.finish(sink);
    // The sync daemon follows one instance: the named one, which must exist, or the first.
    let sync_daemon = match (sync_daemon, &vrrp) {
        (Some(Some((mut s, instance_pos))), Some(instances)) => match &s.instance {
            Some(n) if !instances.iter().any(|i| i.name == *n) => {
                let names: Vec<&str> = instances.iter().map(|i| i.name.as_str()).collect();
                sink.error_hint(
                    instance_pos,
                    format!("sync_daemon instance `{n}` is not a VRRP instance"),
                    if names.is_empty() {
                        "no VRRP instance is configured".to_string()
                    } else {
                        format!("expected one of: {}", names.join(", "))
                    },
                );
                None
            }
            Some(_) => Some(Some(s)),
            None => {
                s.instance = instances.first().map(|i| i.name.clone());
                Some(Some(s))
            }
        },
        (Some(s), _) => Some(s.map(|(s, _)| s)),
        (None, _) => None,
    };
    let control = control?.unwrap_or_else(|| Control {
        socket: DEFAULT_CONTROL_SOCKET.into(),
        group: None,
        others: ControlOthers::None,
    });
    Some((
        Director {
            name: dir_name?,
            state_dir: state_dir?,
            control,
            listen: listen?,
            reconcile_interval: reconcile_interval?,
            mass_removal_guard: guard?,
            monitor_dir: monitor_dir?,
            alert_dir: alert_dir?,
            vrrp: vrrp?,
            track_scripts: scripts?,
            track_files: files?,
            track_processes: processes?,
            vrrp_rt_priority: vrrp_rt_priority?,
            sync_daemon: sync_daemon?,
            vrrp_sync_groups: vrrp_sync_groups?,
            mail: mail?,
        },
        spots,
    ))
}

fn decode_control(item: &Item, sink: &mut Sink) -> Option<Control> {
    let mut f = Fields::of(item, "control", sink)?;
    let socket = f.or("socket", sink, DEFAULT_CONTROL_SOCKET.into(), abs_path);
    let group = f.opt("group", sink, nonempty);
    let others = f.or(
        "others",
        sink,
        ControlOthers::None,
        word(
            "control access",
            &[("none", ControlOthers::None), ("read", ControlOthers::Read)],
        ),
    );
    f.finish(sink);
    Some(Control {
        socket: socket?,
        group: group?,
        others: others?,
    })
}

/// The track script, file and process names instances may reference.
type KnownTrack<'a> = (
    vrrp_track::Known<'a>,
    vrrp_track::Known<'a>,
    vrrp_track::Known<'a>,
);

fn decode_instances(
    item: &Item,
    known: KnownTrack,
    spots: &mut DirectorSpots,
    sink: &mut Sink,
) -> Option<Vec<VrrpInstance>> {
    let Value::Seq(items) = &item.value else {
        sink.error(
            item.pos,
            format!("expected a list of VRRP instances, found {}", item.kind()),
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    let mut names: HashMap<String, Pos> = HashMap::new();
    let mut vmac_pos = Vec::new();
    let mut vrids: HashMap<(String, u8), (String, Pos)> = HashMap::new();
    let mut vips: HashMap<IpAddr, String> = HashMap::new();
    for it in items {
        let Some(((inst, name_pos, vrid_pos, vip_pos), vmac_at)) = decode_instance(it, known, sink)
        else {
            ok = false;
            continue;
        };
        if let Some(first) = names.insert(inst.name.clone(), name_pos) {
            sink.error_hint(
                name_pos,
                format!("duplicate VRRP instance name `{}`", inst.name),
                format!("first used at line {}", first.line),
            );
            ok = false;
        }
        let key = (inst.interface.clone(), inst.vrid);
        if let Some((other, _)) = vrids.get(&key) {
            sink.error_hint(
                vrid_pos,
                format!(
                    "duplicate VRID {} on interface {}",
                    inst.vrid, inst.interface
                ),
                format!("instance `{other}` already uses it"),
            );
            ok = false;
        } else {
            vrids.insert(key, (inst.name.clone(), vrid_pos));
        }
        for (vip, pos) in inst.vips.iter().zip(vip_pos) {
            if let Some(other) = vips.insert(vip.address, inst.name.clone()) {
                sink.error_hint(
                    pos,
                    format!("VIP {} is carried twice", vip.address),
                    format!("instance `{other}` already carries it"),
                );
                ok = false;
            }
            spots.vips.push((vip.address, pos));
        }
        out.push(inst);
        vmac_pos.push(vmac_at);
    }
    ok &= vrrp_vmac::name_all(&mut out, &vmac_pos, sink);
    ok.then_some(out)
}

/// An instance, where its name, VRID and VIPs were written, and where its `use_vmac` was.
type InstanceAndSpots = ((VrrpInstance, Pos, Pos, Vec<Pos>), Pos);

fn decode_instance(item: &Item, known: KnownTrack, sink: &mut Sink) -> Option<InstanceAndSpots> {
    let mut f = Fields::of(item, "VRRP instance", sink)?;
    let inst_name = f.req("name", sink, name);
    let iface = f.req("interface", sink, interface);
    let vrid = f.req("vrid", sink, int_in(1, 255, "vrid"));
    let priority = f.req("priority", sink, int_in(1, 255, "priority"));
    let version = f.or("version", sink, 3, vrrp_version);
    let authentication = f.opt("authentication", sink, decode_auth);
    let advert = f.or("advert_interval", sink, Duration::from_secs(1), duration);
    let preempt = f.or("preempt", sink, true, boolean);
    let preempt_delay = f.or("preempt_delay", sink, Duration::ZERO, duration);
    let lower_prio_no_advert = f.or("lower_prio_no_advert", sink, false, boolean);
    let mut vip_pos = Vec::new();
    let vips = f.req("vips", sink, |item, sink| {
        decode_vips(item, &mut vip_pos, sink)
    });
    let peers = f.or("unicast_peers", sink, Vec::new(), list(ip));
    let src_ip = f.opt("unicast_src_ip", sink, ip);
    let track = f.opt("track", sink, |item, sink| decode_track(item, known, sink));
    let notify = f.opt("notify", sink, decode_notify);
    let garp = f.or("garp", sink, GarpConfig::default(), decode_garp);
    let vmac = vrrp_vmac::read(&mut f, sink);
    let (name_pos, vrid_pos, vips_pos) = (f.pos_of("name"), f.pos_of("vrid"), f.pos_of("vips"));
    let (advert_pos, version_pos) = (f.pos_of("advert_interval"), f.pos_of("version"));
    let auth_pos = f.key_pos("authentication");
    let (peers_pos, src_pos) = (f.pos_of("unicast_peers"), f.pos_of("unicast_src_ip"));
    f.finish(sink);
    let vips = vips?;
    if vips.is_empty() {
        sink.error(vips_pos, "VRRP instance has no VIPs");
        return None;
    }
    let first_v6 = vips[0].address.is_ipv6();
    if let Some((v, pos)) = vips
        .iter()
        .zip(&vip_pos)
        .find(|(v, _)| v.advertise == Some(true) && v.address.is_ipv6() != first_v6)
    {
        sink.error_hint(
            *pos,
            format!("VIP {} cannot be advertised", v.address),
            "adverts carry the addresses of the instance's family (its first VIP's): leave `advertise` out",
        );
        return None;
    }
    let (peers, src_ip) = (peers?, src_ip?);
    let unicast = Unicast {
        peers: &peers,
        src: src_ip,
        peers_pos,
        src_pos,
    };
    if !unicast.fits(&vips, sink) {
        return None;
    }
    let (vmac, iface) = (vmac?, iface?);
    if !vmac.fits(&iface, !peers.is_empty(), sink) {
        return None;
    }
    let (version, authentication, advert) = (version?, authentication?, advert?);
    if !advert_interval_fits(version, advert, advert_pos, sink) {
        return None;
    }
    if version == 2 && vips[0].address.is_ipv6() {
        sink.error_hint(
            version_pos,
            "VRRPv2 is IPv4 only",
            format!(
                "the first VIP {} is IPv6; version 3, the default, advertises IPv6",
                vips[0].address
            ),
        );
        return None;
    }
    if version == 3 && authentication.is_some() {
        sink.error_hint(
            auth_pos,
            "authentication needs version 2",
            "VRRPv3 has no authentication; keepalived's auth_type is VRRPv2 only: add `version: 2`",
        );
        return None;
    }
    Some((
        (
            VrrpInstance {
                name: inst_name?,
                interface: iface,
                vrid: vrid?,
                version,
                authentication,
                priority: priority?,
                advert_interval: advert,
                preempt: preempt?,
                preempt_delay: preempt_delay?,
                lower_prio_no_advert: lower_prio_no_advert?,
                vips,
                unicast_peers: peers,
                unicast_src_ip: src_ip,
                track: track?,
                notify: notify?.unwrap_or_default(),
                garp: garp?,
                use_vmac: vmac.use_vmac,
                vmac_xmit_base: vmac.xmit_base,
            },
            name_pos,
            vrid_pos,
            vip_pos,
        ),
        vmac.use_pos,
    ))
}

/// An instance's `unicast_peers` and `unicast_src_ip`, with where they were written.
struct Unicast<'a> {
    peers: &'a [IpAddr],
    src: Option<IpAddr>,
    peers_pos: Pos,
    src_pos: Pos,
}

impl Unicast<'_> {
    /// Peers and source are of the advertised family (the first VIP's), the source is no VIP,
    /// and over IPv6 both are link-local, as RFC 5798 wants adverts' sources.
    fn fits(&self, vips: &[Vip], sink: &mut Sink) -> bool {
        let v6 = vips[0].address.is_ipv6();
        let family = |a: &IpAddr| if a.is_ipv6() { "IPv6" } else { "IPv4" };
        let mut ok = true;
        let addrs = self
            .peers
            .iter()
            .map(|p| ("unicast peer", p, self.peers_pos));
        for (what, a, pos) in
            addrs.chain(self.src.iter().map(|s| ("unicast_src_ip", s, self.src_pos)))
        {
            if a.is_ipv6() != v6 {
                sink.error_hint(
                    pos,
                    format!(
                        "{what} {a} is {}, but the instance advertises {}",
                        family(a),
                        family(&vips[0].address)
                    ),
                    "the first VIP's family is the instance's; an instance advertises one family",
                );
                ok = false;
            } else if !crate::vrrp::config::link_local_or_v4(a) {
                sink.error_hint(
                    pos,
                    format!("{what} {a} is not link-local"),
                    "over IPv6, VRRPv3 adverts come from fe80::/10 addresses only: RFC 5798, section 5.1.2.1",
                );
                ok = false;
            }
        }
        if let Some(src) = self.src.filter(|s| vips.iter().any(|v| v.address == *s)) {
            sink.error_hint(
                self.src_pos,
                format!("unicast_src_ip {src} is one of the instance's VIPs"),
                "adverts come from the director's own address, which does not move",
            );
            ok = false;
        }
        ok
    }
}

/// `version`: 2 or 3.
fn vrrp_version(item: &Item, sink: &mut Sink) -> Option<u8> {
    match &item.value {
        Value::Int(n @ (2 | 3)) => Some(*n as u8),
        other => {
            let found = match other {
                Value::Int(n) => n.to_string(),
                _ => item.kind().to_string(),
            };
            sink.error_hint(
                item.pos,
                format!("VRRP version must be 2 or 3, not {found}"),
                "3 is RFC 5798 and the default; 2 is RFC 3768, IPv4 only",
            );
            None
        }
    }
}

/// RFC 5798 5.2.7: Max Advertise Interval is 12 bits of centiseconds; RFC 3768 5.3.7: Adver
/// Int is 8 bits of seconds.
fn advert_interval_fits(version: u8, d: Duration, pos: Pos, sink: &mut Sink) -> bool {
    let ms = d.as_millis();
    let (fits, allows) = if version == 2 {
        (
            ms % 1000 == 0 && (1..=255).contains(&(ms / 1000)),
            "VRRPv2 allows whole seconds, 1s to 255s",
        )
    } else {
        (
            (10..=40_950).contains(&ms) && ms % 10 == 0,
            "VRRPv3 allows 10ms to 40950ms in steps of 10ms",
        )
    };
    if !fits {
        sink.error_hint(pos, "advert_interval out of range", allows);
    }
    fits
}

/// `garp: {count, interval, delay, refresh, refresh_count, lower_prio_count,
/// lower_prio_delay}`, each defaulting to lbd's.
fn decode_garp(item: &Item, sink: &mut Sink) -> Option<GarpConfig> {
    use crate::vrrp::config::{GARP_MAX_COUNT, GARP_MAX_INTERVAL};
    let d = GarpConfig::default();
    let max = i128::from(GARP_MAX_COUNT);
    let mut f = Fields::of(item, "garp", sink)?;
    let count = f.or("count", sink, d.count, int_in(1, max, "garp count"));
    let interval = f.or("interval", sink, d.interval, duration);
    let delay = f.or("delay", sink, d.delay, duration);
    let refresh = f.or("refresh", sink, d.refresh, duration);
    let refresh_count = f.or(
        "refresh_count",
        sink,
        d.refresh_count,
        int_in(1, max, "garp refresh_count"),
    );
    let lower_prio_count = f.opt(
        "lower_prio_count",
        sink,
        int_in(0, max, "garp lower_prio_count"),
    );
    let lower_prio_delay = f.opt("lower_prio_delay", sink, duration);
    let interval_pos = f.pos_of("interval");
    f.finish(sink);
    let interval = interval?;
    if interval > GARP_MAX_INTERVAL {
        sink.error_hint(
            interval_pos,
            format!(
                "garp interval {} is longer than {}",
                crate::config::format_duration(interval),
                crate::config::format_duration(GARP_MAX_INTERVAL)
            ),
            "it spaces the messages of one burst: a few hundred milliseconds is usual",
        );
        return None;
    }
    Some(GarpConfig {
        count: count?,
        interval,
        delay: delay?,
        refresh: refresh?,
        refresh_count: refresh_count?,
        lower_prio_count: lower_prio_count?,
        lower_prio_delay: lower_prio_delay?,
    })
}

/// `authentication: {type: pass | ah, password: TEXT}` (keepalived's `auth_type`,
/// `auth_pass`). A password longer than 8 bytes is a warning: only 8 are used.
fn decode_auth(item: &Item, sink: &mut Sink) -> Option<Authentication> {
    let mut f = Fields::of(item, "authentication", sink)?;
    let kind = f.req(
        "type",
        sink,
        word(
            "authentication type",
            &[
                ("pass", AuthKind::Pass),
                ("ah", AuthKind::Ah),
                ("PASS", AuthKind::Pass),
                ("AH", AuthKind::Ah),
            ],
        ),
    );
    let password = f.req("password", sink, |item, sink| {
        let s = super::scalars::string(item, sink)?;
        if s.is_empty() {
            sink.error(item.pos, "authentication password is empty");
            return None;
        }
        Some(s)
    });
    let pw_pos = f.pos_of("password");
    f.finish(sink);
    let password = password?;
    if crate::vrrp::packet_v2::Password::truncates(&password) {
        sink.warn(
            pw_pos,
            "authentication password is longer than 8 bytes",
            Some(
                "VRRPv2 carries 8: only the first 8 are used, as keepalived truncates auth_pass"
                    .into(),
            ),
        );
    }
    Some(Authentication {
        kind: kind?,
        password: Secret::new(password),
    })
}

fn decode_vips(item: &Item, positions: &mut Vec<Pos>, sink: &mut Sink) -> Option<Vec<Vip>> {
    let Value::Seq(items) = &item.value else {
        sink.error(
            item.pos,
            format!("expected a list of VIPs, found {}", item.kind()),
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for it in items {
        let vip = match &it.value {
            Value::Map(_) => Fields::of(it, "VIP", sink).and_then(|mut f| {
                let addr = f.req("address", sink, cidr);
                let iface = f.opt("interface", sink, interface);
                let advertise = f.opt("advertise", sink, boolean);
                let label = f.opt("label", sink, nonempty);
                let label_pos = f.pos_of("label");
                f.finish(sink);
                let (address, prefix) = addr?;
                let label = label?;
                if let Some(why) = label
                    .as_deref()
                    .and_then(|l| crate::vrrp::config::label_problem(&address, l))
                {
                    sink.error(label_pos, format!("VIP {address}: label: {why}"));
                    return None;
                }
                Some(Vip {
                    address,
                    prefix,
                    interface: iface?,
                    advertise: advertise?,
                    label,
                })
            }),
            _ => cidr(it, sink).map(|(address, prefix)| Vip {
                address,
                prefix,
                interface: None,
                advertise: None,
                label: None,
            }),
        };
        match vip {
            Some(v) => {
                positions.push(match &it.value {
                    Value::Map(entries) => entries
                        .iter()
                        .find(|(k, _)| k.value == Value::Str("address".into()))
                        .map_or(it.pos, |(_, v)| v.pos),
                    _ => it.pos,
                });
                out.push(v);
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn decode_track(item: &Item, known: KnownTrack, sink: &mut Sink) -> Option<Track> {
    let mut f = Fields::of(item, "track", sink)?;
    let interfaces = f.or(
        "interfaces",
        sink,
        Vec::new(),
        vrrp_track::decode_interfaces,
    );
    let decrement = f.opt(
        "priority_decrement",
        sink,
        int_in(1, 253, "priority_decrement"),
    );
    let scripts = f.or("scripts", sink, Vec::new(), |item, sink| {
        vrrp_track::decode_refs(item, "track script", known.0, sink)
    });
    let files = f.or("files", sink, Vec::new(), |item, sink| {
        vrrp_track::decode_refs(item, "track file", known.1, sink)
    });
    let processes = f.or("processes", sink, Vec::new(), |item, sink| {
        vrrp_track::decode_refs(item, "track process", known.2, sink)
    });
    f.finish(sink);
    Some(Track {
        interfaces: interfaces?,
        priority_decrement: decrement?,
        scripts: scripts?,
        files: files?,
        processes: processes?,
    })
}

pub(crate) fn decode_notify(item: &Item, sink: &mut Sink) -> Option<Notify> {
    let mut f = Fields::of(item, "notify", sink)?;
    let master = f.opt("master", sink, command("notify"));
    let backup = f.opt("backup", sink, command("notify"));
    let fault = f.opt("fault", sink, command("notify"));
    let stop = f.opt("stop", sink, command("notify"));
    let timeout = f.opt("timeout", sink, notify_timeout);
    f.finish(sink);
    Some(Notify {
        master: master?,
        backup: backup?,
        fault: fault?,
        stop: stop?,
        timeout: timeout?,
    })
}

fn notify_timeout(item: &Item, sink: &mut Sink) -> Option<Duration> {
    let d = duration(item, sink)?;
    if d.is_zero() || d > MAX_NOTIFY_TIMEOUT {
        sink.error_hint(
            item.pos,
            "notify timeout out of range",
            "more than 0s and at most 10s: lbd waits at most 10s for the hooks when it stops",
        );
        return None;
    }
    Some(d)
}

fn decode_sync(item: &Item, sink: &mut Sink) -> Option<(SyncDaemon, Pos)> {
    let mut f = Fields::of(item, "sync_daemon", sink)?;
    let iface = f.req("interface", sink, interface);
    let sync_id = f.req("sync_id", sink, int_in(0, 255, "sync_id"));
    let group = f.opt("multicast_group", sink, ip);
    let peer = f.opt("peer", sink, ip);
    let port = f.or("port", sink, DEFAULT_SYNC_PORT, super::scalars::port);
    let ttl = f.or("ttl", sink, 1, int_in(1, 255, "ttl"));
    let instance = f.opt("instance", sink, name);
    let (group_pos, peer_pos) = (f.pos_of("multicast_group"), f.pos_of("peer"));
    let instance_pos = f.pos_of("instance");
    f.finish(sink);
    let destination = match (group?, peer?) {
        (Some(_), Some(_)) => {
            sink.error_hint(
                peer_pos,
                "sync_daemon has both multicast_group and peer",
                "give one of them",
            );
            return None;
        }
        (Some(g), None) if !g.is_multicast() => {
            sink.error_hint(
                group_pos,
                format!("multicast_group {g} is not a multicast address"),
                "for a unicast peer director use `peer:`",
            );
            return None;
        }
        (None, Some(p)) if p.is_multicast() || p.is_unspecified() => {
            sink.error(
                peer_pos,
                format!("peer {p} is not a unicast {} address", family_word(&p)),
            );
            return None;
        }
        (Some(g), None) => SyncDestination::Multicast(g),
        (None, Some(p)) => SyncDestination::Peer(p),
        (None, None) => SyncDestination::Multicast(IpAddr::V4(DEFAULT_SYNC_GROUP)),
    };
    Some((
        SyncDaemon {
            interface: iface?,
            sync_id: sync_id?,
            destination,
            port: port?,
            ttl: ttl?,
            instance: instance?,
        },
        instance_pos,
    ))
}
