//! The check runners' own thread: a current-thread tokio runtime on which every check runs.
//! Thousands of checks a second then wake no other thread: on a multi-threaded runtime the same
//! 10,000 TCP checks a second cost a sixth to a third more CPU (`examples/monitor_bench` with and
//! without `mt`, BENCHMARKS.md),
//! spent in wake-ups between workers. The daemon's event loop stays on its own runtime, so a
//! long reconcile pass never delays a check and a busy checker never delays the loop.

use std::future::Future;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The thread and its runtime; dropping it stops both (tasks still running are cancelled).
pub struct CheckThread {
    handle: tokio::runtime::Handle,
    stop: Option<oneshot::Sender<()>>,
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
        std::thread::Builder::new()
            .name("lbd-checks".into())
            .spawn(move || {
                rt.block_on(async {
                    let _ = stopped.await;
                });
            })?;
        Ok(CheckThread {
            handle,
            stop: Some(stop),
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_run_on_the_check_thread_and_stop_with_it() {
        let t = CheckThread::start().unwrap();
        let name = t.spawn(async { std::thread::current().name().map(str::to_string) });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(name).unwrap().as_deref(), Some("lbd-checks"));
        let forever = t.spawn(std::future::pending::<()>());
        drop(t);
        let err = rt.block_on(forever).unwrap_err();
        assert!(err.is_cancelled(), "{err}");
    }
}
