//! An instance's `use_vmac` (`true` or an interface name) and `vmac_xmit_base` in
//! director.yaml: decoded with their positions, checked against the instance's interface and
//! unicast peers, and, across instances, every VMAC named (keepalived's default `vrrp.VRID`,
//! `crate::vrrp::vmac::default_name`) with no name used twice.

use super::diagnostic::{Pos, Sink};
use super::director::VrrpInstance;
use super::fields::Fields;
use super::scalars::{boolean, interface};
use super::yaml::{Item, Value};
use crate::vrrp::config::UseVmac;
use crate::vrrp::packet::Family;
use crate::vrrp::vmac::default_name;
use std::collections::HashMap;

/// The two keys as written.
pub(super) struct VmacKeys {
    pub use_vmac: Option<UseVmac>,
    pub xmit_base: bool,
    pub use_pos: Pos,
    xmit_pos: Pos,
}

/// Reads `use_vmac` and `vmac_xmit_base` from an instance's mapping.
pub(super) fn read(f: &mut Fields, sink: &mut Sink) -> Option<VmacKeys> {
    let use_vmac = f.opt("use_vmac", sink, use_vmac);
    let xmit_base = f.or("vmac_xmit_base", sink, false, boolean);
    Some(VmacKeys {
        use_vmac: use_vmac?,
        xmit_base: xmit_base?,
        use_pos: f.pos_of("use_vmac"),
        xmit_pos: f.pos_of("vmac_xmit_base"),
    })
}

/// `true`, `false` or an interface name.
fn use_vmac(item: &Item, sink: &mut Sink) -> Option<UseVmac> {
    match &item.value {
        Value::Bool(true) => Some(UseVmac::Auto),
        Value::Bool(false) => None,
        Value::Str(_) => interface(item, sink).map(UseVmac::Named),
        _ => {
            sink.error_hint(
                item.pos,
                format!(
                    "expected true, false or an interface name, found {}",
                    item.kind()
                ),
                "`use_vmac: true` names the VMAC vrrp.VRID, as keepalived does",
            );
            None
        }
    }
}

impl VmacKeys {
    /// `vmac_xmit_base` only with a VMAC; unicast peers only with `vmac_xmit_base`; the VMAC
    /// is not the instance's own interface.
    pub(super) fn fits(&self, iface: &str, unicast: bool, sink: &mut Sink) -> bool {
        match &self.use_vmac {
            None if self.xmit_base => {
                sink.error_hint(
                    self.xmit_pos,
                    "vmac_xmit_base needs use_vmac",
                    "it sends the adverts on the interface instead of the VMAC: add `use_vmac: true` or remove it",
                );
                false
            }
            Some(UseVmac::Named(n)) if n == iface => {
                sink.error_hint(
                    self.use_pos,
                    format!("use_vmac `{n}` is the instance's own interface"),
                    "lbd creates the VMAC on `interface`: give it a name of its own, or `true` for vrrp.VRID",
                );
                false
            }
            Some(_) if unicast && !self.xmit_base => {
                sink.error_hint(
                    self.use_pos,
                    "use_vmac with unicast_peers needs `vmac_xmit_base: true`",
                    "unicast adverts are sent to the peer's own MAC and arrive on its interface, not on its VMAC; keepalived sets vmac_xmit_base itself",
                );
                false
            }
            _ => true,
        }
    }
}

/// Names every instance's VMAC: a `true` gets keepalived's default (`vrrp.VRID`, or the
/// next free one when another instance has it); a name two instances give, or that is an
/// interface the configuration uses, is refused at `pos[i]`.
pub(super) fn name_all(insts: &mut [VrrpInstance], pos: &[Pos], sink: &mut Sink) -> bool {
    let mut ifaces: Vec<String> = Vec::new();
    for i in insts.iter() {
        ifaces.push(i.interface.clone());
        ifaces.extend(i.vips.iter().filter_map(|v| v.interface.clone()));
    }
    let mut taken: HashMap<String, String> = HashMap::new();
    let mut ok = true;
    for (inst, at) in insts.iter().zip(pos) {
        let Some(UseVmac::Named(n)) = &inst.use_vmac else {
            continue;
        };
        if ifaces.contains(n) {
            sink.error_hint(
                *at,
                format!("use_vmac `{n}` is an interface this configuration uses"),
                "lbd creates the VMAC: give it a name no other interface has",
            );
            ok = false;
        } else if let Some(other) = taken.insert(n.clone(), inst.name.clone()) {
            sink.error_hint(
                *at,
                format!("use_vmac `{n}` is also instance `{other}`'s"),
                "each instance needs a VMAC of its own",
            );
            ok = false;
        }
    }
    for inst in insts.iter_mut() {
        if inst.use_vmac != Some(UseVmac::Auto) {
            continue;
        }
        let family = Family::of(&inst.vips[0].address);
        let n = default_name(inst.vrid, family, |n| {
            taken.contains_key(n) || ifaces.iter().any(|i| i == n)
        });
        taken.insert(n.clone(), inst.name.clone());
        inst.use_vmac = Some(UseVmac::Named(n));
    }
    ok
}
