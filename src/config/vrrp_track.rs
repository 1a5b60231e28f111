//! `director.yaml`'s track scripts, files and processes (keepalived's `vrrp_script`,
//! `track_file` and `vrrp_track_process`), defined once at director level, and an instance's
//! references to them (`track: {scripts: [...], files: [...], processes: [...]}`). Every error
//! points at its line: an unknown or repeated name, a weight out of range, an unknown `user`,
//! a process name the kernel would cut short.

use super::diagnostic::{Pos, Sink};
use super::fields::{suggest, Fields};
use super::scalars::{
    abs_path, boolean, command, duration, int_in, interface, list, name, nonempty, positive,
    string, user, word,
};
use super::yaml::{Item, Value};
use crate::vrrp::config::{
    TrackFile, TrackProcess, TrackScript, MAX_FILE_WEIGHT, MAX_TRACK_WEIGHT,
};
use crate::vrrp::track_process::ParamMatch;
use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;

/// An instance's reference to a track script or file, with its own weight (else the
/// definition's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TrackRef {
    pub name: String,
    pub weight: Option<i16>,
}

/// The names defined, for the references to be checked against; `None` when the definitions
/// did not decode (their errors are reported, references to them are not checked again).
pub(crate) type Known<'a> = Option<&'a [String]>;

/// `track_scripts: [{name, script, interval, timeout, weight, rise, fall, user}]`.
pub(crate) fn decode_scripts(item: &Item, sink: &mut Sink) -> Option<Vec<TrackScript>> {
    decode_named(item, "track script", decode_script, |s| &s.name, sink)
}

