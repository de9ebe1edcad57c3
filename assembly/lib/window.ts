// Static I/O windows: regions of linear memory reserved once and reused by every call. Kernels
// never allocate on hot paths; the TS side reads and writes the windows by pointer.
// All reservations go through the stub runtime's bump allocator so that nothing else can hand
// out the same bytes (the stub never frees). Growth detaches JS views: the TS side re-takes them.

/**
 * Reserves `size` bytes, 16-byte aligned, zero-filled: the bump allocator only hands out memory
 * never used before, which wasm zeroes. Nothing writes it here, so the pages of a large window
 * stay uncommitted (out of the process's RSS) until a call really uses them.
 */
export function reserve(size: usize): usize {
  return heap.alloc(size);
}
