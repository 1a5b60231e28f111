//! Reading a configuration directory: `director.yaml`, `hostgroups/*.yaml`, `services/*.yaml`.
//! Every file is read and decoded even after errors, then the cross-file rules run; the
//! configuration is returned only if nothing at all was wrong. The files come from the disk
//! ([`load`]) or from memory ([`load_files`], for tests and fuzzing): the same code decodes both.

use super::diagnostic::{ConfigErrors, Pos, Report, Sink};
use super::scalars::{is_name, NAME_RULE};
use super::yaml::{self, Item, Value};
use super::{director, hostgroup, rules, service, Config, Loaded};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io;
use std::path::{Component, Path, PathBuf};

/// What the loader asks of the files: their bytes, a directory's entries, whether a script is
/// there.
trait Files {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// The entries of `dir` (files and directories), in any order.
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    fn is_file(&self, path: &Path) -> bool;
}

/// The real file system.
struct Disk;

impl Files for Disk {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        Ok(std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect())
    }

    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }
}

/// Files held in memory, by full path; a directory is any prefix of one of them.
struct Memory(BTreeMap<PathBuf, Vec<u8>>);

impl Memory {
    fn is_dir(&self, path: &Path) -> bool {
        self.0.keys().any(|f| f != path && f.starts_with(path))
    }
}

