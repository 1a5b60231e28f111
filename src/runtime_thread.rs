//! A named OS thread that runs one current-thread tokio runtime, for work that must never wait
//! on the daemon's event loop: the VRRP instances (`lbd-vrrp`, optionally at a real-time
//! priority, as keepalived's `vrrp_rt_priority`) and the health checks (`lbd-checks`).
//!
//! Why a thread of its own and not a task on the daemon's runtime: a task woken by the event
//! loop lands in that worker's LIFO slot, which no other worker may steal, so it waits for the
//! loop's current step to end (a reconcile pass over 50,000 real servers takes seconds in a
//! debug build under emulation). On its own runtime a VRRP timer fires when it is due, whatever
//! the loop is doing. Dropping the handle stops the runtime and joins the thread.

use std::future::Future;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The thread and its runtime.
pub struct RuntimeThread {
    name: String,
    handle: tokio::runtime::Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for RuntimeThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeThread")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Why a real-time priority could not be set.
#[derive(Debug, thiserror::Error)]
#[error("cannot run thread {thread} at real-time priority {priority} (SCHED_RR): {source}")]
pub struct PriorityError {
    pub thread: String,
    pub priority: u8,
    pub source: std::io::Error,
}

/// Puts the calling thread in SCHED_RR at `priority` (1-99).
fn set_rt_priority(priority: u8) -> std::io::Result<()> {
    let param = libc::sched_param {
        sched_priority: i32::from(priority),
    };
    // SAFETY: sched_setscheduler on the calling thread (pid 0) with a valid parameter struct.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_RR, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

impl RuntimeThread {
    /// Starts thread `name` with its runtime. With `rt_priority` the thread runs in SCHED_RR at
    /// that priority; when that is refused (no CAP_SYS_NICE) the thread still runs, at the
    /// normal priority, and the error is returned beside it for the caller to log.
    pub fn start(
        name: &str,
        rt_priority: Option<u8>,
    ) -> std::io::Result<(Self, Option<PriorityError>)> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let (prio_tx, prio_rx) = std::sync::mpsc::channel::<Option<std::io::Error>>();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let err = rt_priority.and_then(|p| set_rt_priority(p).err());
                let _ = prio_tx.send(err);
                rt.block_on(async {
                    let _ = stopped.await;
                });
                // Drops every task; blocking work still running is not waited for long.
                rt.shutdown_timeout(Duration::from_millis(500));
            })?;
        let prio_err = prio_rx.recv().ok().flatten().map(|source| PriorityError {
            thread: name.to_string(),
            priority: rt_priority.unwrap_or(0),
            source,
        });
        Ok((
            RuntimeThread {
                name: name.to_string(),
                handle,
                stop: Some(stop),
                thread: Some(thread),
            },
            prio_err,
        ))
    }

    /// Runs `task` on this thread's runtime.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(task)
    }

    /// The runtime's handle.
    pub fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }
}

impl Drop for RuntimeThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_run_on_the_named_thread_and_are_dropped_when_it_stops() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        struct SetOnDrop(Arc<AtomicBool>);
        impl Drop for SetOnDrop {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let (t, err) = RuntimeThread::start("lbd-test", None).unwrap();
        assert!(err.is_none());
        let name = t.spawn(async { std::thread::current().name().map(str::to_string) });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(name).unwrap().as_deref(), Some("lbd-test"));
        let dropped = Arc::new(AtomicBool::new(false));
        let held = SetOnDrop(dropped.clone());
        let forever = t.spawn(async move {
            let _held = held;
            std::future::pending::<()>().await;
        });
        // Let it start.
        std::thread::sleep(Duration::from_millis(50));
        drop(t);
        assert!(
            dropped.load(Ordering::SeqCst),
            "the task outlived the thread"
        );
        let err = rt.block_on(forever).unwrap_err();
        assert!(err.is_cancelled(), "{err}");
    }

    #[test]
    fn a_real_time_priority_is_set_or_reported() {
        let (t, err) = RuntimeThread::start("lbd-rt", Some(10)).unwrap();
        let policy = t.spawn(async {
            // SAFETY: sched_getscheduler of the calling thread.
            unsafe { libc::sched_getscheduler(0) }
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let policy = rt.block_on(policy).unwrap();
        match err {
            // Root with CAP_SYS_NICE: the thread runs round-robin.
            None => assert_eq!(policy, libc::SCHED_RR),
            // Without the capability: refused, said so, and the thread runs normally.
            Some(e) => {
                assert_eq!(policy, libc::SCHED_OTHER);
                let text = e.to_string();
                assert!(
                    text.contains("lbd-rt") && text.contains("SCHED_RR"),
                    "{text}"
                );
            }
        }
    }
}
