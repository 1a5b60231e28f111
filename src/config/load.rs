//! Reading a configuration directory: `director.yaml`, `hostgroups/*.yaml`, `services/*.yaml`.
//! Every file is read and decoded even after errors, then the cross-file rules run; the
//! configuration is returned only if nothing at all was wrong.

use super::diagnostic::{ConfigErrors, Pos, Report, Sink};
use super::scalars::{is_name, NAME_RULE};
use super::yaml::{self, Item, Value};
use super::{director, hostgroup, rules, service, Config, Loaded};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Loads and validates the configuration in `dir`.
pub fn load(dir: &Path) -> Result<Loaded, ConfigErrors> {
    let mut report = Report::default();

    let director_file = dir.join("director.yaml");
    let director = read_yaml(&director_file, "director", &mut report).and_then(|item| {
        let mut sink = Sink {
            file: &director_file,
            report: &mut report,
        };
        director::decode(&item, dir, &mut sink)
    });

    let mut hostgroups = Vec::new();
    let mut broken_hostgroups = HashSet::new();
    for (path, stem) in list_yaml(dir, "hostgroups", &mut report) {
        let decoded = read_yaml(&path, "hostgroup", &mut report).and_then(|item| {
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
    for (path, stem) in list_yaml(dir, "services", &mut report) {
        let mut spots = service::ServiceSpots::default();
        let decoded = read_yaml(&path, "service", &mut report).and_then(|item| {
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
fn list_yaml(dir: &Path, sub: &str, report: &mut Report) -> Vec<(PathBuf, String)> {
    let path = dir.join(sub);
    let entries = match std::fs::read_dir(&path) {
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
    let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
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
fn read_yaml(file: &Path, what: &str, report: &mut Report) -> Option<Item> {
    let mut sink = Sink { file, report };
    let bytes = match std::fs::read(file) {
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