impl Files for Memory {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        match self.0.get(path) {
            Some(bytes) => Ok(bytes.clone()),
            // The same errors (and messages) as the disk's.
            None if self.is_dir(path) => Err(io::Error::from_raw_os_error(libc::EISDIR)),
            None => Err(io::Error::from_raw_os_error(libc::ENOENT)),
        }
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        if self.0.contains_key(dir) {
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        let entries: BTreeSet<PathBuf> = self
            .0
            .keys()
            .filter_map(|f| f.strip_prefix(dir).ok())
            .filter_map(|rest| rest.components().next())
            .map(|first| dir.join(first))
            .collect();
        if entries.is_empty() {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        Ok(entries.into_iter().collect())
    }

    fn is_file(&self, path: &Path) -> bool {
        self.0.contains_key(path)
    }
}

/// Loads and validates the configuration in `dir`.
pub fn load(dir: &Path) -> Result<Loaded, ConfigErrors> {
    load_from(dir, &Disk)
}

/// Loads and validates a configuration held in memory, as if its files were in `dir`: each
/// file is a path relative to `dir` (`director.yaml`, `services/http.yaml`) and its bytes.
/// Nothing is read from the disk: a monitor or alert script counts as present when it is one
/// of `files` (so one under an absolute `monitor_dir` or `alert_dir` never is); diagnostics
/// name `dir/PATH`. A path that leaves `dir` (absolute, or with `..`) is refused with an error
/// naming it.
pub fn load_files<P: AsRef<Path>, B: AsRef<[u8]>>(
    dir: &Path,
    files: impl IntoIterator<Item = (P, B)>,
) -> Result<Loaded, ConfigErrors> {
    let mut report = Report::default();
    let mut held = BTreeMap::new();
    for (path, bytes) in files {
        let path = path.as_ref();
        if path.as_os_str().is_empty()
            || !path.components().all(|c| matches!(c, Component::Normal(_)))
        {
            Sink {
                file: path,
                report: &mut report,
            }
            .error(Pos::FILE, "not a path inside the configuration directory");
            continue;
        }
        held.insert(dir.join(path), bytes.as_ref().to_vec());
    }
    if !report.errors.is_empty() {
        return Err(ConfigErrors {
            errors: report.errors,
            warnings: report.warnings,
        });
    }
    load_from(dir, &Memory(held))
}

fn load_from(dir: &Path, files: &dyn Files) -> Result<Loaded, ConfigErrors> {
    let mut report = Report::default();

    let director_file = dir.join("director.yaml");
    let director = read_yaml(files, &director_file, "director", &mut report).and_then(|item| {
        let mut sink = Sink {
            file: &director_file,
            report: &mut report,
        };
        director::decode(&item, dir, &mut sink)
    });

    let mut hostgroups = Vec::new();
    let mut broken_hostgroups = HashSet::new();
    for (path, stem) in list_yaml(files, dir, "hostgroups", &mut report) {
        let decoded = read_yaml(files, &path, "hostgroup", &mut report).and_then(|item| {
            let mut sink = Sink {
                file: &path,
                report: &mut report,
            };
            hostgroup::decode(&item, &stem, &mut sink)
        });
        match decoded {
            Some((group, spots)) => hostgroups.push((group, spots, path)),
            None => {
                broken_hostgroups.insert(stem);
            }
        }
    }

    let mut services = Vec::new();
    for (path, stem) in list_yaml(files, dir, "services", &mut report) {
        let mut spots = service::ServiceSpots::default();
        let decoded = read_yaml(files, &path, "service", &mut report).and_then(|item| {
            let mut sink = Sink {
                file: &path,
                report: &mut report,
            };
            service::decode(&item, &stem, &mut spots, &mut sink)
        });
        services.push((decoded, spots, path));
    }

    rules::check(
        &rules::Inputs {
            config_dir: dir,
            director_file: &director_file,
            director: director.as_ref(),
            hostgroups: &hostgroups,
            broken_hostgroups: &broken_hostgroups,
            services: &services,
            is_file: &|path| files.is_file(path),
        },
        &mut report,
    );

    match director {
        Some((director, _)) if report.errors.is_empty() => {
            let hostgroups: BTreeMap<String, hostgroup::Hostgroup> = hostgroups
                .into_iter()
                .map(|(g, _, _)| (g.name.clone(), g))
                .collect();
            Ok(Loaded {
                config: Config {
                    director,
                    hostgroups,
                    services: services.into_iter().filter_map(|(s, _, _)| s).collect(),
                },
                warnings: report.warnings,
            })
        }
        _ => Err(ConfigErrors {
            errors: report.errors,
            warnings: report.warnings,
        }),
    }
}

/// The `.yaml`/`.yml` files of `dir/sub`, sorted, with their stems; an absent directory is
/// empty. Hidden files and editor backups are skipped, other files warned about.
fn list_yaml(
    files: &dyn Files,
    dir: &Path,
    sub: &str,
    report: &mut Report,
) -> Vec<(PathBuf, String)> {
    let path = dir.join(sub);
    let mut names = match files.list(&path) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            Sink {
                file: &path,
                report,
            }
            .error(Pos::FILE, format!("cannot read directory: {e}"));
            return Vec::new();
        }
    };
    names.sort();
    let mut out = Vec::new();
    for file in names {
        let Some(file_name) = file
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            Sink {
                file: &file,
                report,
            }
            .warn(Pos::FILE, "ignoring file: its name is not UTF-8", None);
            continue;
        };
        if file_name.starts_with('.') || file_name.ends_with('~') {
            continue;
        }
        let stem = file_name
            .strip_suffix(".yaml")
            .or_else(|| file_name.strip_suffix(".yml"));
        let Some(stem) = stem else {
            Sink {
                file: &file,
                report,
            }
            .warn(Pos::FILE, "ignoring file: not a .yaml file", None);
            continue;
        };
        if !is_name(stem) {
            Sink {
                file: &file,
                report,
            }
            .error_hint(
                Pos::FILE,
                format!(
                    "file name `{stem}` is not a valid {} name",
                    sub.trim_end_matches('s')
                ),
                NAME_RULE,
            );
            continue;
        }
        out.push((file.clone(), stem.to_string()));
    }
    out
}

