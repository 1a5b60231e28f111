//! keepalived's `use_vmac [NAME [MAC]]` and `vmac_xmit_base` → an instance's `use_vmac` and
//! `vmac_xmit_base`, with keepalived's own corrections: a name the kernel would refuse falls
//! back to the default one (global `vmac_prefix` taken into account), `vmac_xmit_base` alone
//! means nothing, and unicast peers turn it on.

use super::findings::Report;
use super::tree::Node;
use crate::import::yaml_out::Y;
use crate::vrrp::vmac::name_problem;

/// The two statements of one instance, as found.
#[derive(Debug, Default)]
pub struct VmacStatements<'a> {
    use_vmac: Option<&'a Node>,
    xmit_base: Option<&'a Node>,
}

impl<'a> VmacStatements<'a> {
    /// Takes `c` if it is `use_vmac` or `vmac_xmit_base`.
    pub fn read(&mut self, c: &'a Node) -> bool {
        match c.keyword.as_str() {
            "use_vmac" => self.use_vmac = Some(c),
            "vmac_xmit_base" => self.xmit_base = Some(c),
            _ => return false,
        }
        true
    }

    /// Writes the keys into instance `y` (VRID `vrid`); `unicast` when it has unicast peers,
    /// `other_family` the VIPs of the other family that name no interface.
    pub fn yaml(
        &self,
        y: &mut Y,
        vrid: i64,
        unicast: bool,
        other_family: &[String],
        prefix: Option<&str>,
        report: &mut Report,
    ) {
        let Some(u) = self.use_vmac else {
            if let Some(x) = self.xmit_base {
                report.ignored(
                    &x.at,
                    "vmac_xmit_base",
                    "keepalived ignores it without use_vmac",
                );
            }
            return;
        };
        let default = prefix.map(|p| format!("{p}.{vrid}"));
        let name = match u.arg(0) {
            Some(n) => match name_problem(n) {
                None => Some(n.to_string()),
                Some(why) => {
                    report.approximated(
                        u.arg_at(0),
                        "use_vmac",
                        format!("{n}: {why}; keepalived ignores such a name and takes its default"),
                    );
                    default
                }
            },
            None => default,
        };
        if let Some(mac) = u.arg(1) {
            report.dropped(
                u.arg_at(1),
                mac,
                "lbd gives the VMAC the virtual router MAC 00:00:5e:00:01:VRID (IPv6 00:00:5e:00:02:VRID)",
            );
        }
        match name.filter(|n| name_problem(n).is_none()) {
            Some(n) => {
                report.translated(&u.at, format!("use_vmac → use_vmac: {n}"));
                y.set("use_vmac", Y::str(n));
            }
            None => {
                report.translated(&u.at, "use_vmac → use_vmac: true (vrrp.VRID)");
                y.set("use_vmac", Y::Bool(true));
            }
        }
        match (self.xmit_base, unicast) {
            (Some(x), _) => {
                report.translated(&x.at, "vmac_xmit_base → vmac_xmit_base: true");
                y.set("vmac_xmit_base", Y::Bool(true));
            }
            (None, true) => {
                report.translated(
                    &u.at,
                    "use_vmac with unicast_peer → vmac_xmit_base: true (keepalived sets it itself)",
                );
                y.set("vmac_xmit_base", Y::Bool(true));
            }
            (None, false) => {}
        }
        for v in other_family {
            report.approximated(&u.at, "use_vmac", format!("{v} stays on the instance's interface: keepalived puts it on the VMAC, whose MAC is of the other family"));
        }
    }
}
