//! The control protocol between `lbctl` and `lbd`.
//!
//! Framing: newline-delimited JSON on the Unix control socket. The client writes one
//! [`Request`] line; the daemon answers with one [`Response`] line — or, for
//! `Events { follow: true }`, with one `Response::Event` line per event until the client
//! hangs up. Every view here is `Serialize`, so `lbctl --json` prints exactly what the daemon
//! sent. A request that does not parse gets `Response::Error { code: BadRequest }`, never a
//! dropped connection or a crash.

use serde::{Deserialize, Serialize};

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// VRRP roles and every service with its real servers (the `ipvsadm -Ln` view + why).
    Status,
    /// Every node with its state and per-service health.
    Nodes,
    /// Every virtual service with scheduler, persistence and real-server counts.
    Services,
    /// The event history (transitions, alerts, table operations); `follow` streams new ones.
    Events {
        #[serde(default)]
        since: Option<u64>,
        #[serde(default)]
        limit: Option<usize>,
        #[serde(default)]
        follow: bool,
    },
    /// Weight 0 for the node (in one service or all): no new connections, existing ones go on.
    Drain {
        node: String,
        #[serde(default)]
        service: Option<String>,
    },
    /// Out of the table (one service or all), checks go on.
    Disable {
        node: String,
        #[serde(default)]
        service: Option<String>,
    },
    /// Clears drain/disable (one service or all).
    Enable {
        node: String,
        #[serde(default)]
        service: Option<String>,
    },
    /// Maintenance: out of every table, alerts silenced; `on: false` ends it.
    Maintenance { node: String, on: bool },
    /// Re-read the configuration directory; the running one stays if the new one is invalid.
    Reload,
    /// What a reload would change in the kernel table (configuration vs kernel).
    Diff,
    /// The master of an instance (all if none named) steps down with priority 0.
    /// With `clear`, ends the hold a failover put on this director instead.
    Failover {
        #[serde(default)]
        instance: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        clear: bool,
    },
}

impl Request {
    /// The `cmd` word of the wire form, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Status => "status",
            Request::Nodes => "nodes",
            Request::Services => "services",
            Request::Events { .. } => "events",
            Request::Drain { .. } => "drain",
            Request::Disable { .. } => "disable",
            Request::Enable { .. } => "enable",
            Request::Maintenance { .. } => "maintenance",
            Request::Reload => "reload",
            Request::Diff => "diff",
            Request::Failover { .. } => "failover",
        }
    }

    /// Whether the request changes anything (needs root or the configured group).
    pub fn is_mutating(&self) -> bool {
        matches!(
            self,
            Request::Drain { .. }
                | Request::Disable { .. }
                | Request::Enable { .. }
                | Request::Maintenance { .. }
                | Request::Reload
                | Request::Failover { .. }
        )
    }
}

/// Parses one request line (without its newline); the error is the `BadRequest` message.
/// Never panics, whatever the bytes.
pub fn parse_request(line: &[u8]) -> Result<Request, String> {
    let text = std::str::from_utf8(line).map_err(|_| "request is not UTF-8".to_string())?;
    if text.trim().is_empty() {
        return Err("empty request".into());
    }
    serde_json::from_str(text).map_err(|e| format!("invalid request: {e}"))
}

/// What the daemon answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    Status(StatusView),
    Nodes {
        nodes: Vec<NodeView>,
    },
    Services {
        services: Vec<ServiceView>,
    },
    Events {
        events: Vec<EventRecord>,
    },
    /// One event of an `Events { follow: true }` stream. A struct variant: the record's own
    /// `kind` field would clash with the tag if it were flattened into it.
    Event {
        event: EventRecord,
    },
    /// The operations a reload would send, in ipvsadm-like words.
    Diff {
        ops: Vec<String>,
    },
    /// A mutating request succeeded.
    Done {
        message: String,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
}

impl Response {
    /// A short word for logs: `ok` or the error code.
    pub fn outcome(&self) -> &'static str {
        match self {
            Response::Error { code, .. } => code.as_str(),
            _ => "ok",
        }
    }

    /// An error response.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Response {
        Response::Error {
            code,
            message: message.into(),
        }
    }
}

