//! A small allocator for the shipped wasm (dlmalloc is ~6 KB of code): blocks
//! are powers of two from 8 bytes up, each size class keeps a free list, and
//! new blocks are cut from the end of the heap (grown with `memory.grow`).
//! A tracker's allocations are strings and small vectors that come and go in
//! similar sizes, so a freed block is soon reused; the rounding costs at most
//! half the memory of a block, never a search.
use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

const CLASSES: usize = 32;
const PAGE: usize = 65_536;

struct State {
    free: [usize; CLASSES],
    next: usize,
    end: usize,
}

pub struct Heap(UnsafeCell<State>);

// SAFETY: the wasm module runs on one thread (no shared memory, no workers).
unsafe impl Sync for Heap {}

impl Heap {
    pub const fn new() -> Self {
        Heap(UnsafeCell::new(State {
            free: [0; CLASSES],
            next: 0,
            end: 0,
        }))
    }
}

impl Default for Heap {
    fn default() -> Self {
        Self::new()
    }
}

/// The size class of a layout: blocks of `1 << class` bytes, at least 8.
#[inline(always)]
fn class_of(layout: &Layout) -> usize {
    let size = layout.size().max(layout.align()).max(8);
    (usize::BITS - (size - 1).leading_zeros()) as usize
}

unsafe impl GlobalAlloc for Heap {
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let class = class_of(&layout);
        if class >= CLASSES || layout.align() > 16 {
            return core::ptr::null_mut();
        }
        let st = &mut *self.0.get();
        let head = st.free[class];
        if head != 0 {
            st.free[class] = *(head as *const usize);
            return head as *mut u8;
        }
        let bytes = 1usize << class;
        let align = bytes.min(16);
        loop {
            let start = (st.next + align - 1) & !(align - 1);
            if st.end >= start && st.end - start >= bytes {
                st.next = start + bytes;
                return start as *mut u8;
            }
            let pages = bytes.div_ceil(PAGE);
            let prev = core::arch::wasm32::memory_grow(0, pages);
            if prev == usize::MAX {
                return core::ptr::null_mut();
            }
            if prev * PAGE != st.end {
                st.next = prev * PAGE;
            }
            st.end = (prev + pages) * PAGE;
        }
    }

    #[inline(never)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let class = class_of(&layout) & (CLASSES - 1);
        let st = &mut *self.0.get();
        *(ptr as *mut usize) = st.free[class];
        st.free[class] = ptr as usize;
    }

    #[inline(never)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        if class_of(&new_layout) == class_of(&layout) {
            return ptr;
        }
        let new = self.alloc(new_layout);
        if !new.is_null() {
            core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        new
    }
}
