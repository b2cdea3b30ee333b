import NodeCore
import Testing

@Suite struct HeapRetentionTests {
  /// glibc takes both thresholds (a build that compiled the call away, or
  /// a value out of glibc's range, fails here).
  @Test(.enabled(if: isGlibc)) func glibcTakesTheThresholds() {
    #expect(HeapRetention.apply())
  }
}

#if canImport(Glibc)
  private let isGlibc = true
#else
  private let isGlibc = false
#endif