/// Stable error classes; `lbctl` maps them to exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request did not parse.
    BadRequest,
    /// The peer may not do this (SO_PEERCRED).
    PermissionDenied,
    /// No such node, service or instance.
    NotFound,
    /// A reload found errors; the running configuration stays.
    ConfigInvalid,
    /// Anything else (kernel error, I/O).
    Failed,
    /// lbd is stopping (or restarting): its loop could not take the request. Try again.
    Unavailable,
}

impl ErrorCode {
    /// The wire word (`bad_request`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::NotFound => "not_found",
            ErrorCode::ConfigInvalid => "config_invalid",
            ErrorCode::Failed => "failed",
            ErrorCode::Unavailable => "unavailable",
        }
    }
}

/// `lbctl status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusView {
    pub director: String,
    /// Unix time of the snapshot, milliseconds.
    pub at_ms: u64,
    pub vrrp: Vec<VrrpView>,
    pub services: Vec<ServiceView>,
}

/// One VRRP instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VrrpView {
    pub instance: String,
    pub interface: String,
    pub vrid: u8,
    /// `initialize`, `backup`, `master`, `fault`.
    pub state: String,
    pub priority: u8,
    /// After tracking decrements.
    pub effective_priority: u8,
    pub vips: Vec<String>,
    /// Received VRRP packets dropped, by reason (`bad_ttl`, `bad_checksum`, `other_vrid`,
    /// `count_mismatch`, ...): only reasons seen.
    #[serde(default)]
    pub drops: std::collections::BTreeMap<String, u64>,
    /// The instance's sync group and the group's state: `g1 (master)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_group: Option<String>,
}

/// One virtual service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    pub name: String,
    /// `tcp 192.0.2.10:80` or `fwmark 1 ipv4`.
    #[serde(rename = "virtual")]
    pub virtual_service: String,
    pub scheduler: String,
    /// Persistence timeout in seconds.
    pub persistent: Option<u32>,
    pub forwarding: String,
    pub hostgroup: String,
    pub quorum: u32,
    /// The quorum in words: `quorum 2`, or `quorum weight 10 (hysteresis 2), 12 passing`.
    #[serde(default)]
    pub quorum_words: String,
    /// Real servers currently passing their checks.
    pub healthy: u32,
    /// Whether the sorry server is in the table (below quorum).
    pub sorry_active: bool,
    /// Whether the service is in the kernel table right now.
    pub in_kernel: bool,
    pub real_servers: Vec<RealServerView>,
}

/// One real server of a service: the `ipvsadm -Ln` line with the why next to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealServerView {
    pub node: String,
    /// `198.51.100.11:80`.
    pub address: String,
    /// `online`, `failed`, `offline`.
    pub node_state: String,
    /// This service's check on this node: `up`, `down`, `unknown`.
    pub health: String,
    /// `enabled`, `drain`, `disabled`, `maintenance`.
    pub admin: String,
    pub last_check: Option<CheckView>,
    /// The weight lbd wants (None: not in the table).
    pub weight: Option<i32>,
    /// The weight in the kernel table (None: absent).
    pub kernel_weight: Option<i32>,
    pub active_conns: u32,
    pub inactive_conns: u32,
    /// Why it is (or is not) in the table, in words.
    pub why: String,
}

/// The last check result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckView {
    pub ok: bool,
    pub summary: String,
    pub latency_ms: u64,
    /// Unix time, milliseconds.
    pub at_ms: u64,
}

/// `lbctl nodes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeView {
    pub name: String,
    pub address: String,
    pub hostgroups: Vec<String>,
    pub state: String,
    /// Unix time of the last state change, milliseconds.
    pub since_ms: u64,
    pub admin: String,
    pub services: Vec<NodeServiceView>,
}

/// A node's health in one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeServiceView {
    pub service: String,
    pub health: String,
    pub in_table: bool,
    pub admin: String,
}

