//! The event history as the director keeps it: node transitions, alerts, table operations with
//! their reason, reloads, VRRP role changes and operator actions, numbered with sequence numbers
//! that keep increasing across restarts, the last [`HISTORY_CAP`] in a ring for `lbctl events`.
//! Each new record is also an [`super::Effect::Record`]: the edge appends it to `events.jsonl`
//! and tells the followers.

use crate::control::proto::{EventKind, EventRecord};
use std::collections::VecDeque;

/// Records kept in memory (and, up to twice that, in `events.jsonl`).
pub const HISTORY_CAP: usize = 10_000;

/// The ring and the numbering.
#[derive(Debug, Default)]
pub struct History {
    ring: VecDeque<EventRecord>,
    cap: usize,
    seq: u64,
}

impl History {
    /// The history that was on disk (oldest first) and the last sequence number handed out
    /// (the larger of the file's and the state file's).
    pub fn new(records: Vec<EventRecord>, seq: u64, cap: usize) -> Self {
        let cap = cap.max(1);
        let seq = records.iter().map(|r| r.seq).fold(seq, u64::max);
        let mut ring: VecDeque<EventRecord> = records.into();
        while ring.len() > cap {
            ring.pop_front();
        }
        History { ring, cap, seq }
    }

    /// The last sequence number handed out.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Numbers and keeps one record; returns it for the edge.
    pub fn record(
        &mut self,
        at_ms: u64,
        kind: EventKind,
        message: String,
        node: Option<String>,
        service: Option<String>,
    ) -> EventRecord {
        self.seq += 1;
        let r = EventRecord {
            seq: self.seq,
            at_ms,
            kind,
            message,
            node,
            service,
        };
        self.ring.push_back(r.clone());
        if self.ring.len() > self.cap {
            self.ring.pop_front();
        }
        r
    }

    /// Records after `since` (all if none), the last `limit` of them.
    pub fn query(&self, since: Option<u64>, limit: Option<usize>) -> Vec<EventRecord> {
        let all: Vec<&EventRecord> = self
            .ring
            .iter()
            .filter(|r| since.is_none_or(|s| r.seq > s))
            .collect();
        let skip = limit.map_or(0, |l| all.len().saturating_sub(l));
        all.into_iter().skip(skip).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_goes_on_and_the_ring_is_bounded() {
        let mut h = History::new(Vec::new(), 0, 3);
        for i in 0..10 {
            h.record(i, EventKind::Admin, format!("e{i}"), None, None);
        }
        let q = h.query(None, None);
        assert_eq!(q.len(), 3);
        assert_eq!(q[2].seq, 10);
        assert_eq!(h.query(Some(8), None).len(), 2);
        assert_eq!(h.query(None, Some(1))[0].seq, 10);
        // After a restart: numbering goes on after the larger of the file's and the state's.
        let again = History::new(q.clone(), 4, 3);
        assert_eq!(again.seq(), 10);
        let mut again = History::new(q, 41, 3);
        assert_eq!(
            again
                .record(0, EventKind::Admin, "x".into(), None, None)
                .seq,
            42
        );
    }
}
