import NodeCore
import Testing

// In the serialized suite: it switches the process-wide AVX-512 flag.
extension DenseKernelTests {
  /// The gated kernel writing its product with streaming stores
  /// (``RowGate/streamsOutput``) gives bitwise the values of plain stores, on
  /// the AVX-512 path that streams (widths of whole 16-lane blocks, aligned
  /// rows) and where it falls back (a 40-wide row, AVX2), over every row
  /// remainder of the tiles, with and without shift and tanh (or its JVP).
  @Test(arguments: [(64, 64), (2, 64), (17, 48), (64, 32), (64, 40)])
  func streamedGateIsBitwiseThePlainOne(inputs: Int, outputs: Int) {
    defer { DenseKernel.avx512Enabled = true }
    for avx512 in [true, false] {
      DenseKernel.avx512Enabled = avx512
      for (per, gateRows) in [(1, 7), (2, 5), (3, 1), (1, 13)] {
        let problem = GatedDenseKernelTests.Problem(
          inputs: inputs, outputs: outputs, rows: gateRows * per, per: per)
        for shift in [false, true] {
          for (tanh, jvp) in [(false, false), (true, false), (true, true)] {
            let streamed = problem.run(shift: shift, tanh: tanh, jvp: jvp, streaming: true)
            let plain = problem.run(shift: shift, tanh: tanh, jvp: jvp)
            let counts = [
              TangentKernelTests.differing(streamed.y, plain.y),
              TangentKernelTests.differing(streamed.act, plain.act),
            ]
            #expect(
              counts == [0, 0],
              """
              \(inputs)→\(outputs) AVX-512 \(avx512) per \(per) rows \(gateRows * per) \
              shift \(shift) tanh \(tanh) jvp \(jvp): outputs, tanh differing: \(counts)
              """)
          }
        }
      }
    }
  }
}
