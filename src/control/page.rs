//! The read-only status page (`GET /`), rendered from a [`StatusView`]: VRRP roles and VIPs,
//! then one table per virtual service (VIP, port, scheduler) with every node and its state at a
//! glance, as the classic cluster's web page showed. Plain HTML and CSS, self-refreshing with
//! `<meta http-equiv=refresh>`, no script, no form: nothing on it changes state. Every text that
//! comes from the configuration or the daemon is escaped.

use super::proto::{RealServerView, ServiceView, StatusView, VrrpView};
use std::fmt::Write;

/// Seconds between self-refreshes.
pub const REFRESH_SECONDS: u32 = 5;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A state word reduced to a CSS class name (letters, digits and `-` only).
fn class(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc_text(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

const STYLE: &str = "\
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}\
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.4em 0 .3em}\
.at,.meta{color:#555;margin:.2em 0}\
table{border-collapse:collapse;background:#fff;min-width:60%}\
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;white-space:nowrap}\
th{background:#eee}td.num{text-align:right}td.why{white-space:normal;color:#444}\
.badge{display:inline-block;padding:0 .5em;border-radius:3px;font-weight:600;color:#fff}\
.online,.up,.master{background:#2e7d32}.failed,.down,.fault{background:#c62828}\
.offline,.unknown,.initialize{background:#757575}.backup{background:#1565c0}\
.drain,.disabled,.maintenance{background:#ef6c00}.enabled{background:#9e9e9e}\
tr.state-failed td{background:#fdecea}tr.state-offline td{background:#f0f0f0}\
.sorry{color:#c62828;font-weight:600}";

/// The whole page for one status snapshot.
pub fn render(status: &StatusView) -> String {
    let mut h = String::with_capacity(8192);
    let director = escape(&status.director);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">\
         <title>lbd {director}: cluster status</title><style>{STYLE}</style></head><body>\n\
         <h1>LVS director {director}</h1>\n<p class=\"at\">snapshot {} &middot; refreshes every {REFRESH_SECONDS}s</p>\n",
        utc_text(status.at_ms)
    );
    vrrp_table(&mut h, &status.vrrp);
    nodes_strip(&mut h, status);
    for s in &status.services {
        service_table(&mut h, s);
    }
    if status.services.is_empty() {
        h.push_str("<p>No virtual services configured.</p>\n");
    }
    h.push_str("</body></html>\n");
    h
}

/// A page saying the daemon could not be asked (served with 503).
pub fn render_error(message: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">\
         <title>lbd: status unavailable</title><style>{STYLE}</style></head><body>\n\
         <h1>Status unavailable</h1>\n<p class=\"error\">{}</p>\n</body></html>\n",
        escape(message)
    )
}

/// Every node once, with its state, before the per-service tables.
fn nodes_strip(h: &mut String, status: &StatusView) {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for rs in status.services.iter().flat_map(|s| &s.real_servers) {
        if !seen.iter().any(|(n, _)| *n == rs.node) {
            seen.push((&rs.node, &rs.node_state));
        }
    }
    if seen.is_empty() {
        return;
    }
    h.push_str("<h2>Nodes</h2>\n<p class=\"nodes\">");
    for (node, state) in seen {
        let _ = write!(
            h,
            "<span class=\"badge {}\" data-node=\"{}\" data-state=\"{}\">{} {}</span> ",
            class(state),
            escape(node),
            escape(state),
            escape(node),
            escape(state)
        );
    }
    h.push_str("</p>\n");
}

