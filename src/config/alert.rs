//! Alerts as a watch or a ping block names them: `script args...` (a string or a list), or
//! `{script, args, user}` to run it as another user; the script a bare name in the alert
//! directory (or the built-in `log`), and their time limit.

use super::diagnostic::Sink;
use super::fields::Fields;
use super::scalars::{list, script_name, string, user};
use super::yaml::{Item, Value};
use serde::Serialize;
use std::time::Duration;

/// Default time an alert script may run.
pub const DEFAULT_ALERT_TIMEOUT: Duration = Duration::from_secs(30);

/// An alert script from the alert directory, with its arguments (Mon: `alert mail.alert root`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Alert {
    pub script: String,
    pub args: Vec<String>,
    /// Run as this user (and its primary group) instead of root.
    #[serde(default)]
    pub user: Option<String>,
}

pub(crate) fn decode_alert(item: &Item, sink: &mut Sink) -> Option<Alert> {
    if let Value::Map(_) = &item.value {
        let mut f = Fields::of(item, "alert", sink)?;
        let script = f.req("script", sink, script_name);
        let args = f.or("args", sink, Vec::new(), list(string));
        let user = f.opt("user", sink, user);
        f.finish(sink);
        let (script, args, user) = (script?, args?, user?);
        if script == "log" && (user.is_some() || !args.is_empty()) {
            sink.error(item.pos, "the built-in `log` alert takes no args or user");
            return None;
        }
        return Some(Alert { script, args, user });
    }
    let words: Vec<String> = match &item.value {
        Value::Seq(_) => list(string)(item, sink)?,
        _ => string(item, sink)?
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    };
    let mut words = words.into_iter();
    let Some(script) = words.next() else {
        sink.error(item.pos, "empty alert");
        return None;
    };
    let script_item = Item {
        value: Value::Str(script),
        pos: item.pos,
    };
    Some(Alert {
        script: script_name(&script_item, sink)?,
        args: words.collect(),
        user: None,
    })
}
