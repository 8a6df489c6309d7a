//! A counting global allocator: every allocation (and reallocation) is counted, split into the
//! bench's main thread and every other thread (the runtime's callback thread among them).
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Counting;

static ALL: AtomicU64 = AtomicU64::new(0);
static OFF_MAIN: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // `const` initialiser and no destructor: usable from inside the allocator.
    static IS_MAIN: Cell<bool> = const { Cell::new(false) };
}

/// Mark the calling thread as the bench's main thread.
pub fn mark_main_thread() {
    IS_MAIN.with(|m| m.set(true));
}

fn count() {
    ALL.fetch_add(1, Ordering::Relaxed);
    if !IS_MAIN.try_with(Cell::get).unwrap_or(false) {
        OFF_MAIN.fetch_add(1, Ordering::Relaxed);
    }
}

/// Allocations so far: (all threads, threads other than the main one).
#[derive(Clone, Copy, Debug)]
pub struct Snapshot {
    pub all: u64,
    pub off_main: u64,
}

pub fn snapshot() -> Snapshot {
    Snapshot {
        all: ALL.load(Ordering::Relaxed),
        off_main: OFF_MAIN.load(Ordering::Relaxed),
    }
}

impl Snapshot {
    pub fn since(self, before: Snapshot) -> Snapshot {
        Snapshot {
            all: self.all - before.all,
            off_main: self.off_main - before.off_main,
        }
    }
}

// SAFETY: every method forwards to the system allocator with the caller's arguments unchanged;
// counting touches only atomics and a const-initialised thread-local without a destructor, so
// it never allocates or re-enters the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded as received (GlobalAlloc contract).
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }
}