fn vrrp_table(h: &mut String, vrrp: &[VrrpView]) {
    h.push_str("<h2>VRRP</h2>\n");
    if vrrp.is_empty() {
        h.push_str("<p>No VRRP instance: this director holds its VIPs alone.</p>\n");
        return;
    }
    // The sync group column only where there are groups.
    let groups = vrrp.iter().any(|v| v.sync_group.is_some());
    h.push_str(
        "<table class=\"vrrp\"><thead><tr><th>instance</th><th>interface</th><th>VRID</th>\
         <th>state</th><th>priority</th><th>VIPs</th>",
    );
    if groups {
        h.push_str("<th>sync group</th>");
    }
    h.push_str("</tr></thead><tbody>\n");
    for v in vrrp {
        let prio = if v.priority == v.effective_priority {
            v.priority.to_string()
        } else {
            format!("{} (effective {})", v.priority, v.effective_priority)
        };
        let _ = write!(
            h,
            "<tr data-instance=\"{}\" data-state=\"{}\"><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td><span class=\"badge {}\">{}</span></td><td class=\"num\">{}</td><td>{}</td>",
            escape(&v.instance),
            escape(&v.state),
            escape(&v.instance),
            escape(&v.interface),
            v.vrid,
            class(&v.state),
            escape(&v.state),
            prio,
            escape(&v.vips.join(" ")),
        );
        if groups {
            let _ = write!(
                h,
                "<td>{}</td>",
                escape(v.sync_group.as_deref().unwrap_or("-"))
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table>\n");
}

fn service_table(h: &mut String, s: &ServiceView) {
    let _ = writeln!(
        h,
        "<section class=\"service\" data-service=\"{}\"><h2>{} &mdash; {}</h2>",
        escape(&s.name),
        escape(&s.name),
        escape(&s.virtual_service)
    );
    let persistence = match s.persistent {
        Some(t) => format!(" &middot; persistent {t}s"),
        None => String::new(),
    };
    let sorry = if s.sorry_active {
        " &middot; <span class=\"sorry\">sorry server active</span>"
    } else {
        ""
    };
    let kernel = if s.in_kernel {
        ""
    } else {
        " &middot; <span class=\"sorry\">not in the kernel table</span>"
    };
    let _ = writeln!(
        h,
        "<p class=\"meta\">scheduler {}{persistence} &middot; {} &middot; hostgroup {} &middot; {}/{} healthy ({}){sorry}{kernel}</p>",
        escape(&s.scheduler),
        escape(&s.forwarding),
        escape(&s.hostgroup),
        s.healthy,
        s.real_servers.len(),
        escape(&s.quorum_words),
    );
    h.push_str(
        "<table><thead><tr><th>node</th><th>real server</th><th>state</th><th>health</th>\
         <th>admin</th><th>weight</th><th>active</th><th>inactive</th><th>last check</th>\
         <th>why</th></tr></thead><tbody>\n",
    );
    for rs in &s.real_servers {
        real_server_row(h, rs);
    }
    h.push_str("</tbody></table></section>\n");
}

fn real_server_row(h: &mut String, rs: &RealServerView) {
    let weight = match (rs.weight, rs.kernel_weight) {
        (Some(w), Some(k)) if w == k => w.to_string(),
        (Some(w), Some(k)) => format!("{k} (want {w})"),
        (Some(w), None) => format!("&ndash; (want {w})"),
        (None, Some(k)) => format!("{k} (want out)"),
        (None, None) => "&ndash;".to_string(),
    };
    let check = match &rs.last_check {
        Some(c) => format!(
            "{} {}ms: {}",
            if c.ok { "ok" } else { "FAIL" },
            c.latency_ms,
            escape(&c.summary)
        ),
        None => "&ndash;".to_string(),
    };
    let _ = writeln!(
        h,
        "<tr class=\"node state-{}\" data-node=\"{}\" data-state=\"{}\"><td>{}</td><td>{}</td>\
         <td class=\"state\"><span class=\"badge {}\">{}</span></td>\
         <td><span class=\"badge {}\">{}</span></td><td><span class=\"badge {}\">{}</span></td>\
         <td class=\"num\">{weight}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td>{check}</td><td class=\"why\">{}</td></tr>",
        class(&rs.node_state),
        escape(&rs.node),
        escape(&rs.node_state),
        escape(&rs.node),
        escape(&rs.address),
        class(&rs.node_state),
        escape(&rs.node_state),
        class(&rs.health),
        escape(&rs.health),
        class(&rs.admin),
        escape(&rs.admin),
        rs.active_conns,
        rs.inactive_conns,
        escape(&rs.why),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::proto::CheckView;

    fn rs(node: &str, state: &str) -> RealServerView {
        RealServerView {
            node: node.into(),
            address: "198.51.100.11:80".into(),
            node_state: state.into(),
            health: "down".into(),
            admin: "enabled".into(),
            last_check: Some(CheckView {
                ok: false,
                summary: "HTTP 500 <oops>".into(),
                latency_ms: 4,
                at_ms: 0,
            }),
            weight: None,
            kernel_weight: None,
            active_conns: 0,
            inactive_conns: 0,
            why: "check failed".into(),
        }
    }

    #[test]
    fn escapes_everything_from_outside() {
        assert_eq!(
            escape(r#"<script>"a"&'b'</script>"#),
            "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;"
        );
        let status = StatusView {
            director: "<dir1>".into(),
            at_ms: 0,
            vrrp: vec![],
            services: vec![ServiceView {
                name: "h\"ttp".into(),
                virtual_service: "tcp 192.0.2.10:80".into(),
                scheduler: "wlc".into(),
                persistent: None,
                forwarding: "nat".into(),
                hostgroup: "http_nodes".into(),
                quorum: 1,
                healthy: 0,
                quorum_words: "quorum 1".into(),
                sorry_active: false,
                in_kernel: true,
                real_servers: vec![rs("rs1", "failed\" onmouseover=\"x")],
            }],
        };
        let page = render(&status);
        assert!(!page.contains("<dir1>"));
        assert!(!page.contains("<oops>"));
        assert!(!page.contains("\" onmouseover"));
        assert!(page.contains("data-state=\"failed&quot; onmouseover=&quot;x\""));
        assert!(page.contains("class=\"node state-failedonmouseoverx\""));
        assert!(!page.contains("<script"));
        assert!(!page.contains("<form"));
        assert!(page.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
    }

    #[test]
    fn a_sync_group_column_only_where_there_are_groups() {
        let view = |name: &str, group: Option<&str>| VrrpView {
            instance: name.into(),
            interface: "eth0".into(),
            vrid: 51,
            state: "master".into(),
            priority: 150,
            effective_priority: 150,
            vips: vec!["192.0.2.10/24".into()],
            drops: Default::default(),
            sync_group: group.map(str::to_string),
        };
        let page = |vrrp| {
            render(&StatusView {
                director: "dir1".into(),
                at_ms: 0,
                vrrp,
                services: vec![],
            })
        };
        let alone = page(vec![view("vi_51", None)]);
        assert!(!alone.contains("sync group"));
        let grouped = page(vec![
            view("vi_pub", Some("g1 (master)")),
            view("vi_other", None),
        ]);
        assert!(grouped.contains("<th>sync group</th>"));
        assert!(grouped.contains("<td>g1 (master)</td>"));
        assert!(
            grouped.contains("<td>-</td>"),
            "an instance outside any group"
        );
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_text(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_text(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_text(1_795_000_000_123), "2026-11-18 11:06:40 UTC");
    }
}