/// Reads and parses one file; `None` after reporting why not.
fn read_yaml(files: &dyn Files, file: &Path, what: &str, report: &mut Report) -> Option<Item> {
    let mut sink = Sink { file, report };
    let bytes = match files.read(file) {
        Ok(b) => b,
        Err(e) => {
            let hint = (e.kind() == std::io::ErrorKind::NotFound && what == "director")
                .then(|| "every configuration directory needs a director.yaml".to_string());
            sink.error_opt(Pos::FILE, format!("cannot read file: {e}"), hint);
            return None;
        }
    };
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = bytes.get(..e.valid_up_to()).unwrap_or_default();
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let column = String::from_utf8_lossy(good.get(line_start..).unwrap_or_default())
                .chars()
                .count()
                + 1;
            sink.error(
                Pos {
                    line: u32::try_from(line).unwrap_or(u32::MAX),
                    column: u32::try_from(column).unwrap_or(u32::MAX),
                },
                "file is not valid UTF-8",
            );
            return None;
        }
    };
    match yaml::parse(text) {
        Ok(Item {
            value: Value::Null, ..
        }) => {
            sink.error_hint(
                Pos::FILE,
                "file is empty",
                format!("a {what} file holds a mapping of the {what}'s keys"),
            );
            None
        }
        Ok(item) => Some(item),
        Err(e) => {
            sink.error(e.pos, format!("invalid YAML: {}", e.message));
            None
        }
    }
}

/// Decodes the text of a `director.yaml` alone (without the other files and the cross-file
/// rules). `lbctl import` asks it which keys this lbd accepts.
pub fn decode_director(text: &str, file: &Path) -> Result<super::Director, ConfigErrors> {
    let mut report = Report::default();
    let decoded = match yaml::parse(text) {
        Ok(item) => {
            let mut sink = Sink {
                file,
                report: &mut report,
            };
            director::decode(&item, file.parent().unwrap_or(Path::new("/")), &mut sink)
        }
        Err(e) => {
            Sink {
                file,
                report: &mut report,
            }
            .error(e.pos, format!("invalid YAML: {}", e.message));
            None
        }
    };
    match decoded {
        Some((d, _)) if report.errors.is_empty() => Ok(d),
        _ => Err(ConfigErrors {
            errors: report.errors,
            warnings: report.warnings,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(r: Result<Loaded, ConfigErrors>) -> Vec<String> {
        r.err().map_or_else(Vec::new, |e| {
            e.errors.iter().map(|d| d.to_string()).collect()
        })
    }

    #[test]
    fn files_in_memory_report_as_the_disk_would() {
        let dir = Path::new("/etc/lbd");
        assert_eq!(
            messages(load_files(dir, [("hostgroups/web.yaml/x", "")])),
            [
                "/etc/lbd/director.yaml: cannot read file: No such file or directory (os error 2) \
                 (every configuration directory needs a director.yaml)",
                "/etc/lbd/hostgroups/web.yaml: cannot read file: Is a directory (os error 21)",
            ]
        );
        assert_eq!(
            messages(load_files(dir, [("director.yaml", "\n")])),
            ["/etc/lbd/director.yaml: file is empty (a director file holds a mapping of the director's keys)"]
        );
    }

    #[test]
    fn a_script_in_memory_is_found_like_one_on_disk() {
        let config = [
            ("director.yaml", "name: dir1\nmonitor_dir: mon.d\n"),
            (
                "hostgroups/web.yaml",
                "nodes:\n  - name: rs1\n    address: 198.51.100.11\n",
            ),
            (
                "services/web.yaml",
                "virtual: {protocol: tcp, address: 192.0.2.10, port: 80}\n\
                 hostgroup: web\nwatch:\n  monitor: {external: check.sh}\n",
            ),
        ];
        let missing = "monitor script /etc/lbd/mon.d/check.sh not found";
        let warnings = |files: &[(&str, &str)]| -> Vec<String> {
            let loaded = load_files(Path::new("/etc/lbd"), files.iter().copied()).unwrap();
            loaded.warnings.into_iter().map(|d| d.message).collect()
        };
        assert!(warnings(&config).iter().any(|w| w == missing));
        let mut with_script = config.to_vec();
        with_script.push(("mon.d/check.sh", "#!/bin/sh\n"));
        assert!(!warnings(&with_script).iter().any(|w| w == missing));
    }

    #[test]
    fn paths_outside_the_directory_are_refused() {
        for bad in [
            "/etc/passwd",
            "../director.yaml",
            "services/../../x.yaml",
            "./",
            "",
        ] {
            let errors = messages(load_files(Path::new("/etc/lbd"), [(bad, "x: 1")]));
            assert_eq!(
                errors,
                [format!(
                    "{bad}: not a path inside the configuration directory"
                )],
                "{bad}"
            );
        }
    }
}
