import NodeCore
import Testing

// In the serialized suite: it switches the process-wide AVX-512 flag.
extension DenseKernelTests {
  /// The fused tanh-and-JVP pass's AVX-512 copy gives bitwise its AVX2 results,
  /// over widths with full and partial 16-lane blocks and 0–3 directions.
  @Test(.enabled(if: DenseKernel.avx512Available), arguments: [64, 40, 20, 13, 5])
  func tanhWithJVPAVX512IsBitwiseTheAVX2Pass(width: Int) {
    defer { DenseKernel.avx512Enabled = true }
    for blocks in [0, 1, 2, 3] {
      let x = TangentKernelTests.Padded(columns: width, seed: 11, scale: 3)
      let tangents = TangentKernelTests.Padded(columns: max(1, blocks) * width, seed: 12)
      DenseKernel.avx512Enabled = true
      let wide = TangentKernelTests.tanhOutputs(
        Float.self, x: x, tangents: tangents, blocks: blocks)
      DenseKernel.avx512Enabled = false
      let narrow = TangentKernelTests.tanhOutputs(
        Float.self, x: x, tangents: tangents, blocks: blocks)
      let label = "width \(width) blocks \(blocks)"
      let counts = [
        TangentKernelTests.differing(wide.y, narrow.y),
        TangentKernelTests.differing(wide.tangents, narrow.tangents),
      ]
      #expect(counts == [0, 0], "\(label): outputs, tangents differing: \(counts)")
    }
  }
}
