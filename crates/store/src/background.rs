//! Background work that can wait for an idle core: threads of it lower their own priority.
//!
//! Under load the two cores here are wanted by more threads than they hold. Work that nothing
//! waits for (copying WAL pages into the database file, freeing a committed batch) runs
//! beside the ingest writers, which every device's acknowledgement waits for, and took cores
//! from them at the same priority (BENCHMARKS.md, "SQLite's checkpoints at a lower
//! priority").

/// How much a background thread lowers its priority (its nice value this much more): any
/// thread may lower its own, no privilege needed.
pub const NICE: i32 = 10;

/// Lowers the calling thread's priority by [`NICE`]. On Linux a nice value is a thread's own
/// (`setpriority(2)`, "BUGS"); elsewhere it would lower the whole process, so it is left
/// alone there.
pub fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: neither call touches memory of ours; who = 0 is the calling thread.
        // getpriority returns the nice value itself, so -1 is an error only with errno set.
        let nice = unsafe {
            *libc::__errno_location() = 0;
            let current = libc::getpriority(libc::PRIO_PROCESS, 0);
            if current == -1 && *libc::__errno_location() != 0 {
                return;
            }
            (current + NICE).min(19)
        };
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) } != 0 {
            tracing::debug!(
                error = %std::io::Error::last_os_error(),
                "a background thread keeps its priority"
            );
        }
    }
}
