import Dispatch
import Synchronization

/// Shares numbered items among worker threads: each of `workers` threads takes
/// the next untaken item until none is left.
///
/// Which worker runs which item depends on timing; callers that need results
/// independent of the thread count keep one result slot per item and combine
/// the slots in item order afterwards (``ItemResults``).
public enum WorkSharing {
  /// Calls `body(worker, item)` once for every `item` in `0 ..< items`, on
  /// `workers` threads (worker `0 ..< workers`); returns when all are done.
  /// One worker runs every item on the calling thread.
  public static func run(
    items: Int, workers: Int, _ body: @escaping @Sendable (_ worker: Int, _ item: Int) -> Void
  ) {
    if workers <= 1 || items <= 1 {
      for item in 0..<items { body(0, item) }
      return
    }
    let next = Atomic<Int>(0)
    DispatchQueue.concurrentPerform(iterations: Swift.min(workers, items)) { worker in
      while true {
        let item = next.add(1, ordering: .relaxed).oldValue
        guard item < items else { return }
        body(worker, item)
      }
    }
  }
}

/// One result slot per item, written by worker threads, read once all are done.
public final class ItemResults<Value>: @unchecked Sendable {
  private var slots: [Value?]
  private let lock = Mutex(())

  /// `count` empty slots.
  public init(count: Int) { slots = Array(repeating: nil, count: count) }

  /// Stores item `index`'s result.
  public func store(_ index: Int, _ value: Value) {
    lock.withLock { _ in slots[index] = value }
  }

  /// The results in item order.
  ///
  /// - Precondition: every slot was stored.
  public func values() -> [Value] {
    lock.withLock { _ in slots.map { $0! } }
  }
}

/// A value handed to worker threads that only read it, or touch disjoint parts of it.
public struct UncheckedSendable<Value>: @unchecked Sendable {
  /// The value.
  public let value: Value
  /// Wraps `value`.
  public init(_ value: Value) { self.value = value }
}