/// One entry of the event history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Increasing sequence number (survives restarts: the history is in the state directory).
    pub seq: u64,
    /// Unix time, milliseconds.
    pub at_ms: u64,
    pub kind: EventKind,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// Event classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    NodeTransition,
    Alert,
    TableOp,
    Vrrp,
    Reload,
    Admin,
    Error,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_a_stable_wire_form() {
        let r: Request = serde_json::from_str(r#"{"cmd":"drain","node":"rs1"}"#).unwrap();
        assert_eq!(
            r,
            Request::Drain {
                node: "rs1".into(),
                service: None
            }
        );
        assert!(r.is_mutating());
        assert_eq!(
            serde_json::to_string(&Request::Status).unwrap(),
            r#"{"cmd":"status"}"#
        );
        assert!(!Request::Status.is_mutating());
        assert_eq!(r.name(), "drain");
    }

    #[test]
    fn every_response_round_trips() {
        let event = EventRecord {
            seq: 7,
            at_ms: 1,
            kind: EventKind::NodeTransition,
            message: "online -> failed".into(),
            node: Some("rs2".into()),
            service: None,
        };
        let all = [
            Response::Event {
                event: event.clone(),
            },
            Response::Events {
                events: vec![event],
            },
            Response::Nodes { nodes: vec![] },
            Response::Services { services: vec![] },
            Response::Diff {
                ops: vec!["-a -t 192.0.2.10:80".into()],
            },
            Response::Done {
                message: "ok".into(),
            },
            Response::error(ErrorCode::NotFound, "no node `rs9`"),
            Response::Status(StatusView {
                director: "dir1".into(),
                at_ms: 0,
                vrrp: vec![],
                services: vec![],
            }),
        ];
        for r in all {
            let wire = serde_json::to_string(&r).unwrap();
            let back: Response =
                serde_json::from_str(&wire).unwrap_or_else(|e| panic!("{e}: {wire}"));
            assert_eq!(back, r);
        }
        let wire = serde_json::to_string(&Response::Event {
            event: EventRecord {
                seq: 1,
                at_ms: 2,
                kind: EventKind::Alert,
                message: "m".into(),
                node: None,
                service: None,
            },
        })
        .unwrap();
        assert_eq!(
            wire,
            r#"{"kind":"event","event":{"seq":1,"at_ms":2,"kind":"alert","message":"m"}}"#
        );
    }

    #[test]
    fn error_codes_name_themselves_as_on_the_wire() {
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::PermissionDenied,
            ErrorCode::NotFound,
            ErrorCode::ConfigInvalid,
            ErrorCode::Failed,
        ] {
            let wire = serde_json::to_string(&code).unwrap();
            assert_eq!(wire, format!("\"{}\"", code.as_str()));
            assert_eq!(Response::error(code, "x").outcome(), code.as_str());
        }
    }

    #[test]
    fn request_names_match_the_wire_cmd() {
        let all = [
            Request::Status,
            Request::Nodes,
            Request::Services,
            Request::Events {
                since: None,
                limit: None,
                follow: false,
            },
            Request::Drain {
                node: "a".into(),
                service: None,
            },
            Request::Disable {
                node: "a".into(),
                service: None,
            },
            Request::Enable {
                node: "a".into(),
                service: None,
            },
            Request::Maintenance {
                node: "a".into(),
                on: true,
            },
            Request::Reload,
            Request::Diff,
            Request::Failover {
                instance: None,
                clear: false,
            },
        ];
        for r in all {
            let v: serde_json::Value = serde_json::to_value(&r).unwrap();
            assert_eq!(v["cmd"], r.name());
        }
    }

    #[test]
    fn bad_lines_are_explained() {
        assert_eq!(parse_request(b"  ").unwrap_err(), "empty request");
        assert_eq!(
            parse_request(&[0xff, 0xfe]).unwrap_err(),
            "request is not UTF-8"
        );
        assert!(parse_request(b"{\"cmd\":\"nuke\"}")
            .unwrap_err()
            .starts_with("invalid request: unknown variant `nuke`"));
        assert_eq!(
            parse_request(b"{\"cmd\":\"status\"}").unwrap(),
            Request::Status
        );
    }

    #[test]
    fn malformed_requests_are_errors() {
        for bad in [
            r#"{"cmd":"nuke"}"#,
            r#"{"cmd":"drain"}"#,
            "[]",
            "",
            r#"{"cmd":"drain","node":"rs1","x":1}"#,
        ] {
            assert!(serde_json::from_str::<Request>(bad).is_err(), "{bad}");
        }
    }
}
