//! For the importers' tests: the files of an import written to a directory and loaded as
//! `lbctl check` does.

use super::keepalived::{Import, OutFile};

pub(crate) fn load(i: &Import) -> crate::config::Config {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["hostgroups", "services"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    for f in &i.files {
        std::fs::write(dir.path().join(&f.path), f.text()).unwrap();
    }
    match crate::config::load(dir.path()) {
        Ok(l) => l.config,
        Err(e) => panic!(
            "lbd refuses the import: {e}\n{}",
            i.files.iter().map(OutFile::text).collect::<String>()
        ),
    }
}
