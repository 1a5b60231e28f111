//! Property tests: whatever bytes sit in `director.yaml`, a hostgroup or a service file, the
//! loader returns (a configuration or errors) and never panics; every error it reports names a
//! file inside the configuration directory. Mutations of the valid example exercise the
//! decoders deeper than random bytes reach.

use proptest::prelude::*;
use std::fs;
use std::path::{Path, PathBuf};

const KINDS: [&str; 3] = [
    "director.yaml",
    "hostgroups/http_nodes.yaml",
    "services/http.yaml",
];

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

fn copy_example(to: &Path) {
    for sub in ["", "hostgroups", "services"] {
        fs::create_dir_all(to.join(sub)).expect("mkdir");
        for e in fs::read_dir(example().join(sub)).expect("read example") {
            let e = e.expect("entry");
            if e.file_type().expect("type").is_file() {
                fs::copy(e.path(), to.join(sub).join(e.file_name())).expect("copy");
            }
        }
    }
}

fn load_with(kind: usize, bytes: &[u8]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_example(dir.path());
    fs::write(dir.path().join(KINDS[kind % KINDS.len()]), bytes).expect("write");
    match lbd::config::load(dir.path()) {
        Ok(_) => {}
        Err(e) => {
            prop_assert!(!e.errors.is_empty());
            for d in &e.errors {
                prop_assert!(d.file.starts_with(dir.path()), "{d}");
                prop_assert!(!d.message.is_empty());
            }
        }
    }
    Ok(())
}

/// Text that looks like YAML: keys the format uses, values of every kind, YAML punctuation.
fn yamlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("name: ".to_string()),
        Just("nodes:\n".to_string()),
        Just("  - ".to_string()),
        Just("watch:\n  monitor: ".to_string()),
        Just("virtual: {address: 192.0.2.10, port: 80}\n".to_string()),
        Just("vrrp:\n  - vips: [".to_string()),
        Just("persistent: {netmask: ".to_string()),
        Just("&a ".to_string()),
        Just("*a".to_string()),
        Just("<<: *a\n".to_string()),
        Just("---\n".to_string()),
        Just("\"\\x".to_string()),
        Just("!!binary ".to_string()),
        Just("? ".to_string()),
        Just("|\n".to_string()),
        "[ -~]{0,12}",
        "[0-9]{1,25}",
        Just("\n".to_string()),
        Just("\t".to_string()),
        Just("}]".to_string()),
    ];
    prop::collection::vec(token, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(kind in 0usize..3, bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        load_with(kind, &bytes)?;
    }

    #[test]
    fn yaml_like_text_never_panics(kind in 0usize..3, text in yamlish()) {
        load_with(kind, text.as_bytes())?;
    }

    #[test]
    fn mutated_example_never_panics(
        kind in 0usize..3,
        cut in any::<prop::sample::Index>(),
        insert in "[ -~\n]{0,8}",
    ) {
        let original = fs::read_to_string(example().join(KINDS[kind])).expect("example");
        let mut at = cut.index(original.len() + 1);
        while !original.is_char_boundary(at) {
            at -= 1;
        }
        let (head, tail) = original.split_at(at);
        let mutated = format!("{head}{insert}{tail}");
        load_with(kind, mutated.as_bytes())?;
    }
}
