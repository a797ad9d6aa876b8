//! Decoding borrowed `&str` and `&[u8]` copies nothing: a counting allocator sees no
//! allocation between fetching the row and reading the values.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use pgtusk_tests::connect;

/// Counts allocations made by the current thread (other test threads do not interfere).
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// The test harness is a safe wrapper around the system allocator; the workspace denies unsafe
// code, and implementing GlobalAlloc cannot be done without it.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator, whose contract the caller keeps.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, i.e. from the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

#[tokio::test]
async fn borrowed_str_and_bytes_decode_without_allocating() {
    let mut conn = connect().await;
    let row = conn
        .fetch_one(
            "SELECT repeat('héllo', 1000), decode(repeat('ab', 5000), 'hex'), '{\"a\": 1}'::jsonb, 'x'::varchar",
            &[],
        )
        .await
        .unwrap();

    let before = allocations();
    let text: &str = row.get(0);
    let bytes: &[u8] = row.get(1);
    let jsonb: &str = row.get(2);
    let varchar: &str = row.get("varchar");
    let after = allocations();

    assert_eq!(after - before, 0, "borrowed decodes allocated");
    assert_eq!(text.len(), 6000);
    assert_eq!(bytes.len(), 5000);
    assert_eq!(jsonb, "{\"a\": 1}");
    assert_eq!(varchar, "x");

    // The counter works: an owned decode does allocate.
    let before = allocations();
    let owned: String = row.get(0);
    assert!(allocations() > before);
    assert_eq!(owned.len(), 6000);
}
