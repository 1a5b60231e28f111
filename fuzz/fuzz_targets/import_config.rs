//! Fuzz target for the importers (`lbctl import keepalived|ipvsadm|ldirectord`): the first byte
//! picks the importer (0 keepalived, 1 ipvsadm, 2 ldirectord, by value mod 3), the rest is the
//! configuration file. Any bytes give a translation or an error naming a line of that file,
//! never a panic; a keepalived include of anything is simply missing (one file in memory).
//!
//!   fuzz/run [SECONDS]      (CI: every target for 20 s, stable Rust, `cargo fuzz run -s none`)
//!
//! Seeds: tests/fixtures/keepalived/*/keepalived.conf, tests/fixtures/ipvsadm/rules.save and
//! tests/fixtures/ldirectord.cf, written by `fuzz/run` into `fuzz/corpus/import_config/`.
#![no_main]

use lbd::import::keepalived::{self, source::Memory, Options};
use lbd::import::{ipvsadm, ldirectord};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let path = Path::new("/etc/lb/input.conf");
    let result = match which % 3 {
        0 => {
            let source = Memory::default().with("/etc/lb/input.conf", &text);
            let options = Options {
                config_id: Some("lb1".into()),
                default_name: "lb1".into(),
                lbd: keepalived::Lbd {
                    vrrp_v2: true,
                    vrrp_auth: true,
                },
            };
            keepalived::import(&source, path, &options)
        }
        1 => ipvsadm::import(path, &text, "lb1"),
        _ => ldirectord::import(path, &text, "lb1"),
    };
    match result {
        Ok(import) => {
            for f in &import.files {
                let _ = f.text();
            }
            for finding in &import.report.findings {
                assert!(
                    !finding.keyword.is_empty() || finding.at.line > 0,
                    "{finding}"
                );
            }
        }
        Err(e) => {
            let lines = text.lines().count().max(1) as u32;
            assert!(e.at.line <= lines + 1, "{e} (of {lines} lines)");
        }
    }
});
