//! The event history: node transitions, alerts, table operations with their reason, reloads and
//! operator actions, as [`EventRecord`]s. A bounded ring in memory, appended as JSON lines to
//! `events.jsonl` in the state directory (rewritten to the ring's size when it has grown to
//! twice that), and broadcast to followers (`lbctl events --follow`). Sequence numbers keep
//! increasing across restarts.

use crate::control::proto::{EventKind, EventRecord};
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use tokio::sync::broadcast;

/// The file name in the state directory.
pub const HISTORY_FILE: &str = "events.jsonl";

/// The history.
#[derive(Debug)]
pub struct History {
    ring: VecDeque<EventRecord>,
    cap: usize,
    seq: u64,
    path: PathBuf,
    file: Option<File>,
    lines: usize,
    tx: broadcast::Sender<EventRecord>,
}

impl History {
    /// Opens the history of `state_dir`, keeping the last `cap` records. Lines that do not
    /// parse (a torn last line after a crash) are skipped. `min_seq` is the sequence number the
    /// state file remembered; numbering goes on after the larger of it and the file's.
    pub fn open(
        state_dir: &Path,
        cap: usize,
        min_seq: u64,
        tx: broadcast::Sender<EventRecord>,
    ) -> io::Result<Self> {
        let path = state_dir.join(HISTORY_FILE);
        let mut ring = VecDeque::new();
        let mut lines = 0;
        let mut seq = min_seq;
        match File::open(&path) {
            Ok(f) => {
                for line in BufReader::new(f).lines() {
                    let line = line?;
                    lines += 1;
                    if let Ok(r) = serde_json::from_str::<EventRecord>(&line) {
                        seq = seq.max(r.seq);
                        ring.push_back(r);
                        if ring.len() > cap {
                            ring.pop_front();
                        }
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut h = History {
            ring,
            cap: cap.max(1),
            seq,
            path,
            file: None,
            lines,
            tx,
        };
        h.reopen()?;
        // A line torn by a crash must not swallow the next record.
        let torn = std::fs::read(&h.path)?.last().is_some_and(|b| *b != b'\n');
        if let (true, Some(f)) = (torn, h.file.as_mut()) {
            f.write_all(b"\n")?;
        }
        Ok(h)
    }

    fn reopen(&mut self) -> io::Result<()> {
        self.file = Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?,
        );
        Ok(())
    }

    /// The last sequence number handed out.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Records one event: numbered, kept, appended to the file, broadcast.
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
        if let Err(e) = self.append(&r) {
            tracing::warn!(file = %self.path.display(), error = %e, "cannot append to the event history");
        }
        self.ring.push_back(r.clone());
        if self.ring.len() > self.cap {
            self.ring.pop_front();
        }
        let _ = self.tx.send(r.clone());
        r
    }

    fn append(&mut self, r: &EventRecord) -> io::Result<()> {
        if self.lines >= 2 * self.cap {
            let mut text = Vec::new();
            for old in &self.ring {
                serde_json::to_writer(&mut text, old)?;
                text.push(b'\n');
            }
            crate::state::write_atomic(&self.path, &text)?;
            self.lines = self.ring.len();
            self.reopen()?;
        }
        let mut line = serde_json::to_vec(r)?;
        line.push(b'\n');
        if let Some(f) = self.file.as_mut() {
            f.write_all(&line)?;
        }
        self.lines += 1;
        Ok(())
    }

    /// Records after `since` (all if none), the last `limit` of them.
    pub fn query(&self, since: Option<u64>, limit: Option<usize>) -> Vec<EventRecord> {
        let all: Vec<EventRecord> = self
            .ring
            .iter()
            .filter(|r| since.is_none_or(|s| r.seq > s))
            .cloned()
            .collect();
        match limit {
            Some(l) if l < all.len() => all[all.len() - l..].to_vec(),
            _ => all,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_survives_reopen_and_the_ring_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = broadcast::channel(16);
        let mut h = History::open(dir.path(), 3, 0, tx.clone()).unwrap();
        for i in 0..10 {
            h.record(i, EventKind::Admin, format!("e{i}"), None, None);
        }
        assert_eq!(rx.try_recv().unwrap().message, "e0");
        let q = h.query(None, None);
        assert_eq!(q.len(), 3);
        assert_eq!(q[2].seq, 10);
        assert_eq!(h.query(Some(8), None).len(), 2);
        assert_eq!(h.query(None, Some(1))[0].seq, 10);
        drop(h);
        // A torn last line, as after a crash in the middle of an append.
        let path = dir.path().join(HISTORY_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"seq\":11,\"at").unwrap();
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(
            lines <= 7,
            "the file is rewritten at twice the ring: {lines} lines"
        );
        let mut h = History::open(dir.path(), 3, 0, tx).unwrap();
        assert_eq!(h.seq(), 10);
        let r = h.record(20, EventKind::Reload, "r".into(), None, None);
        assert_eq!(r.seq, 11);
        assert_eq!(h.query(None, None).len(), 3);
    }

    #[test]
    fn the_state_file_sequence_wins_when_larger() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, _rx) = broadcast::channel(4);
        let mut h = History::open(dir.path(), 10, 41, tx).unwrap();
        assert_eq!(
            h.record(0, EventKind::Admin, "x".into(), None, None).seq,
            42
        );
    }
}
