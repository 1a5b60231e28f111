//! The daemon's memory: glibc's malloc gives each thread that allocates its own arena, and each
//! arena keeps the high-water mark of what was ever allocated in it. The daemon's threads (the
//! event loop's workers, the check thread, blocking netlink calls) each build large transient
//! tables (a reconcile pass's desired table, a kernel dump) at 10,000 nodes, so every arena
//! grows to that size: 70–80 MB resident against a 38 MB heap peak. One arena keeps one
//! high-water mark: 53 MB, at no measured CPU cost, since the threads rarely allocate at the
//! same moment (`examples/daemon_bench` with and without `LBD_BENCH_MALLOC=glibc`,
//! BENCHMARKS.md). After a drift pass the freed pages go back to the system ([`trim`]).

/// Limits glibc's malloc to one arena. Call before any thread starts.
pub fn one_malloc_arena() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets a malloc tunable; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Gives the pages freed by a large pass back to the system.
pub fn trim() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}
