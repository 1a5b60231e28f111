//! `director.yaml`'s `vrrp_sync_groups` (keepalived's `vrrp_sync_group`): VRRP instances that
//! fail over together, each group with notify scripts of its own. Every error points at its
//! line: an unknown instance, an instance in two groups (or twice in one), a group of fewer
//! than two members (keepalived only warns and ignores such a group; lbd refuses it), a
//! repeated group name.

use std::collections::HashMap;

use serde::Serialize;

use super::diagnostic::{Pos, Sink};
use super::director::{decode_notify, Notify};
use super::fields::{suggest, Fields};
use super::scalars::name;
use super::yaml::{Item, Value};

/// One sync group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SyncGroup {
    pub name: String,
    /// The member instances (names of `vrrp` instances), at least two.
    pub instances: Vec<String>,
    /// Run on the group's own transitions (`GROUP NAME STATE 0`). Default none.
    pub notify: Notify,
}

/// `vrrp_sync_groups: [{name, instances: [...], notify: {...}}]`; `instances` are the names of
/// the `vrrp` instances (`None` when those did not decode: not checked again).
pub(crate) fn decode_groups(
    item: &Item,
    instances: Option<&[String]>,
    sink: &mut Sink,
) -> Option<Vec<SyncGroup>> {
    let Value::Seq(items) = &item.value else {
        sink.error(
            item.pos,
            format!("expected a list of sync groups, found {}", item.kind()),
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    let mut names: HashMap<String, Pos> = HashMap::new();
    // Which group each instance is in, and where.
    let mut member_of: HashMap<String, (String, Pos)> = HashMap::new();
    for it in items {
        let Some((g, name_pos, members)) = decode_group(it, sink) else {
            ok = false;
            continue;
        };
        if let Some(first) = names.insert(g.name.clone(), name_pos) {
            sink.error_hint(
                name_pos,
                format!("duplicate sync group name `{}`", g.name),
                format!("first defined at line {}", first.line),
            );
            ok = false;
        }
        for (m, pos) in &members {
            if let Some(known) = instances {
                if !known.iter().any(|k| k == m) {
                    let words: Vec<&str> = known.iter().map(String::as_str).collect();
                    let hint = suggest(m, &words)
                        .or_else(|| {
                            (!words.is_empty())
                                .then(|| format!("expected one of: {}", words.join(", ")))
                        })
                        .unwrap_or_else(|| "no VRRP instance is configured".to_string());
                    sink.error_hint(
                        *pos,
                        format!("sync group `{}`: `{m}` is not a VRRP instance", g.name),
                        hint,
                    );
                    ok = false;
                    continue;
                }
            }
            if let Some((other, first)) = member_of.insert(m.clone(), (g.name.clone(), *pos)) {
                sink.error_hint(
                    *pos,
                    format!(
                        "instance `{m}` is in two sync groups (`{other}` and `{}`)",
                        g.name
                    ),
                    format!(
                        "an instance belongs to one group at most; first listed at line {}",
                        first.line
                    ),
                );
                ok = false;
            }
        }
        out.push(g);
    }
    ok.then_some(out)
}

type Decoded = (SyncGroup, Pos, Vec<(String, Pos)>);

fn decode_group(item: &Item, sink: &mut Sink) -> Option<Decoded> {
    let mut f = Fields::of(item, "sync group", sink)?;
    let group_name = f.req("name", sink, name);
    let members = f.req("instances", sink, decode_members);
    let notify = f.opt("notify", sink, decode_notify);
    let name_pos = f.pos_of("name");
    let list_pos = f.pos_of("instances");
    f.finish(sink);
    let (group_name, members, notify) = (group_name?, members?, notify?);
    if members.len() < 2 {
        sink.error_hint(
            list_pos,
            format!(
                "sync group `{group_name}` has {} instance(s), it needs at least 2",
                members.len()
            ),
            "a group of one instance syncs nothing (keepalived ignores it): remove the group",
        );
        return None;
    }
    Some((
        SyncGroup {
            name: group_name,
            instances: members.iter().map(|(m, _)| m.clone()).collect(),
            notify: notify.unwrap_or_default(),
        },
        name_pos,
        members,
    ))
}

fn decode_members(item: &Item, sink: &mut Sink) -> Option<Vec<(String, Pos)>> {
    let Value::Seq(items) = &item.value else {
        sink.error(
            item.pos,
            format!("expected a list of instance names, found {}", item.kind()),
        );
        return None;
    };
    let mut out: Vec<(String, Pos)> = Vec::new();
    let mut ok = true;
    for it in items {
        let Some(n) = name(it, sink) else {
            ok = false;
            continue;
        };
        if let Some((_, first)) = out.iter().find(|(m, _)| *m == n) {
            sink.error_hint(
                it.pos,
                format!("instance `{n}` is listed twice"),
                format!("first listed at line {}", first.line),
            );
            ok = false;
            continue;
        }
        out.push((n, it.pos));
    }
    ok.then_some(out)
}
