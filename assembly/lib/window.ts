// Static I/O windows: regions of linear memory reserved once and reused by every call. Kernels
// never allocate on hot paths; the TS side reads and writes the windows by pointer.
// All reservations go through the stub runtime's bump allocator so that nothing else can hand
// out the same bytes (the stub never frees). Growth detaches JS views: the TS side re-takes them.

/** Reserves `size` bytes, 16-byte aligned, zero-filled. */
export function reserve(size: usize): usize {
  const ptr = heap.alloc(size);
  memory.fill(ptr, 0, size);
  return ptr;
}
