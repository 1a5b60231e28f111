//! Admission for the HTTP listener: slow clients never lock others out.
//!
//! A connection counts as *waiting* from its accept until its request head has been read. At
//! most [`Admission::new`]'s `max_waiting` connections wait at once: a new one evicts the
//! oldest waiting one (told through its [`Ticket`]), so clients that send their request as
//! soon as they connect (Prometheus, a browser, `curl`) are always served, however many
//! half-sent requests a local process holds open. A client must out-race a prompt one by
//! opening `max_waiting` connections within the time that one takes to send its request
//! line to evict it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// The waiting connections, oldest first.
#[derive(Clone)]
pub struct Admission {
    inner: Arc<Mutex<Waiting>>,
    max_waiting: usize,
}

#[derive(Default)]
struct Waiting {
    next: u64,
    by_age: BTreeMap<u64, oneshot::Sender<()>>,
}

/// One admitted connection's place in the queue of waiting ones (it leaves when dropped).
pub struct Ticket {
    id: u64,
    admission: Admission,
}

/// Completes with `Ok(())` when a newer connection evicted this one (with `Err` when the
/// connection was served or its ticket dropped: not an eviction).
pub type Evicted = oneshot::Receiver<()>;

impl Admission {
    /// An admission keeping at most `max_waiting` (at least 1) connections waiting.
    pub fn new(max_waiting: usize) -> Admission {
        Admission {
            inner: Arc::default(),
            max_waiting: max_waiting.max(1),
        }
    }

    /// Admits a new connection, evicting the oldest waiting ones beyond the limit; returns
    /// its ticket, its eviction notice and how many it evicted.
    pub fn admit(&self) -> (Ticket, Evicted, usize) {
        let (tx, rx) = oneshot::channel();
        let mut evicted = 0;
        let id = match self.inner.lock() {
            Ok(mut w) => {
                while w.by_age.len() >= self.max_waiting {
                    let Some((_, oldest)) = w.by_age.pop_first() else {
                        break;
                    };
                    let _ = oldest.send(());
                    evicted += 1;
                }
                let id = w.next;
                w.next += 1;
                w.by_age.insert(id, tx);
                id
            }
            Err(_) => u64::MAX,
        };
        let ticket = Ticket {
            id,
            admission: self.clone(),
        };
        (ticket, rx, evicted)
    }

    /// Evicts the oldest connection waiting since before `newer` was admitted; `false` when
    /// none does.
    pub fn evict_older_than(&self, newer: &Ticket) -> bool {
        let Ok(mut w) = self.inner.lock() else {
            return false;
        };
        match w.by_age.first_key_value() {
            Some((&id, _)) if id < newer.id => {
                if let Some(oldest) = w.by_age.remove(&id) {
                    let _ = oldest.send(());
                }
                true
            }
            _ => false,
        }
    }

    /// How many connections wait for their request head.
    pub fn waiting(&self) -> usize {
        self.inner.lock().map(|w| w.by_age.len()).unwrap_or(0)
    }

    fn leave(&self, id: u64) {
        if let Ok(mut w) = self.inner.lock() {
            w.by_age.remove(&id);
        }
    }
}

impl Ticket {
    /// The request head has been read: this connection no longer waits and is not evicted.
    pub fn served(&self) {
        self.admission.leave(self.id);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.leave(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot::error::TryRecvError;

    #[test]
    fn the_oldest_waiting_connection_is_evicted_first() {
        let a = Admission::new(2);
        let (_t1, mut e1, n) = a.admit();
        assert_eq!(n, 0);
        let (_t2, mut e2, _) = a.admit();
        let (_t3, mut e3, n) = a.admit();
        assert_eq!(n, 1);
        assert_eq!(e1.try_recv(), Ok(()));
        assert_eq!(e2.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(e3.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(a.waiting(), 2);
    }

    #[test]
    fn a_served_connection_is_never_evicted_and_leaves_room() {
        let a = Admission::new(1);
        let (t1, mut e1, _) = a.admit();
        t1.served();
        assert_eq!(a.waiting(), 0);
        let (t2, mut e2, n) = a.admit();
        assert_eq!(n, 0);
        // The served one's notice is closed, not an eviction.
        assert_eq!(e1.try_recv(), Err(TryRecvError::Closed));
        // Nothing waits from before t2; a later one may evict t2.
        assert!(!a.evict_older_than(&t2));
        let (t3, _e3, n) = a.admit();
        assert_eq!(n, 1);
        assert_eq!(e2.try_recv(), Ok(()));
        assert!(!a.evict_older_than(&t3));
    }

    #[test]
    fn a_dropped_ticket_leaves_the_queue() {
        let a = Admission::new(4);
        let (t1, mut e1, _) = a.admit();
        let (t2, _e2, _) = a.admit();
        drop(t1);
        assert_eq!(a.waiting(), 1);
        assert_eq!(e1.try_recv(), Err(TryRecvError::Closed));
        let (t3, _e3, _) = a.admit();
        assert!(a.evict_older_than(&t3));
        assert_eq!(a.waiting(), 1);
        drop((t2, t3));
        assert_eq!(a.waiting(), 0);
    }
}