/// A list of definitions, each decoded by `one` (with where its name is), names unique.
fn decode_named<T>(
    item: &Item,
    what: &str,
    one: impl Fn(&Item, &mut Sink) -> Option<(T, Pos)>,
    name_of: impl Fn(&T) -> &str,
    sink: &mut Sink,
) -> Option<Vec<T>> {
    let items = seq(item, what, sink)?;
    let mut out = Vec::new();
    let mut ok = true;
    let mut names: HashMap<String, Pos> = HashMap::new();
    for it in items {
        match one(it, sink) {
            Some((d, pos)) => {
                ok &= unique(&mut names, name_of(&d), pos, what, sink);
                out.push(d);
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn decode_script(item: &Item, sink: &mut Sink) -> Option<(TrackScript, Pos)> {
    let mut f = Fields::of(item, "track script", sink)?;
    let script_name = f.req("name", sink, name);
    let command = f.req("script", sink, command("track script"));
    let interval = f.or("interval", sink, Duration::from_secs(1), positive);
    let timeout = f.opt("timeout", sink, positive);
    let weight = f.or(
        "weight",
        sink,
        0,
        int_in(
            -i128::from(MAX_TRACK_WEIGHT),
            i128::from(MAX_TRACK_WEIGHT),
            "track script weight",
        ),
    );
    let rise = f.or("rise", sink, 1, int_in(1, 1000, "rise"));
    let fall = f.or("fall", sink, 1, int_in(1, 1000, "fall"));
    let user = f.opt("user", sink, user);
    let name_pos = f.pos_of("name");
    f.finish(sink);
    Some((
        TrackScript {
            name: script_name?,
            command: command?,
            interval: interval?,
            timeout: timeout?,
            weight: weight?,
            rise: rise?,
            fall: fall?,
            user: user?,
        },
        name_pos,
    ))
}

/// `track_files: [{name, path, weight}]`.
pub(crate) fn decode_files(item: &Item, sink: &mut Sink) -> Option<Vec<TrackFile>> {
    decode_named(item, "track file", decode_file, |f| &f.name, sink)
}

fn decode_file(item: &Item, sink: &mut Sink) -> Option<(TrackFile, Pos)> {
    let mut f = Fields::of(item, "track file", sink)?;
    let file_name = f.req("name", sink, name);
    let path = f.req("path", sink, abs_path);
    let weight = f.or("weight", sink, 1, file_weight);
    let name_pos = f.pos_of("name");
    f.finish(sink);
    Some((
        TrackFile {
            name: file_name?,
            path: path?,
            weight: weight?,
        },
        name_pos,
    ))
}

/// `track_processes: [{name, process, param_match, full_command, quorum, quorum_max, weight,
/// delay, fork_delay, terminate_delay}]`.
pub(crate) fn decode_processes(item: &Item, sink: &mut Sink) -> Option<Vec<TrackProcess>> {
    decode_named(item, "track process", decode_process, |p| &p.name, sink)
}

const PARAM_MATCH: &[(&str, ParamMatch)] = &[
    ("exact", ParamMatch::Exact),
    ("partial", ParamMatch::Partial),
    ("initial", ParamMatch::Initial),
];

fn decode_process(item: &Item, sink: &mut Sink) -> Option<(TrackProcess, Pos)> {
    let mut f = Fields::of(item, "track process", sink)?;
    let process_name = f.req("name", sink, name);
    let process = f.req(
        "process",
        sink,
        |item: &Item, sink: &mut Sink| match &item.value {
            Value::Seq(_) => list(nonempty)(item, sink),
            _ => nonempty(item, sink).map(|s| s.split_whitespace().map(str::to_string).collect()),
        },
    );
    let param_match = f.opt("param_match", sink, word("param_match", PARAM_MATCH));
    let full_command = f.or("full_command", sink, false, boolean);
    let quorum = f.or("quorum", sink, 1, int_in(0, 65535, "quorum"));
    let quorum_max = f.opt("quorum_max", sink, int_in(0, 65535, "quorum_max"));
    let weight = f.or(
        "weight",
        sink,
        1,
        int_in(
            -i128::from(MAX_TRACK_WEIGHT),
            i128::from(MAX_TRACK_WEIGHT),
            "track process weight",
        ),
    );
    let delay = f.opt("delay", sink, duration);
    let fork_delay = f.opt("fork_delay", sink, duration);
    let terminate_delay = f.opt("terminate_delay", sink, duration);
    let name_pos = f.pos_of("name");
    let process_pos = f.pos_of("process");
    let problem_pos = if f.has("quorum_max") {
        f.pos_of("quorum_max")
    } else {
        process_pos
    };
    f.finish(sink);
    let delay = delay?.unwrap_or_default();
    let p = TrackProcess {
        name: process_name?,
        process: process?,
        param_match: param_match?,
        full_command: full_command?,
        quorum: quorum?,
        quorum_max: quorum_max?,
        weight: weight?,
        fork_delay: fork_delay?.unwrap_or(delay),
        terminate_delay: terminate_delay?.unwrap_or(delay),
    };
    if let Some(why) = p.problem() {
        let pos = if why.starts_with("quorum_max") {
            problem_pos
        } else {
            process_pos
        };
        sink.error(pos, format!("track process `{}`: {why}", p.name));
        return None;
    }
    Some((p, name_pos))
}

fn file_weight(item: &Item, sink: &mut Sink) -> Option<i16> {
    int_in(
        -i128::from(MAX_FILE_WEIGHT),
        i128::from(MAX_FILE_WEIGHT),
        "track file weight",
    )(item, sink)
}

/// An instance's `track.scripts`, `track.files` or `track.processes`: `[NAME | {name: NAME,
/// weight: W}]`, each defined in `known` and named once.
pub(crate) fn decode_refs(
    item: &Item,
    what: &'static str,
    known: Known,
    sink: &mut Sink,
) -> Option<Vec<TrackRef>> {
    let items = seq(item, what, sink)?;
    let file = what == "track file";
    let mut out: Vec<TrackRef> = Vec::new();
    let mut ok = true;
    let mut seen: HashMap<String, Pos> = HashMap::new();
    for it in items {
        let (r, pos) = match &it.value {
            Value::Map(_) => {
                let Some(mut f) = Fields::of(it, what, sink) else {
                    ok = false;
                    continue;
                };
                let n = f.req("name", sink, string);
                let weight = if file {
                    f.opt("weight", sink, file_weight)
                } else {
                    f.opt(
                        "weight",
                        sink,
                        int_in(
                            -i128::from(MAX_TRACK_WEIGHT),
                            i128::from(MAX_TRACK_WEIGHT),
                            if what == "track process" {
                                "track process weight"
                            } else {
                                "track script weight"
                            },
                        ),
                    )
                };
                let pos = f.pos_of("name");
                f.finish(sink);
                match (n, weight) {
                    (Some(name), Some(weight)) => (TrackRef { name, weight }, pos),
                    _ => {
                        ok = false;
                        continue;
                    }
                }
            }
            _ => match string(it, sink) {
                Some(name) => (TrackRef { name, weight: None }, it.pos),
                None => {
                    ok = false;
                    continue;
                }
            },
        };
        if let Some(names) = known {
            if !names.contains(&r.name) {
                let list: Vec<&str> = names.iter().map(String::as_str).collect();
                let key = match what {
                    "track file" => "track_files",
                    "track process" => "track_processes",
                    _ => "track_scripts",
                };
                sink.error_opt(
                    pos,
                    format!("unknown {what} `{}`", r.name),
                    suggest(&r.name, &list)
                        .or_else(|| Some(format!("define it in director.yaml's `{key}`"))),
                );
                ok = false;
                continue;
            }
        }
        if let Some(first) = seen.insert(r.name.clone(), pos) {
            sink.error_hint(
                pos,
                format!("{what} `{}` is tracked twice by this instance", r.name),
                format!("first at line {}", first.line),
            );
            ok = false;
            continue;
        }
        out.push(r);
    }
    ok.then_some(out)
}

/// An instance's `track.interfaces`: `[IFNAME | {name: IFNAME, weight: W}]`, each once; W is
/// -253..253 (positive: added while up, negative: subtracted while down, 0: the fault state
/// while down).
pub(crate) fn decode_interfaces(item: &Item, sink: &mut Sink) -> Option<Vec<TrackRef>> {
    let items = seq(item, "tracked interface", sink)?;
    let mut out: Vec<TrackRef> = Vec::new();
    let mut ok = true;
    let mut seen: HashMap<String, Pos> = HashMap::new();
    for it in items {
        let (r, pos) = match &it.value {
            Value::Map(_) => {
                let Some(mut f) = Fields::of(it, "tracked interface", sink) else {
                    ok = false;
                    continue;
                };
                let n = f.req("name", sink, interface);
                let weight = f.opt(
                    "weight",
                    sink,
                    int_in(
                        -i128::from(MAX_TRACK_WEIGHT),
                        i128::from(MAX_TRACK_WEIGHT),
                        "track interface weight",
                    ),
                );
                let pos = f.pos_of("name");
                f.finish(sink);
                match (n, weight) {
                    (Some(name), Some(weight)) => (TrackRef { name, weight }, pos),
                    _ => {
                        ok = false;
                        continue;
                    }
                }
            }
            _ => match interface(it, sink) {
                Some(name) => (TrackRef { name, weight: None }, it.pos),
                None => {
                    ok = false;
                    continue;
                }
            },
        };
        if let Some(first) = seen.insert(r.name.clone(), pos) {
            sink.error_hint(
                pos,
                format!("interface `{}` is tracked twice by this instance", r.name),
                format!("first at line {}", first.line),
            );
            ok = false;
            continue;
        }
        out.push(r);
    }
    ok.then_some(out)
}

fn seq<'a>(item: &'a Item, what: &str, sink: &mut Sink) -> Option<&'a [Item]> {
    match &item.value {
        Value::Seq(items) => Some(items),
        _ => {
            sink.error(
                item.pos,
                format!("expected a list of {what}s, found {}", item.kind()),
            );
            None
        }
    }
}

/// Records `name`; `false` (reported) when it was already defined.
fn unique(
    names: &mut HashMap<String, Pos>,
    n: &str,
    pos: Pos,
    what: &str,
    sink: &mut Sink,
) -> bool {
    match names.insert(n.to_string(), pos) {
        Some(first) => {
            sink.error_hint(
                pos,
                format!("duplicate {what} name `{n}`"),
                format!("first defined at line {}", first.line),
            );
            false
        }
        None => true,
    }
}
