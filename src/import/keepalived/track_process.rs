//! keepalived's `vrrp_track_process NAME { process ...; param_match ...; weight ...; quorum
//! ...; quorum_max ...; delay / fork_delay / terminate_delay ...; full_command }` →
//! director.yaml's `track_processes` (the same words). A name longer than the 15 bytes the
//! kernel keeps without `full_command` or parameters is dropped with the reason (lbd refuses
//! it: keepalived could never match it either); a reverse weight is dropped.

use super::findings::Report;
use super::tree::Node;
use super::values::{int_in, timer};
use crate::config::format_duration;
use crate::import::yaml_out::Y;
use crate::vrrp::track_process::COMM_LEN;

/// One `vrrp_track_process` block as a `track_processes` entry named `name`, or None (reported)
/// when it cannot be carried.
pub fn definition(n: &Node, name: &str, report: &mut Report) -> Option<Y> {
    let mut y = Y::map();
    y.set("name", Y::str(name));
    let mut argv: Vec<String> = Vec::new();
    let mut cmdline = false;
    let (mut quorum, mut quorum_max) = (1, None);
    for c in n.children() {
        let k = c.keyword.as_str();
        match k {
            "process" => {
                argv = c.args.iter().map(|a| a.text.clone()).collect();
                cmdline |= argv.len() > 1;
            }
            "param_match" => match c.arg(0) {
                Some(m @ ("initial" | "partial")) => {
                    y.set("param_match", Y::str(m));
                    cmdline = true;
                }
                _ => report.dropped(&c.at, k, "expected initial or partial"),
            },
            "full_command" => {
                y.set("full_command", Y::Bool(true));
                cmdline = true;
            }
            "weight" => match c.arg(0).and_then(|w| int_in(w, -253, 253)) {
                Some(w) => {
                    y.set("weight", Y::Int(w));
                    if c.arg(1).is_some_and(|r| r != "noreverse") {
                        report.dropped(&c.at, k, "lbd has no reverse weights");
                    }
                }
                None => report.dropped(&c.at, k, "not a weight -253..253"),
            },
            "quorum" | "quorum_max" => match c.arg(0).and_then(|v| int_in(v, 0, 65535)) {
                Some(v) => {
                    y.set(k, Y::Int(v));
                    if k == "quorum" {
                        quorum = v;
                    } else {
                        quorum_max = Some(v);
                    }
                }
                None => report.dropped(&c.at, k, "not a count 0-65535"),
            },
            "delay" | "fork_delay" | "terminate_delay" => match c.arg(0).and_then(timer) {
                Some(t) => {
                    y.set(k, Y::str(format_duration(t)));
                }
                None => report.dropped(&c.at, k, "not a time in seconds"),
            },
            _ => report.dropped(
                &c.at,
                k,
                "lbd has no equivalent of this vrrp_track_process setting",
            ),
        }
    }
    let Some(first) = argv.first() else {
        report.dropped(&n.at, &n.keyword, "no process");
        return None;
    };
    if !cmdline && first.len() > COMM_LEN {
        report.dropped(
            &n.at,
            &n.keyword,
            format!(
                "process name `{first}` is longer than the {COMM_LEN} bytes the kernel keeps: \
                 add full_command"
            ),
        );
        return None;
    }
    if quorum_max.is_some_and(|m| m < quorum) {
        report.dropped(&n.at, &n.keyword, "quorum_max is below quorum");
        return None;
    }
    let process = if argv.len() == 1 {
        Y::str(first)
    } else {
        Y::Seq(argv.iter().map(Y::str).collect())
    };
    y.set("process", process);
    Some(y)
}
