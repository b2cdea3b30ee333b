import CNodeKernels

/// The process's heap policy for training: large blocks come from the heap
/// and stay in it when freed, instead of each being mapped from the kernel
/// and unmapped again.
///
/// Training reuses its scratch buffers, but they grow while the number of
/// kept stage evaluations grows (the NFE rises as a flow trains), and glibc
/// by default maps every block of 128 KiB or more on its own and returns
/// freed memory at the heap's top: each regrowth then paid for fresh,
/// zero-filled pages. With the policy, blocks up to 32 MiB come from the heap
/// and up to 1 GiB of freed memory is kept for the next blocks; the peak
/// RSS of W1, W2 and W3 does not change. `node-dist` applies it at start.
public enum HeapRetention {
  /// Sets glibc's thresholds for the whole process.
  ///
  /// - Returns: whether glibc took them (false without glibc, where nothing changes).
  @discardableResult
  public static func apply() -> Bool {
    nd_retain_freed_heap(32 << 20, 1 << 30) == 1
  }
}
