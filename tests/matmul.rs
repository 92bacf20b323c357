//! Integration test of the f32 product's allocation behaviour: after a first (warm-up) call, a product
//! of the same or smaller size allocates nothing, because the packing buffers are kept per thread.
use gradlab::kernels::matmul::{Gemm, sgemm};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts the allocations made by the current thread (other test threads do not interfere).
struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; the counter is a const-initialised
// thread-local, whose access never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

#[test]
fn warm_products_allocate_nothing() {
    // Sizes that exercise packed B, packed A (transposed A), several k blocks and ragged tiles; all
    // on this thread (the large one would go parallel on a bigger pool).
    let shapes = [(32, 64, 64, false), (131, 300, 517, false), (131, 300, 517, true), (7, 5, 3, false)];
    let big = 131 * 300 + 300 * 517;
    let a = vec![0.5f32; big];
    let b = vec![0.25f32; big];
    let mut c = vec![0.0f32; 131 * 517];
    let run = |c: &mut Vec<f32>| {
        for &(m, k, n, trans_a) in &shapes {
            let g = Gemm { trans_a, ..Gemm::new(m, k, n) };
            sgemm(&g, &a[..m * k], &b[..k * n], &mut c[..m * n]);
        }
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("pool");
    pool.install(|| {
        let first = allocations_during(|| run(&mut c));
        assert!(first > 0, "the first call should have grown the packing buffers (counter broken?)");
        let warm = allocations_during(|| run(&mut c));
        assert_eq!(warm, 0, "a warm product allocated {warm} times");
    });
}
