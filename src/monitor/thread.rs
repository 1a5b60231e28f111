//! The check runners' own thread (`lbd-checks`): a current-thread tokio runtime on which every
//! check runs. Thousands of checks a second then wake no other thread: on a multi-threaded
//! runtime the same 10,000 TCP checks a second cost a sixth to a third more CPU
//! (`examples/monitor_bench` with and without `mt`, BENCHMARKS.md), spent in wake-ups between
//! workers. The daemon's event loop stays on its own runtime, so a long reconcile pass never
//! delays a check and a busy checker never delays the loop.

use crate::runtime_thread::RuntimeThread;
use std::future::Future;
use tokio::task::JoinHandle;

/// The thread and its runtime; dropping it stops both and returns once the tasks still running
/// are dropped (an external monitor still running is killed with its process group then).
#[derive(Debug)]
pub struct CheckThread(RuntimeThread);

impl CheckThread {
    /// Starts the thread `lbd-checks`.
    pub fn start() -> std::io::Result<Self> {
        RuntimeThread::start("lbd-checks", None).map(|(t, _)| CheckThread(t))
    }

    /// Runs `task` on the check thread.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.spawn(task)
    }
}
