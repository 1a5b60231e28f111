//! The check runners' own thread: a current-thread tokio runtime on which every check runs.
//! Thousands of checks a second then wake no other thread: on a multi-threaded runtime the same
//! 10,000 TCP checks a second cost a sixth to a third more CPU (`examples/monitor_bench` with and
//! without `mt`, BENCHMARKS.md),
//! spent in wake-ups between workers. The daemon's event loop stays on its own runtime, so a
//! long reconcile pass never delays a check and a busy checker never delays the loop.

use std::future::Future;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The thread and its runtime; dropping it stops both and returns once the tasks still running
/// are dropped (an external monitor still running is killed with its process group then).
pub struct CheckThread {
    handle: tokio::runtime::Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for CheckThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckThread").finish_non_exhaustive()
    }
}

impl CheckThread {
    /// Starts the thread `lbd-checks`.
    pub fn start() -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("lbd-checks".into())
            .spawn(move || {
                rt.block_on(async {
                    let _ = stopped.await;
                });
                // Drops every task; blocking work still running is not waited for long.
                rt.shutdown_timeout(Duration::from_millis(500));
            })?;
        Ok(CheckThread {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Runs `task` on the check thread.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(task)
    }
}

impl Drop for CheckThread {
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
    fn tasks_run_on_the_check_thread_and_are_dropped_when_it_stops() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        struct SetOnDrop(Arc<AtomicBool>);
        impl Drop for SetOnDrop {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let t = CheckThread::start().unwrap();
        let name = t.spawn(async { std::thread::current().name().map(str::to_string) });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(name).unwrap().as_deref(), Some("lbd-checks"));
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
}
