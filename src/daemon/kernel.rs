//! The kernel's IPVS table at the edge: a [`Kernel`] (the real [`IpvsClient`], or a
//! [`FakeKernel`] for tests) owned by a thread of its own, `lbd-kernel`, which carries out the
//! director's dumps and batches in the order they were asked for and sends the results back
//! to the event loop. A dump of 50,000 real servers or the apply of a whole table never
//! blocks the loop: requests, checks and signals are handled meanwhile. A batch is applied in
//! chunks of [`APPLY_CHUNK`]; when the daemon stops, what is left of it is not sent (the next
//! start adopts what is there and sends the rest).

use crate::director::{Batch, Refused};
use crate::ipvs::{ApplyReport, IpvsClient, IpvsError, Op, ServiceEntry};
use crate::reconcile::{patch, Table};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A batch is applied at most this many operations per call into the kernel (and the thread
/// looks for a stop between two calls).
pub const APPLY_CHUNK: usize = 2000;

/// Something that holds an IPVS table.
pub trait Kernel: Send {
    /// The whole table.
    fn dump(&mut self) -> Result<Vec<ServiceEntry>, IpvsError>;
    /// Sends `ops` in order.
    fn apply(&mut self, ops: &[Op]) -> Result<ApplyReport, IpvsError>;
    /// Mutating operations sent so far.
    fn mutating(&self) -> u64;
}

impl Kernel for IpvsClient {
    fn dump(&mut self) -> Result<Vec<ServiceEntry>, IpvsError> {
        IpvsClient::dump(self)
    }

    fn apply(&mut self, ops: &[Op]) -> Result<ApplyReport, IpvsError> {
        IpvsClient::apply(self, ops)
    }

    fn mutating(&self) -> u64 {
        self.counters().mutating
    }
}

/// A table in memory that behaves like the kernel's for the operations the daemon sends (for
/// fast tests; the kernel tests use the real thing).
#[derive(Debug, Default, Clone)]
pub struct FakeKernel {
    pub table: Table,
    pub mutating: u64,
    /// Every operation applied, in order.
    pub log: Vec<Op>,
    /// Active and inactive connections that dumps report, by real-server address and port.
    pub conns: BTreeMap<(std::net::IpAddr, u16), (u32, u32)>,
}

impl Kernel for FakeKernel {
    fn dump(&mut self) -> Result<Vec<ServiceEntry>, IpvsError> {
        Ok(self
            .table
            .services
            .values()
            .map(|s| ServiceEntry {
                service: s.service.clone(),
                stats: Default::default(),
                dests: s
                    .dests
                    .values()
                    .map(|d| crate::ipvs::DestEntry {
                        dest: d.clone(),
                        active_conns: self.conns.get(&(d.addr, d.port)).map_or(0, |c| c.0),
                        inactive_conns: self.conns.get(&(d.addr, d.port)).map_or(0, |c| c.1),
                        persistent_conns: 0,
                        stats: Default::default(),
                    })
                    .collect(),
            })
            .collect())
    }

    fn apply(&mut self, ops: &[Op]) -> Result<ApplyReport, IpvsError> {
        for op in ops {
            patch(&mut self.table, op);
            self.log.push(op.clone());
        }
        self.mutating += ops.len() as u64;
        Ok(ApplyReport {
            sent: ops.len(),
            sendmsgs: ops.len().div_ceil(256),
            failures: Vec::new(),
        })
    }

    fn mutating(&self) -> u64 {
        self.mutating
    }
}

/// A kernel shared with a test that looks at it while the daemon runs.
#[derive(Debug, Clone, Default)]
pub struct SharedKernel(pub Arc<std::sync::Mutex<FakeKernel>>);

impl SharedKernel {
    fn lock(&self) -> std::sync::MutexGuard<'_, FakeKernel> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The operations applied since the last call.
    pub fn take_ops(&self) -> Vec<Op> {
        std::mem::take(&mut self.lock().log)
    }

    /// The table now.
    pub fn table(&self) -> Table {
        self.lock().table.clone()
    }

    /// Sets the connection counters a dump reports for a real server.
    pub fn set_conns(&self, addr: std::net::IpAddr, port: u16, active: u32, inactive: u32) {
        self.lock().conns.insert((addr, port), (active, inactive));
    }
}

impl Kernel for SharedKernel {
    fn dump(&mut self) -> Result<Vec<ServiceEntry>, IpvsError> {
        self.lock().dump()
    }
    fn apply(&mut self, ops: &[Op]) -> Result<ApplyReport, IpvsError> {
        self.lock().apply(ops)
    }
    fn mutating(&self) -> u64 {
        self.lock().mutating
    }
}

/// What the thread sends back.
#[derive(Debug)]
pub enum Done {
    Dumped(Result<Vec<ServiceEntry>, String>),
    Applied {
        id: u64,
        refused: Vec<Refused>,
        /// The index from which nothing was sent (socket failed, or stopping).
        unsent: Option<usize>,
        error: Option<String>,
        /// The errno name of each refused operation, by index (for the metrics).
        errors: Vec<(usize, String)>,
        took: Duration,
    },
}

enum Job {
    Dump,
    Apply(Batch),
}

/// The kernel thread.
pub struct KernelThread {
    jobs: std_mpsc::Sender<Job>,
    stop: Arc<AtomicBool>,
    mutating: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn apply(kernel: &mut dyn Kernel, batch: &Batch, stop: &AtomicBool) -> Done {
    let t0 = Instant::now();
    let ops: Vec<Op> = batch.changes.iter().map(|c| c.op.clone()).collect();
    let mut refused = Vec::new();
    let mut errors = Vec::new();
    let mut unsent = None;
    let mut error = None;
    for (c, chunk) in ops.chunks(APPLY_CHUNK).enumerate() {
        let base = c * APPLY_CHUNK;
        if c > 0 && stop.load(Ordering::Relaxed) {
            unsent = Some(base);
            error = Some("lbd is stopping".to_string());
            break;
        }
        match kernel.apply(chunk) {
            Ok(r) => {
                for f in r.failures {
                    errors.push((base + f.index, f.error.errno_label().to_string()));
                    refused.push(Refused {
                        index: base + f.index,
                        error: f.error.to_string(),
                    });
                }
            }
            Err(e) => {
                unsent = Some(base);
                error = Some(e.to_string());
                break;
            }
        }
    }
    Done::Applied {
        id: batch.id,
        refused,
        unsent,
        error,
        errors,
        took: t0.elapsed(),
    }
}

impl KernelThread {
    /// Starts `lbd-kernel` over `kernel`; results go to `done`.
    pub fn start(
        mut kernel: Box<dyn Kernel>,
        done: mpsc::UnboundedSender<Done>,
    ) -> std::io::Result<Self> {
        let (jobs, rx) = std_mpsc::channel::<Job>();
        let stop = Arc::new(AtomicBool::new(false));
        let mutating = Arc::new(AtomicU64::new(kernel.mutating()));
        let (stop2, mutating2) = (stop.clone(), mutating.clone());
        let thread = std::thread::Builder::new()
            .name("lbd-kernel".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    let result = match job {
                        Job::Dump => Done::Dumped(kernel.dump().map_err(|e| e.to_string())),
                        Job::Apply(batch) => apply(kernel.as_mut(), &batch, &stop2),
                    };
                    mutating2.store(kernel.mutating(), Ordering::Relaxed);
                    if done.send(result).is_err() {
                        break;
                    }
                }
            })?;
        Ok(KernelThread {
            jobs,
            stop,
            mutating,
            thread: Some(thread),
        })
    }

    pub fn dump(&self) {
        let _ = self.jobs.send(Job::Dump);
    }

    pub fn apply(&self, batch: Batch) {
        let _ = self.jobs.send(Job::Apply(batch));
    }

    /// Mutating operations the kernel client has sent so far (as of the last finished job).
    pub fn mutating(&self) -> u64 {
        self.mutating.load(Ordering::Relaxed)
    }

    /// A batch being applied stops after its current chunk; queued jobs are still run (and
    /// batches queued after this are not sent past their first chunk).
    pub fn stopping(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The flag [`KernelThread::stopping`] sets, for a watcher that sets it from elsewhere.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }
}

impl Drop for KernelThread {
    /// The thread ends when its queue is empty; it is not waited for (a dump of a big table
    /// may still be running when the daemon exits).
    fn drop(&mut self) {
        self.stopping();
        drop(self.thread.take());
    }
}
