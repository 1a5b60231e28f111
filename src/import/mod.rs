//! `lbctl import`: configurations of other load-balancer tools translated into lbd's
//! configuration directory. Each importer is pure (text in, files and findings out); reading
//! the source files and writing the directory happen in `cli/import.rs`.

pub mod ipvsadm;
#[cfg(test)]
mod ipvsadm_tests;
pub mod keepalived;
pub mod ldirectord;
#[cfg(test)]
mod ldirectord_tests;
pub mod yaml_out;

#[cfg(test)]
pub(crate) mod test_load;

use keepalived::{OutFile, Pos};
use std::path::Path;
use std::sync::Arc;
use yaml_out::Y;

/// `director.yaml` of a one-file importer (ipvsadm, ldirectord): the director's `name`, from
/// the whole of `file` (`text`), which says `what` it was.
pub(crate) fn director_file(
    tool: &'static str,
    file: &Arc<Path>,
    text: &str,
    name: &str,
    what: &str,
) -> OutFile {
    let mut director = Y::map();
    director.set("name", Y::str(name));
    OutFile {
        tool,
        path: "director.yaml".into(),
        origin: vec![(
            Pos {
                file: file.clone(),
                line: 1,
                column: 0,
            },
            u32::try_from(text.lines().count()).unwrap_or(u32::MAX),
            format!("{what}; the director is named by --name or the host name"),
        )],
        body: director,
    }
}
