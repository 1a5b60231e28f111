//! External monitors in Mon's mon.d convention: `DIR/NAME ARGS... HOST...` runs once per
//! interval for all nodes of a watch; exit 0 means every host passed, otherwise the first line
//! of the output (the summary) lists the failing hosts and the rest is detail.

use super::outcome::{CheckError, Outcome, Pass};
use super::process::{self, ProcessSpec};
use super::spec::ExternalCheck;
use std::path::PathBuf;
use std::time::Duration;

/// Splits a monitor's result into one outcome per host (in the order of `hosts`). Hosts are
/// matched in the summary by any of their names (node name or address). When the monitor
/// failed but names none of ours, every host fails: the failure cannot be attributed. Never
/// panics, whatever the bytes.
pub fn judge(exit_ok: bool, output: &[u8], hosts: &[Vec<String>]) -> Vec<Outcome> {
    if exit_ok {
        return hosts.iter().map(|_| Ok(Pass::default())).collect();
    }
    let text = String::from_utf8_lossy(output);
    let mut lines = text.lines();
    let summary = lines.next().unwrap_or("").trim().to_string();
    let detail: String = lines.take(20).collect::<Vec<_>>().join("\n");
    let words: Vec<&str> = summary.split_whitespace().collect();
    let named: Vec<bool> = hosts
        .iter()
        .map(|names| names.iter().any(|n| words.contains(&n.as_str())))
        .collect();
    let any_named = named.iter().any(|n| *n);
    let message = if detail.trim().is_empty() {
        summary.clone()
    } else {
        format!("{summary}\n{detail}")
    };
    named
        .into_iter()
        .map(|n| {
            if n || !any_named {
                Err(CheckError::Monitor(message.clone()))
            } else {
                Ok(Pass::default())
            }
        })
        .collect()
}

/// Where the monitor's program is.
pub fn program(spec: &ExternalCheck) -> PathBuf {
    let p = PathBuf::from(&spec.monitor);
    if p.is_absolute() {
        p
    } else {
        spec.dir.join(p)
    }
}

/// Runs the monitor for `hosts` (each given by its names; the first is passed on the command
/// line) and returns one outcome per host.
pub async fn check(
    spec: &ExternalCheck,
    group: &str,
    service: &str,
    hosts: &[Vec<String>],
    timeout: Duration,
) -> Vec<Outcome> {
    let mut args = spec.args.clone();
    args.extend(hosts.iter().filter_map(|h| h.first().cloned()));
    let ps = ProcessSpec {
        program: program(spec),
        args,
        env: vec![
            ("MON_GROUP".into(), group.into()),
            ("MON_SERVICE".into(), service.into()),
            ("LBD_GROUP".into(), group.into()),
            ("LBD_SERVICE".into(), service.into()),
        ],
        clear_env: false,
        stdin: Vec::new(),
        user: spec.user.clone(),
        timeout,
    };
    match process::run(&ps).await {
        Ok(r) if r.timed_out => {
            let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
            hosts.iter().map(|_| Err(CheckError::Timeout(ms))).collect()
        }
        Ok(r) => judge(r.code == Some(0), &r.stdout, hosts),
        Err(e) => hosts
            .iter()
            .map(|_| Err(CheckError::Monitor(e.to_string())))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Vec<Vec<String>> {
        vec![
            vec!["rs1".into(), "198.51.100.11".into()],
            vec!["rs2".into(), "198.51.100.12".into()],
        ]
    }

    #[test]
    fn summary_lines_split_per_host() {
        let ok = |o: &Outcome| o.is_ok();
        assert!(judge(true, b"garbage", &hosts()).iter().all(ok));
        let r = judge(false, b"198.51.100.12\nrs2: HTTP 503\n", &hosts());
        assert!(r[0].is_ok());
        assert_eq!(
            r[1],
            Err(CheckError::Monitor("198.51.100.12\nrs2: HTTP 503".into()))
        );
        let r = judge(false, b"rs1 rs2", &hosts());
        assert!(r.iter().all(|o| o.is_err()));
        // Unattributable failure: everyone fails.
        let r = judge(false, b"", &hosts());
        assert!(r.iter().all(|o| o.is_err()));
        let r = judge(false, b"\xff\xfe\n\x00", &hosts());
        assert_eq!(r.len(), 2);
    }

    proptest::proptest! {
        #[test]
        fn judging_never_panics(out in proptest::collection::vec(proptest::num::u8::ANY, 0..512), ok: bool) {
            let r = judge(ok, &out, &hosts());
            proptest::prop_assert_eq!(r.len(), 2);
        }
    }
}
