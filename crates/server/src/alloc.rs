//! A counting global allocator: `used_memory` for INFO and the maxmemory levels.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

/// The system allocator, counting the bytes currently allocated.
pub struct CountingAllocator;

static ALLOCATED: AtomicU64 = AtomicU64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);

fn grew(bytes: u64) {
    let now = ALLOCATED.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grew(layout.size() as u64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        ALLOCATED.fetch_sub(layout.size() as u64, Ordering::Relaxed);
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grew(layout.size() as u64);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            grew(new_size as u64);
            ALLOCATED.fetch_sub(layout.size() as u64, Ordering::Relaxed);
        }
        p
    }
}

/// Bytes currently allocated through [`CountingAllocator`] (0 if it is not installed).
pub fn used_memory() -> u64 {
    ALLOCATED.load(Ordering::Relaxed)
}

/// The highest [`used_memory`] seen.
pub fn peak_memory() -> u64 {
    PEAK.load(Ordering::Relaxed)
}

/// Gives freed memory back to the system once `used_memory` has fallen to
/// half of what it was at the last return (or the highest since), by at
/// least 8 MiB: after a drain the allocator keeps freed pages in the middle
/// of its heap, which only `malloc_trim` returns. Called from the server's
/// 100 ms duties; `high` is the caller's record of that mark.
pub fn return_freed_memory(high: &mut u64) {
    let used = used_memory();
    *high = (*high).max(used);
    if used < *high / 2 && *high - used >= 8 << 20 {
        // SAFETY: glibc's malloc_trim only releases free pages of its heaps.
        #[cfg(target_env = "gnu")]
        unsafe {
            libc::malloc_trim(0);
        }
        *high = used;
    }
}

/// Resident set size of the process in bytes, from /proc (0 where unavailable).
pub fn rss_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    pages * 4096
}
