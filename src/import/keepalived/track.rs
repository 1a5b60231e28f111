//! keepalived's `vrrp_script`, `track_file` and `vrrp_track_process` blocks → director.yaml's
//! `track_scripts`, `track_files` and `track_processes` (`track_process.rs`), and an
//! instance's `track_script` / `track_file` / `track_process` → its `track.scripts` /
//! `track.files` / `track.processes`. A script keepalived finds through PATH (a relative program) is written as
//! `[/bin/sh, -c, LINE]`, noted; keepalived's `init_fail` and `init_file` are reported.

use super::findings::Report;
use super::tree::Node;
use super::values::{int_in, lbd_name, timer};
use crate::config::format_duration;
use crate::import::yaml_out::Y;
use std::collections::BTreeSet;

/// The definitions (`vrrp_script NAME {..}`, `track_file NAME {..}`, `vrrp_track_process
/// NAME {..}`; `vrrp_track_file` is the old name) and the names defined.
#[derive(Debug, Default)]
pub struct Defined {
    pub scripts: Vec<Y>,
    pub files: Vec<Y>,
    pub processes: Vec<Y>,
    pub script_names: BTreeSet<String>,
    pub file_names: BTreeSet<String>,
    pub process_names: BTreeSet<String>,
}

pub fn definitions(statements: &[Node], report: &mut Report) -> Defined {
    let mut d = Defined::default();
    for n in statements {
        let key = match n.keyword.as_str() {
            "vrrp_script" => "track_scripts",
            "track_file" | "vrrp_track_file" => "track_files",
            "vrrp_track_process" => "track_processes",
            _ => continue,
        };
        let Some(kname) = n.arg(0) else {
            report.dropped(&n.at, &n.keyword, "no name");
            continue;
        };
        let name = lbd_name(kname, "track");
        let (y, names, list) = match key {
            "track_files" => (
                track_file(n, &name, report),
                &mut d.file_names,
                &mut d.files,
            ),
            "track_processes" => (
                super::track_process::definition(n, &name, report),
                &mut d.process_names,
                &mut d.processes,
            ),
            _ => (
                script(n, &name, report),
                &mut d.script_names,
                &mut d.scripts,
            ),
        };
        let Some(y) = y else { continue };
        if !names.insert(name) {
            report.dropped(&n.at, &n.keyword, "defined twice: the first is kept");
            continue;
        }
        list.push(y);
        report.translated(
            &n.at,
            format!("{} {kname} → director.yaml {key}", n.keyword),
        );
    }
    d
}

fn script(n: &Node, name: &str, report: &mut Report) -> Option<Y> {
    let mut y = Y::map();
    y.set("name", Y::str(name));
    let mut line = None;
    for c in n.children() {
        let k = c.keyword.as_str();
        let weight = |c: &Node| c.arg(0).and_then(|w| int_in(w, -253, 253));
        match k {
            "script" => line = c.arg(0).map(str::to_string),
            "interval" | "timeout" => match c.arg(0).and_then(timer) {
                Some(t) if !t.is_zero() => {
                    y.set(k, Y::str(format_duration(t)));
                }
                _ => report.dropped(&c.at, k, "not a time in seconds above 0"),
            },
            "weight" => match weight(c) {
                Some(w) => {
                    y.set("weight", Y::Int(w));
                    if c.arg(1).is_some() {
                        report.dropped(&c.at, k, "lbd has no reverse weights");
                    }
                }
                None => report.dropped(&c.at, k, "not a weight -253..253"),
            },
            "rise" | "fall" => match c.arg(0).and_then(|v| int_in(v, 1, 100)) {
                Some(v) => {
                    y.set(k, Y::Int(v));
                }
                None => report.dropped(&c.at, k, "not a count"),
            },
            "user" => {
                if let Some(u) = c.arg(0) {
                    y.set("user", Y::str(u));
                }
                if c.args.len() > 1 {
                    report.approximated(&c.at, k, "lbd runs it with the user's primary group");
                }
            }
            "init_fail" => {
                report.dropped(&c.at, k, "lbd starts a script in keepalived's init state")
            }
            _ => report.dropped(
                &c.at,
                k,
                "lbd has no equivalent of this vrrp_script setting",
            ),
        }
    }
    let Some(line) = line else {
        report.dropped(&n.at, "vrrp_script", "no script");
        return None;
    };
    if line
        .split_whitespace()
        .next()
        .is_some_and(|p| p.starts_with('/'))
    {
        y.set("script", Y::str(line));
    } else {
        report.note(format!("{}: vrrp_script {name}: `{line}` is found through PATH by keepalived; lbd runs it as /bin/sh -c", n.at));
        y.set(
            "script",
            Y::Seq(vec![Y::str("/bin/sh"), Y::str("-c"), Y::str(line)]),
        );
    }
    Some(y)
}

fn track_file(n: &Node, name: &str, report: &mut Report) -> Option<Y> {
    let mut y = Y::map();
    y.set("name", Y::str(name));
    let mut path = None;
    for c in n.children() {
        let k = c.keyword.as_str();
        match k {
            "file" => path = c.arg(0).map(str::to_string),
            "weight" => match c.arg(0).and_then(|w| int_in(w, -254, 254)) {
                Some(w) => {
                    y.set("weight", Y::Int(w));
                    if c.arg(1).is_some() {
                        report.dropped(&c.at, k, "lbd has no reverse weights");
                    }
                }
                None => report.dropped(&c.at, k, "not a weight -254..254"),
            },
            "init_file" => report.dropped(&c.at, k, "lbd creates no track file"),
            _ => report.dropped(&c.at, k, "lbd has no equivalent of this track_file setting"),
        }
    }
    match path {
        Some(p) if p.starts_with('/') => {
            y.set("path", Y::str(p));
            Some(y)
        }
        _ => {
            report.dropped(&n.at, &n.keyword, "no absolute file path");
            None
        }
    }
}

/// An instance's `track_script`, `track_file` or `track_process` `{ NAME [weight W] }`: the
/// names lbd knows, with their weight.
pub fn references(c: &Node, known: &BTreeSet<String>, report: &mut Report) -> Vec<Y> {
    let mut out = Vec::new();
    for t in c.children() {
        let name = lbd_name(&t.keyword, "track");
        if !known.contains(&name) {
            report.dropped(&t.at, &t.keyword, "not defined (or not translated)");
            continue;
        }
        match (
            t.arg(0),
            t.arg(1).and_then(|w| int_in(w, -254, 254)),
            t.arg(2),
        ) {
            (None, _, _) => out.push(Y::str(name)),
            (Some("weight"), Some(w), None) => {
                let mut m = Y::map();
                m.set("name", Y::str(name)).set("weight", Y::Int(w));
                out.push(m);
            }
            _ => report.dropped(
                &t.at,
                &t.keyword,
                "lbd takes `NAME` or `NAME weight N` only",
            ),
        }
    }
    out
}
