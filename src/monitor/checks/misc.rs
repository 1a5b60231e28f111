//! `misc`: keepalived's MISC_CHECK, a program run once per real server and check, in its own
//! process group, killed with the group at the check's timeout. Its arguments may name the real
//! server: `{address}` and `{port}` are replaced (and `LBD_NODE_ADDRESS` / `LBD_PORT` are in
//! its environment). Exit 0 passes, anything else fails; with `dynamic` (keepalived's
//! `misc_dynamic`) exit 1 fails and 2-255 pass with the weight exit − 2. [`judge`] is pure.

use crate::monitor::outcome::{CheckError, Outcome, Pass};
use crate::monitor::process::{self, ProcessSpec};
use crate::monitor::spec::MiscCheck;
use std::net::IpAddr;
use std::time::Duration;

/// What an exit (`code`, or the `signal` that ended it) means.
pub fn judge(code: Option<i32>, signal: Option<i32>, dynamic: bool) -> Outcome {
    match (code, signal) {
        (Some(0), _) => Ok(Pass::default()),
        (Some(c @ 2..=255), _) if dynamic => Ok(Pass {
            weight: Some(c as u32 - 2),
            ..Pass::default()
        }),
        (Some(c), _) => Err(CheckError::Monitor(format!("exit {c}"))),
        (None, Some(s)) => Err(CheckError::Monitor(format!("killed by signal {s}"))),
        (None, None) => Err(CheckError::Monitor("ended without a status".into())),
    }
}

pub async fn check(spec: &MiscCheck, addr: IpAddr, timeout: Duration) -> Outcome {
    let (address, port) = (addr.to_string(), spec.port.to_string());
    let run = ProcessSpec {
        program: spec.path.clone(),
        args: spec
            .args
            .iter()
            .map(|a| a.replace("{address}", &address).replace("{port}", &port))
            .collect(),
        env: vec![
            ("LBD_NODE_ADDRESS".into(), address),
            ("LBD_PORT".into(), port),
        ],
        stdin: Vec::new(),
        user: spec.user.clone(),
        timeout,
        clear_env: false,
    };
    match process::run(&run).await {
        Err(e) => Err(CheckError::Monitor(e.to_string())),
        Ok(r) if r.timed_out => Err(CheckError::Timeout(
            u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        )),
        Ok(r) => judge(r.code, r.signal, spec.dynamic),
    }
}

#[cfg(test)]
mod tests {
    use super::judge;
    use crate::monitor::outcome::CheckError;

    #[test]
    fn exits_mean_what_keepalived_makes_them_mean() {
        assert_eq!(judge(Some(0), None, false).unwrap().weight, None);
        assert_eq!(judge(Some(0), None, true).unwrap().weight, None);
        assert_eq!(
            judge(Some(1), None, true),
            Err(CheckError::Monitor("exit 1".into()))
        );
        assert_eq!(judge(Some(2), None, true).unwrap().weight, Some(0));
        assert_eq!(judge(Some(12), None, true).unwrap().weight, Some(10));
        assert_eq!(judge(Some(255), None, true).unwrap().weight, Some(253));
        assert_eq!(
            judge(Some(12), None, false),
            Err(CheckError::Monitor("exit 12".into()))
        );
        assert_eq!(
            judge(None, Some(9), true),
            Err(CheckError::Monitor("killed by signal 9".into()))
        );
    }
}
