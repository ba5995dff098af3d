//! Process-wide settings the `onyxia-lite` binary makes before it serves. They belong to the
//! process, not to a platform, so the library never makes them on its own; embedders may call
//! [`tune`] too.

/// Raises the soft open-file limit to the hard one (every connection is a file; the common
/// default of 1,024 is far below what three listeners can be asked to hold), and makes the
/// allocator hand large freed blocks back to the system. Returns the open-file limit in force.
pub fn tune() -> u64 {
    return_large_blocks();
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
            open_file_limit()
        }
    }
}

/// The soft open-file limit of this process.
pub fn open_file_limit() -> u64 {
    rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
}

/// glibc raises its mmap threshold to the size of each large block freed, so later blocks of
/// that size (argon2's 19 MiB) come from per-thread arenas and are kept after they are freed.
/// A fixed threshold keeps every block of 1 MiB or more mmapped, returned to the system at once.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_blocks() {
    // SAFETY: mallopt only changes allocator tuning; it is called before any other thread
    // exists (the async runtime starts after), and 1 MiB is within glibc's accepted range.
    let accepted = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20) };
    if accepted != 1 {
        tracing::debug!("the allocator refused a fixed mmap threshold");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_blocks() {}

/// Hands memory the allocator holds free back to the system (glibc keeps what a burst of
/// requests freed in its arenas otherwise). Costs a walk of the heap: call it when load stops.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn return_free_memory() {
    // SAFETY: malloc_trim only releases free pages; it is safe to call from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn return_free_memory() {}
