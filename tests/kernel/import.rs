//! `lbctl import ipvsadm` against the real ipvsadm: rules restored with `ipvsadm-restore`,
//! saved with `ipvsadm-save -n`, imported, the table flushed, and `lbctl apply` of the
//! imported configuration must give back the same table (as `ipvsadm -S -n` shows it).

use super::ipvs::Netns;
use super::ipvsadm::parse_save;
use libtest_mimic::{Failed, Trial};

pub fn tests() -> Vec<Trial> {
    vec![Trial::test(
        "import::ipvsadm_rules_round_trip_through_lbctl_apply",
        round_trip,
    )]
}

const RULES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/ipvsadm/rules.save"
);

fn round_trip() -> Result<(), Failed> {
    let ns = Netns::new("import")?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    ns.exec(&format!("ipvsadm-restore < {RULES}"))?;
    let saved = ns.exec("ipvsadm-save -n")?;
    let before = parse_save(&saved)?;
    if before.services.len() != 5 {
        return Err(format!(
            "ipvsadm-restore gave {} services:\n{saved}",
            before.services.len()
        )
        .into());
    }
    let save_file = dir.path().join("rules");
    std::fs::write(&save_file, &saved).map_err(|e| e.to_string())?;
    let out = dir.path().join("lbd");
    let lbctl = env!("CARGO_BIN_EXE_lbctl");
    let import = std::process::Command::new(lbctl)
        .args(["import", "ipvsadm"])
        .arg(&save_file)
        .args(["--name", "dir1", "--out"])
        .arg(&out)
        .output()
        .map_err(|e| format!("lbctl import: {e}"))?;
    if !import.status.success() {
        return Err(format!(
            "lbctl import ipvsadm failed: {}{}",
            String::from_utf8_lossy(&import.stdout),
            String::from_utf8_lossy(&import.stderr)
        )
        .into());
    }
    ns.exec("ipvsadm -C")?;
    let applied = ns.exec(&format!("{lbctl} -c {} apply", out.display()))?;
    let again = ns.exec("ipvsadm-save -n")?;
    let after = parse_save(&again)?;
    if after != before {
        return Err(format!(
            "the imported configuration does not give the same table ({applied}):\nipvsadm:\n{saved}\nlbd:\n{again}"
        )
        .into());
    }
    // Converged: a second apply sends nothing.
    let second = ns.exec(&format!("{lbctl} -c {} apply", out.display()))?;
    if second.trim() != "applied 0 of 0 operations" {
        return Err(format!("second apply: {second:?}").into());
    }
    Ok(())
}
