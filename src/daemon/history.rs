//! The event history on disk: `events.jsonl` in the state directory, one JSON record per line,
//! appended as the director numbers them, rewritten to the last [`HISTORY_CAP`] records when
//! it has grown to twice that. Lines that do not parse (a torn last line after a crash) are
//! skipped on reading; the director keeps the ring `lbctl events` reads.

use crate::control::proto::EventRecord;
use crate::director::HISTORY_CAP;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// The file name in the state directory.
pub const HISTORY_FILE: &str = "events.jsonl";

/// The open history file.
#[derive(Debug)]
pub struct HistoryFile {
    path: PathBuf,
    file: File,
    lines: usize,
    cap: usize,
}

/// Reads the last `cap` records of `path` (skipping lines that do not parse) and how many
/// lines it has.
fn read(path: &Path, cap: usize) -> io::Result<(VecDeque<EventRecord>, usize)> {
    let mut ring = VecDeque::new();
    let mut lines = 0;
    match File::open(path) {
        Ok(f) => {
            for line in BufReader::new(f).lines() {
                let line = line?;
                lines += 1;
                if let Ok(r) = serde_json::from_str::<EventRecord>(&line) {
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
    Ok((ring, lines))
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl HistoryFile {
    /// Opens the history of `state_dir`: the file and the records it holds (oldest first).
    pub fn open(state_dir: &Path) -> io::Result<(Self, Vec<EventRecord>)> {
        Self::open_with(state_dir, HISTORY_CAP)
    }

    /// [`HistoryFile::open`], keeping `cap` records.
    pub fn open_with(state_dir: &Path, cap: usize) -> io::Result<(Self, Vec<EventRecord>)> {
        let cap = cap.max(1);
        let path = state_dir.join(HISTORY_FILE);
        let (ring, lines) = read(&path, cap)?;
        let mut file = open_append(&path)?;
        // A line torn by a crash must not swallow the next record.
        let torn = std::fs::read(&path)?.last().is_some_and(|b| *b != b'\n');
        if torn {
            file.write_all(b"\n")?;
        }
        Ok((
            HistoryFile {
                path,
                file,
                lines,
                cap,
            },
            ring.into(),
        ))
    }

    /// Appends one record (rewriting the file first when it has grown to twice the ring).
    pub fn append(&mut self, r: &EventRecord) {
        if let Err(e) = self.try_append(r) {
            tracing::warn!(file = %self.path.display(), error = %e, "cannot append to the event history");
        }
    }

    fn try_append(&mut self, r: &EventRecord) -> io::Result<()> {
        if self.lines >= 2 * self.cap {
            let (ring, _) = read(&self.path, self.cap)?;
            let mut text = Vec::new();
            for old in &ring {
                serde_json::to_writer(&mut text, old)?;
                text.push(b'\n');
            }
            crate::state::write_atomic(&self.path, &text)?;
            self.lines = ring.len();
            self.file = open_append(&self.path)?;
        }
        let mut line = serde_json::to_vec(r)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.lines += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::proto::EventKind;

    fn rec(seq: u64) -> EventRecord {
        EventRecord {
            seq,
            at_ms: seq,
            kind: EventKind::Admin,
            message: format!("e{seq}"),
            node: None,
            service: None,
        }
    }

    #[test]
    fn records_survive_reopen_the_file_is_bounded_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (mut h, old) = HistoryFile::open_with(dir.path(), 3).unwrap();
        assert!(old.is_empty());
        for i in 1..=10 {
            h.append(&rec(i));
        }
        drop(h);
        let path = dir.path().join(HISTORY_FILE);
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(
            lines <= 6,
            "the file is rewritten at twice the ring: {lines} lines"
        );
        // A torn last line, as after a crash in the middle of an append.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"seq\":11,\"at").unwrap();
        let (mut h, old) = HistoryFile::open_with(dir.path(), 3).unwrap();
        let seqs: Vec<u64> = old.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, vec![8, 9, 10]);
        h.append(&rec(11));
        drop(h);
        let (_, old) = HistoryFile::open_with(dir.path(), 3).unwrap();
        assert_eq!(old.last().map(|r| r.seq), Some(11));
    }
}
